import { StdoutSink } from '../../runtime/stdout-sink';

test('StdoutSink writes one JSON line per datum with cluster, metric, value, unit and ISO time', async () => {
  const lines: string[] = [];
  const sink = new StdoutSink('prod', (l) => lines.push(l));
  const timestamp = new Date('2026-11-25T12:00:00Z');
  await sink.publish([
    { metricName: 'eniAllocated', unit: 'Count', value: 12, timestamp },
    { metricName: 'awsAPILatency', unit: 'Milliseconds', value: 41.5, timestamp },
  ]);
  expect(lines.map((l) => JSON.parse(l))).toEqual([
    { timestamp: '2026-11-25T12:00:00.000Z', cluster: 'prod', metric: 'eniAllocated', value: 12, unit: 'Count' },
    { timestamp: '2026-11-25T12:00:00.000Z', cluster: 'prod', metric: 'awsAPILatency', value: 41.5, unit: 'Milliseconds' },
  ]);
  expect(lines.every((l) => l.endsWith('\n'))).toBe(true);
});

test('StdoutSink prints extra dimensions when a datum has them, and only then', async () => {
  const lines: string[] = [];
  const sink = new StdoutSink('prod', (l) => lines.push(l));
  const timestamp = new Date('2026-11-25T12:00:00Z');
  await sink.publish([
    { metricName: 'subnetAvailableIPs', unit: 'Count', value: 250, timestamp, dimensions: { SubnetId: 'subnet-0a', AvailabilityZone: 'eu-west-1a' } },
    { metricName: 'minSubnetAvailableIPs', unit: 'Count', value: 250, timestamp },
  ]);
  expect(lines.map((l) => JSON.parse(l))).toEqual([
    {
      timestamp: '2026-11-25T12:00:00.000Z', cluster: 'prod', metric: 'subnetAvailableIPs', value: 250, unit: 'Count',
      dimensions: { SubnetId: 'subnet-0a', AvailabilityZone: 'eu-west-1a' },
    },
    { timestamp: '2026-11-25T12:00:00.000Z', cluster: 'prod', metric: 'minSubnetAvailableIPs', value: 250, unit: 'Count' },
  ]);
});

/**
 * Subnet metrics end to end: the bundled collector with SUBNET_IDS reads the subnets from a
 * loopback EC2 endpoint (AWS_ENDPOINT_URL_EC2, the real SDK's query protocol) and CloudWatch
 * receives one subnetAvailableIPs per subnet with its SubnetId and AvailabilityZone, and the minimum.
 */
import { CLUSTER_DIMENSION } from '../../common/catalog';
import type { ReceivedDatum } from '../support/cloudwatch-server';
import { startCollector } from '../support/collector-process';
import { startEc2Server, type Ec2Server } from '../support/ec2-server';
import { CLUSTER_ID, LoopbackCluster, NODE_A, NODE_B, logsNamed, printedDatums, startLoopbackCluster, waitFor } from '../support/loopback-cluster';

const SUBNETS = [
  { subnetId: 'subnet-0a1b2c3d4e5f60718', availabilityZone: 'us-east-1a', availableIps: 4011 },
  { subnetId: 'subnet-1a2b3c4d', availabilityZone: 'us-east-1b', availableIps: 37 },
  { subnetId: 'subnet-0fedcba9876543210', availabilityZone: 'us-east-1c', availableIps: 250 },
];
/** Watched, but EC2 no longer has it (deleted): published for none. */
const DELETED = 'subnet-0000000000000dead';

describe('bundled collector: subnet metrics', () => {
  let cluster: LoopbackCluster | undefined;
  let ec2: Ec2Server | undefined;
  afterEach(async () => {
    await Promise.all([cluster?.stop(), ec2?.close()]);
    cluster = undefined;
    ec2 = undefined;
  });

  test('each cycle publishes every found subnet with CLUSTER_ID, SubnetId and AvailabilityZone, and the fewest free IPs', async () => {
    // GIVEN an EC2 endpoint with three subnets, and a collector watching them and one deleted subnet
    ec2 = await startEc2Server({ subnets: SUBNETS });
    cluster = await startLoopbackCluster([NODE_A, NODE_B], [], {
      SUBNET_IDS: [...SUBNETS.map((s) => s.subnetId), DELETED].join(','),
      AWS_ENDPOINT_URL_EC2: ec2.endpoint,
    });
    const run = startCollector(['--print'], cluster.env, 30_000);

    // WHEN three cycles carried subnet figures
    const subnetCycles = (): number[] => [...new Set(cluster!.cloudWatch.datums
      .filter((d) => d.MetricName === 'minSubnetAvailableIPs').map((d) => d.Timestamp!.getTime()))];
    await waitFor(() => subnetCycles().length >= 3, 20_000, 'three cycles with subnet figures', () => run.logs().map((l) => JSON.stringify(l)).join('\n'));
    run.child.kill('SIGTERM');
    expect(await run.exited).toBe(0);

    // THEN each such cycle holds exactly the three found subnets, with their dimensions in order, and the minimum 37
    const stored = cluster.cloudWatch.datums;
    for (const time of subnetCycles()) {
      const perSubnet = stored.filter((d) => d.MetricName === 'subnetAvailableIPs' && d.Timestamp!.getTime() === time);
      expect(perSubnet.map((d) => ({ dimensions: d.Dimensions, value: d.Value, unit: d.Unit }))).toEqual(SUBNETS.map((s) => ({
        dimensions: [
          { Name: CLUSTER_DIMENSION, Value: CLUSTER_ID },
          { Name: 'SubnetId', Value: s.subnetId },
          { Name: 'AvailabilityZone', Value: s.availabilityZone },
        ],
        value: s.availableIps,
        unit: 'Count',
      })));
      const min = stored.filter((d) => d.MetricName === 'minSubnetAvailableIPs' && d.Timestamp!.getTime() === time);
      expect(min.map((d) => [d.Value, d.Dimensions])).toEqual([[37, [{ Name: CLUSTER_DIMENSION, Value: CLUSTER_ID }]]]);
      // The subnet datums carry the cycle's own timestamp: the cycle's ipamd figures share it.
      expect(stored.some((d: ReceivedDatum) => d.MetricName === 'assignIPAddresses' && d.Timestamp!.getTime() === time)).toBe(true);
    }
    // AND the deleted subnet is named once in the log, never published
    expect(stored.some((d) => d.Dimensions.some((dim) => dim.Value === DELETED))).toBe(false);
    expect(logsNamed(run, 'watched subnets not found by DescribeSubnets (deleted, or not shared with this account); publishing the others'))
      .toEqual([expect.objectContaining({ missing: [DELETED] })]);
    // AND EC2 was asked with the real SDK's filter, signed for ec2 in the collector's region, once (refresh every 300 s)
    expect(ec2.requests.length).toBe(1);
    expect(ec2.requests[0]).toMatchObject({ action: 'DescribeSubnets', signedFor: { region: 'us-east-1', service: 'ec2' } });
    expect(ec2.requests[0].filters.get('subnet-id')).toEqual([...SUBNETS.map((s) => s.subnetId), DELETED]);
    // AND --print shows the same dimensions as CloudWatch stored
    const printed = printedDatums(run).filter((d) => d.metric === 'subnetAvailableIPs');
    expect(printed.length).toBeGreaterThanOrEqual(9);
    expect(printed[0].dimensions).toEqual({ SubnetId: SUBNETS[0].subnetId, AvailabilityZone: SUBNETS[0].availabilityZone });
  }, 40_000);

  test('without SUBNET_IDS no EC2 call is made and no subnet metric is published', async () => {
    ec2 = await startEc2Server({ subnets: SUBNETS });
    cluster = await startLoopbackCluster([NODE_A, NODE_B], [], { AWS_ENDPOINT_URL_EC2: ec2.endpoint });
    const run = startCollector(['--once'], cluster.env, 20_000);
    expect(await run.exited).toBe(0);
    expect(ec2.requests).toEqual([]);
    expect(cluster.cloudWatch.datums.filter((d) => d.MetricName.includes('ubnet'))).toEqual([]);
    expect(cluster.cloudWatch.datums.some((d) => d.MetricName === 'assignIPAddresses')).toBe(true);
  }, 30_000);

  test('a DescribeSubnets refused for lack of permission is logged with the fix and counted; the cycle goes on', async () => {
    // GIVEN EC2 answering UnauthorizedOperation (the role lacks ec2:DescribeSubnets)
    ec2 = await startEc2Server({ subnets: SUBNETS });
    ec2.injectFaults('unauthorized');
    cluster = await startLoopbackCluster([NODE_A, NODE_B], [], { SUBNET_IDS: SUBNETS[0].subnetId, AWS_ENDPOINT_URL_EC2: ec2.endpoint });
    const run = startCollector([], cluster.env, 20_000);
    await waitFor(() => cluster!.cloudWatch.datums.some((d) => d.MetricName === 'subnetRefreshErrors'), 15_000, 'subnetRefreshErrors stored');
    run.child.kill('SIGTERM');
    expect(await run.exited).toBe(0);
    // THEN one failure counted once, no subnet figure, ipamd figures published as usual
    const stored = cluster.cloudWatch.datums;
    expect(stored.filter((d) => d.MetricName === 'subnetRefreshErrors').map((d) => d.Value)).toEqual([1]);
    expect(stored.some((d) => d.MetricName === 'subnetAvailableIPs' || d.MetricName === 'minSubnetAvailableIPs')).toBe(false);
    expect(stored.some((d) => d.MetricName === 'assignIPAddresses')).toBe(true);
    expect(logsNamed(run, 'DescribeSubnets failed; keeping the last figures for at most two refresh periods')[0])
      .toMatchObject({ error: { hint: 'the collector\'s IAM identity needs ec2:DescribeSubnets' } });
  }, 30_000);
});

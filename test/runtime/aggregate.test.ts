import fc from 'fast-check';
import { ClusterAggregator } from '../../runtime/aggregate';
import { CATALOG, catalogMetric, type CatalogMetric } from '../../common/catalog';
import type { ClusterDatum, NodeScrapeResult } from '../../runtime/types';
import { aggregateCycle } from './aggregator-cycle';
import { awsNodePod, failedNode, metrics, okNode } from './parsed-metrics-builder';

// Family names come from the catalog, the one place they are written.
const familyOf = (metricName: string): string => catalogMetric(metricName).family as string;
const ADD_REQ = familyOf('addReqCount');
const DEL_REQ = familyOf('delReqCount');
const EC2_REQ = familyOf('ec2ApiReqCount');
const AWS_API_ERR = familyOf('awsAPIErr');
const TOTAL_IPS = familyOf('totalIPAddresses');
const ASSIGNED_IPS = familyOf('assignIPAddresses');
const ENI_ALLOCATED = familyOf('eniAllocated');
const PER_CIDR = familyOf('totalAssignedIPv4sPerCidr');
const PREFIXES = familyOf('totalIPv4Prefixes');
const IN_PROGRESS = familyOf('ipamdActionInProgress');
const LATENCY = familyOf('awsAPILatency');

/** The start of cycle n: an hour after the default pods started, one minute apart. */
const cycleAt = (n: number): Date => new Date(Date.UTC(2026, 0, 1, 1, n));

function valueOf(datums: readonly ClusterDatum[], metricName: string): number | undefined {
  const found = datums.filter((d) => d.metricName === metricName);
  if (found.length > 1) throw new Error(`${metricName} appears ${found.length} times in one cycle`);
  return found[0]?.value;
}

/** A node whose only payload is one add-request counter value. */
const addReqNode = (nodeName: string, value: number, pod = {}): NodeScrapeResult =>
  okNode(nodeName, metrics().counter(ADD_REQ, value), pod);

describe('ClusterAggregator counters', () => {
  test('deltas are taken per node, not against one cluster-wide last value (upstream #3844, #1073)', () => {
    // GIVEN three nodes whose counters read 100/200/300
    const aggregator = new ClusterAggregator();
    aggregateCycle(aggregator, [addReqNode('a', 100), addReqNode('b', 200), addReqNode('c', 300)], cycleAt(0));
    // WHEN they read 110/220/330 a cycle later
    const datums = aggregateCycle(aggregator, [addReqNode('a', 110), addReqNode('b', 220), addReqNode('c', 330)], cycleAt(1));
    // THEN the cluster handled 10 + 20 + 30 requests (upstream's single last value gives garbage)
    expect(valueOf(datums, 'addReqCount')).toBe(60);
  });

  test('the first cycle is a baseline and publishes no counter', () => {
    const datums = aggregateCycle(new ClusterAggregator(), [addReqNode('a', 100), addReqNode('b', 7)], cycleAt(0));
    expect(valueOf(datums, 'addReqCount')).toBeUndefined();
    expect(datums.filter((d) => catalogMetric(d.metricName).aggregation === 'counterDelta')).toEqual([]);
  });

  test('a counter that dropped on one node counts from zero on that node only', () => {
    const aggregator = new ClusterAggregator();
    aggregateCycle(aggregator, [addReqNode('a', 100), addReqNode('b', 200)], cycleAt(0));
    // a's ipamd reset its counter and has handled 5 requests since; b handled 10
    const datums = aggregateCycle(aggregator, [addReqNode('a', 5), addReqNode('b', 210)], cycleAt(1));
    expect(valueOf(datums, 'addReqCount')).toBe(15);
  });

  test('a pod started after the node\'s last scrape counts every series from zero, even ones that grew', () => {
    const aggregator = new ClusterAggregator();
    aggregateCycle(aggregator, [addReqNode('a', 100), addReqNode('b', 200)], cycleAt(0));
    // GIVEN a's pod restarted (same name) after cycle 0 and already counted 150 requests
    const restartedAt = cycleAt(0).getTime() + 30_000;
    const datums = aggregateCycle(aggregator, 
      [addReqNode('a', 150, { startTimeMs: restartedAt }), addReqNode('b', 201)],
      cycleAt(1),
    );
    // THEN a contributes 150, not 150 - 100
    expect(valueOf(datums, 'addReqCount')).toBe(151);
  });

  test('a pod start already recorded at the last scrape is not a second restart (clock skew)', () => {
    // GIVEN a pod whose start time reads later than cycle 0's time (API server clock ahead)
    const aggregator = new ClusterAggregator();
    const startedAfterCycleTime = cycleAt(0).getTime() + 2_000;
    aggregateCycle(aggregator, [addReqNode('a', 100, { startTimeMs: startedAfterCycleTime })], cycleAt(0));
    // WHEN the same pod is scraped again with the start time seen at cycle 0
    const datums = aggregateCycle(aggregator, [addReqNode('a', 104, { startTimeMs: startedAfterCycleTime })], cycleAt(1));
    // THEN it is compared with cycle 0, not counted from zero
    expect(valueOf(datums, 'addReqCount')).toBe(4);
  });

  test('a replaced pod on a node counts from zero', () => {
    const aggregator = new ClusterAggregator();
    aggregateCycle(aggregator, [addReqNode('a', 100, { podName: 'aws-node-x1y2z' })], cycleAt(0));
    // The new pod's counter happens to be above the old one's: only the name tells it apart
    const datums = aggregateCycle(aggregator, [addReqNode('a', 120, { podName: 'aws-node-q9w8e' })], cycleAt(1));
    expect(valueOf(datums, 'addReqCount')).toBe(120);
  });

  test('a node seen for the first time gives a baseline, not its history', () => {
    const aggregator = new ClusterAggregator();
    aggregateCycle(aggregator, [addReqNode('a', 100)], cycleAt(0));
    const datums = aggregateCycle(aggregator, [addReqNode('a', 110), addReqNode('new', 5000)], cycleAt(1));
    expect(valueOf(datums, 'addReqCount')).toBe(10);
    expect(aggregator.trackedNodeCount).toBe(2);
    // AND from the next cycle on the new node counts
    const next = aggregateCycle(aggregator, [addReqNode('a', 111), addReqNode('new', 5003)], cycleAt(2));
    expect(valueOf(next, 'addReqCount')).toBe(4);
  });

  test('a node that vanished from discovery is forgotten and is a baseline again when it returns', () => {
    const aggregator = new ClusterAggregator();
    aggregateCycle(aggregator, [addReqNode('a', 100), addReqNode('b', 200)], cycleAt(0));
    // WHEN b is not discovered in cycle 1
    aggregateCycle(aggregator, [addReqNode('a', 110)], cycleAt(1));
    expect(aggregator.trackedNodeCount).toBe(1);
    // AND b comes back with a counter far above its old value
    const datums = aggregateCycle(aggregator, [addReqNode('a', 120), addReqNode('b', 900)], cycleAt(2));
    // THEN b is a baseline: only a's 10 count
    expect(valueOf(datums, 'addReqCount')).toBe(10);
  });

  test('a failed scrape keeps the node\'s state, so recovery gives the increase across the gap', () => {
    const aggregator = new ClusterAggregator();
    aggregateCycle(aggregator, [addReqNode('a', 100), addReqNode('b', 200)], cycleAt(0));
    const duringFailure = aggregateCycle(aggregator, [failedNode('a'), addReqNode('b', 205)], cycleAt(1));
    expect(valueOf(duringFailure, 'addReqCount')).toBe(5);
    expect(aggregator.trackedNodeCount).toBe(2);
    const recovered = aggregateCycle(aggregator, [addReqNode('a', 130), addReqNode('b', 206)], cycleAt(2));
    expect(valueOf(recovered, 'addReqCount')).toBe(31);
  });

  test('an ipamd restart during a failed gap counts from zero on recovery', () => {
    const aggregator = new ClusterAggregator();
    aggregateCycle(aggregator, [addReqNode('a', 100)], cycleAt(0));
    aggregateCycle(aggregator, [failedNode('a')], cycleAt(1));
    const restartedAt = cycleAt(1).getTime() + 10_000;
    const datums = aggregateCycle(aggregator, [addReqNode('a', 130, { startTimeMs: restartedAt })], cycleAt(2));
    expect(valueOf(datums, 'addReqCount')).toBe(130);
  });

  test('a node whose only scrapes failed holds no state and is a baseline on its first success', () => {
    const aggregator = new ClusterAggregator();
    aggregateCycle(aggregator, [addReqNode('a', 100), failedNode('b')], cycleAt(0));
    expect(aggregator.trackedNodeCount).toBe(1);
    const datums = aggregateCycle(aggregator, [addReqNode('a', 101), addReqNode('b', 400)], cycleAt(1));
    expect(valueOf(datums, 'addReqCount')).toBe(1);
  });

  test('labeled series are tracked apart, and a series new on a known node counts whole', () => {
    const aggregator = new ClusterAggregator();
    aggregateCycle(aggregator, [okNode('a', metrics().counter(EC2_REQ, 10, { fn: 'CreateTags' }))], cycleAt(0));
    const datums = aggregateCycle(aggregator, 
      [okNode('a', metrics().counter(EC2_REQ, 12, { fn: 'CreateTags' }).counter(EC2_REQ, 3, { fn: 'AttachNetworkInterface' }))],
      cycleAt(1),
    );
    expect(valueOf(datums, 'ec2ApiReqCount')).toBe(5);
  });

  test('series are matched by labels when the exposition order changes between scrapes', () => {
    const aggregator = new ClusterAggregator();
    aggregateCycle(aggregator, [okNode('a', metrics()
      .counter(EC2_REQ, 10, { fn: 'CreateTags' }).counter(EC2_REQ, 5, { fn: 'AttachNetworkInterface' }))], cycleAt(0));
    // A new series first shifts every position
    const datums = aggregateCycle(aggregator, [okNode('a', metrics()
      .counter(EC2_REQ, 1, { fn: 'AssignPrivateIpAddresses' })
      .counter(EC2_REQ, 5, { fn: 'AttachNetworkInterface' }).counter(EC2_REQ, 12, { fn: 'CreateTags' }))], cycleAt(1));
    expect(valueOf(datums, 'ec2ApiReqCount')).toBe(3);
  });

  test('the order labels arrive in does not make a new series, in place or moved', () => {
    const aggregator = new ClusterAggregator();
    aggregateCycle(aggregator, [
      okNode('a', metrics().counter(AWS_API_ERR, 40, { api: 'CreateTags', error: 'Throttling' })),
      okNode('b', metrics().counter(AWS_API_ERR, 70, { api: 'CreateTags', error: 'Throttling' })),
    ], cycleAt(0));
    const datums = aggregateCycle(aggregator, [
      okNode('a', metrics().counter(AWS_API_ERR, 42, { error: 'Throttling', api: 'CreateTags' })),
      okNode('b', metrics()
        .counter(AWS_API_ERR, 1, { api: 'AttachNetworkInterface', error: 'Throttling' })
        .counter(AWS_API_ERR, 73, { error: 'Throttling', api: 'CreateTags' })),
    ], cycleAt(1));
    expect(valueOf(datums, 'awsAPIErr')).toBe(2 + 1 + 3);
  });

  test('a label set that gained or lost a label is a different series', () => {
    const aggregator = new ClusterAggregator();
    aggregateCycle(aggregator, [
      okNode('a', metrics().summary(LATENCY, { sum: 1000, count: 10, labels: { api: 'CreateTags', error: 'false' } })),
      okNode('b', metrics().counter(AWS_API_ERR, 40, { api: 'CreateTags', error: 'Throttling' })),
    ], cycleAt(0));
    const datums = aggregateCycle(aggregator, [
      okNode('a', metrics().summary(LATENCY, { sum: 1320, count: 12, labels: { api: 'CreateTags', error: 'false', status: '200' } })),
      okNode('b', metrics().counter(AWS_API_ERR, 42, { api: 'CreateTags' })),
    ], cycleAt(1));
    // THEN both new series count whole: 1320 / 12, not (1320 - 1000) / (12 - 10); 42, not 2
    expect(valueOf(datums, 'awsAPILatency')).toBe(110);
    expect(valueOf(datums, 'awsAPIErr')).toBe(42);
  });

  test('a counter family no node exposes reads 0 once nodes are compared', () => {
    // ipamd's labeled counters only appear on their first increment
    const aggregator = new ClusterAggregator();
    aggregateCycle(aggregator, [addReqNode('a', 1)], cycleAt(0));
    const datums = aggregateCycle(aggregator, [addReqNode('a', 1)], cycleAt(1));
    expect(valueOf(datums, 'awsAPIErr')).toBe(0);
    expect(valueOf(datums, 'delReqCount')).toBe(0);
    expect(valueOf(datums, 'addReqCount')).toBe(0);
  });

  test('no counter is published when every compared node failed this cycle', () => {
    const aggregator = new ClusterAggregator();
    aggregateCycle(aggregator, [addReqNode('a', 1)], cycleAt(0));
    const datums = aggregateCycle(aggregator, [failedNode('a'), addReqNode('new', 50)], cycleAt(1));
    expect(valueOf(datums, 'addReqCount')).toBeUndefined();
  });

  test('a NaN counter sample is skipped and the series keeps its previous value', () => {
    const aggregator = new ClusterAggregator();
    aggregateCycle(aggregator, [addReqNode('a', 100)], cycleAt(0));
    const nanCycle = aggregateCycle(aggregator, [addReqNode('a', NaN)], cycleAt(1));
    expect(valueOf(nanCycle, 'addReqCount')).toBe(0);
    const next = aggregateCycle(aggregator, [addReqNode('a', 104)], cycleAt(2));
    expect(valueOf(next, 'addReqCount')).toBe(4);
  });

  test('OpenMetrics `_total` samples count and `_created` samples do not', () => {
    const withSuffixes = (total: number, createdSeconds: number) => okNode('a', new Map([[DEL_REQ, {
      name: DEL_REQ, type: 'counter' as const, samples: [
        { name: `${DEL_REQ}_total`, labels: { reason: 'PodDeleted' }, value: total },
        { name: `${DEL_REQ}_created`, labels: { reason: 'PodDeleted' }, value: createdSeconds },
      ],
    }]]));
    const aggregator = new ClusterAggregator();
    aggregateCycle(aggregator, [withSuffixes(10, 1_767_225_600)], cycleAt(0));
    const datums = aggregateCycle(aggregator, [withSuffixes(13, 1_767_229_200)], cycleAt(1));
    expect(valueOf(datums, 'delReqCount')).toBe(3);
  });

  test('the cluster delta is the sum of every compared node\'s increase (property)', () => {
    // Each node: a start value, then per cycle either an increment or absence from discovery.
    const nodeHistory = fc.record({
      start: fc.nat(1_000_000),
      steps: fc.array(fc.option(fc.nat(500), { nil: undefined }), { minLength: 4, maxLength: 4 }),
    });
    fc.assert(fc.property(fc.array(nodeHistory, { minLength: 1, maxLength: 8 }), (nodes) => {
      const aggregator = new ClusterAggregator();
      const values = nodes.map((n) => n.start);
      const present = nodes.map(() => true);
      aggregateCycle(aggregator, nodes.map((_, i) => addReqNode(`n${i}`, values[i])), cycleAt(0));
      for (let cycle = 1; cycle <= 4; cycle++) {
        const results: NodeScrapeResult[] = [];
        let expected = 0;
        let compared = 0;
        nodes.forEach((node, i) => {
          const increment = node.steps[cycle - 1];
          if (increment === undefined) {
            present[i] = false;
            return;
          }
          values[i] += increment;
          if (present[i]) {
            expected += increment;
            compared += 1;
          }
          present[i] = true;
          results.push(addReqNode(`n${i}`, values[i]));
        });
        const datums = aggregateCycle(aggregator, results, cycleAt(cycle));
        expect(valueOf(datums, 'addReqCount')).toBe(compared > 0 ? expected : undefined);
        expect(aggregator.trackedNodeCount).toBe(results.length);
      }
    }));
  });
});

describe('ClusterAggregator gauges', () => {
  const capacityNode = (name: string, total: number, assigned: number, enis: number) =>
    okNode(name, metrics().gauge(TOTAL_IPS, total).gauge(ASSIGNED_IPS, assigned).gauge(ENI_ALLOCATED, enis));

  test('gauges are summed across nodes once per cycle, including the first', () => {
    const aggregator = new ClusterAggregator();
    const results = [capacityNode('a', 30, 10, 2), capacityNode('b', 45, 40, 3)];
    const first = aggregateCycle(aggregator, results, cycleAt(0));
    const second = aggregateCycle(aggregator, results, cycleAt(1));
    for (const datums of [first, second]) {
      // valueOf also fails if a metric appears twice in one cycle
      expect(valueOf(datums, 'totalIPAddresses')).toBe(75);
      expect(valueOf(datums, 'assignIPAddresses')).toBe(50);
      expect(valueOf(datums, 'eniAllocated')).toBe(5);
    }
  });

  test('every series of a gauge family on a node is added up (per-CIDR, per-function)', () => {
    const node = (name: string, cidrs: number[]) => {
      const built = metrics().gauge(PREFIXES, cidrs.length);
      cidrs.forEach((assigned, i) => built.gauge(PER_CIDR, assigned, { cidr: `10.0.${name === 'a' ? 1 : 2}.${i * 16}/28` }));
      return okNode(name, built.gauge(IN_PROGRESS, 1, { fn: 'increaseIPPool' }).gauge(IN_PROGRESS, 0, { fn: 'decreaseIPPool' }));
    };
    const datums = aggregateCycle(new ClusterAggregator(), [node('a', [16, 7]), node('b', [3, 16, 16])], cycleAt(0));
    expect(valueOf(datums, 'totalAssignedIPv4sPerCidr')).toBe(58);
    expect(valueOf(datums, 'totalIPv4Prefixes')).toBe(5);
    expect(valueOf(datums, 'ipamdActionInProgress')).toBe(2);
  });

  test('failed nodes add nothing, and a cycle with no node scraped OK publishes no gauge', () => {
    const aggregator = new ClusterAggregator();
    const partial = aggregateCycle(aggregator, [capacityNode('a', 30, 10, 2), failedNode('b')], cycleAt(0));
    expect(valueOf(partial, 'totalIPAddresses')).toBe(30);
    const none = aggregateCycle(aggregator, [failedNode('a'), failedNode('b')], cycleAt(1));
    expect(none).toEqual([]);
    expect(aggregateCycle(new ClusterAggregator(), [], cycleAt(0))).toEqual([]);
  });

  test('a gauge family no OK node exposes publishes nothing, not 0', () => {
    // A cluster without prefix delegation exposes no prefix families
    const datums = aggregateCycle(new ClusterAggregator(), [capacityNode('a', 30, 10, 2)], cycleAt(0));
    expect(valueOf(datums, 'totalIPv4Prefixes')).toBeUndefined();
    expect(valueOf(datums, 'totalAssignedIPv4sPerCidr')).toBeUndefined();
  });

  test('non-finite gauge samples are skipped, and a family with only those publishes nothing', () => {
    const datums = aggregateCycle(new ClusterAggregator(), [
      okNode('a', metrics().gauge(TOTAL_IPS, Infinity).gauge(ENI_ALLOCATED, NaN)),
      okNode('b', metrics().gauge(TOTAL_IPS, 12).gauge(TOTAL_IPS, -Infinity, { odd: 'series' }).gauge(ENI_ALLOCATED, NaN)),
    ], cycleAt(0));
    expect(valueOf(datums, 'totalIPAddresses')).toBe(12);
    expect(valueOf(datums, 'eniAllocated')).toBeUndefined();
  });

  test('the fewest free IPs on any node exposing both total and assigned is published', () => {
    const datums = aggregateCycle(new ClusterAggregator(), [
      capacityNode('roomy', 60, 10, 4),
      capacityNode('tight', 30, 27, 2),
      okNode('no-assigned-family', metrics().gauge(TOTAL_IPS, 5)),
      okNode('non-finite', metrics().gauge(TOTAL_IPS, NaN).gauge(ASSIGNED_IPS, 5)),
      failedNode('down'),
    ], cycleAt(0));
    expect(valueOf(datums, 'minAvailableIPsPerNode')).toBe(3);
  });

  test('no free-IP minimum is published when no node exposes both families', () => {
    const datums = aggregateCycle(new ClusterAggregator(), [okNode('a', metrics().gauge(TOTAL_IPS, 5))], cycleAt(0));
    expect(valueOf(datums, 'minAvailableIPsPerNode')).toBeUndefined();
    expect(valueOf(datums, 'totalIPAddresses')).toBe(5);
  });
});

describe('ClusterAggregator AWS API latency', () => {
  const latencyNode = (name: string, series: Array<[api: string, sum: number, count: number]>, pod = {}) => {
    const built = metrics();
    for (const [api, sum, count] of series) built.summary(LATENCY, { sum, count, labels: { api, error: 'false', status: '200' } });
    return okNode(name, built, pod);
  };

  test('the mean is Σ Δsum / Σ Δcount across nodes and label sets, a reset counting from zero', () => {
    const aggregator = new ClusterAggregator();
    aggregateCycle(aggregator, [
      latencyNode('a', [['CreateTags', 1000, 10], ['AssignPrivateIpAddresses', 3000, 10]]),
      latencyNode('b', [['CreateTags', 500, 5]]),
    ], cycleAt(0));
    const datums = aggregateCycle(aggregator, [
      // a: CreateTags +2 calls / +300 ms; AssignPrivateIpAddresses unchanged
      latencyNode('a', [['CreateTags', 1300, 12], ['AssignPrivateIpAddresses', 3000, 10]]),
      // b: the summary reset; 1 call of 100 ms since
      latencyNode('b', [['CreateTags', 100, 1]]),
    ], cycleAt(1));
    expect(valueOf(datums, 'awsAPILatency')).toBe(400 / 3);
  });

  test('sum and count are paired by labels wherever they sit in the family', () => {
    // GIVEN a payload listing every _count before every _sum
    const countsFirst = (createTags: [number, number], attach: [number, number]) => {
      const labels = (api: string) => ({ api, error: 'false', status: '200' });
      return okNode('a', new Map([[LATENCY, { name: LATENCY, type: 'summary' as const, samples: [
        { name: `${LATENCY}_count`, labels: labels('CreateTags'), value: createTags[1] },
        { name: `${LATENCY}_count`, labels: labels('AttachNetworkInterface'), value: attach[1] },
        { name: `${LATENCY}_sum`, labels: labels('CreateTags'), value: createTags[0] },
        { name: `${LATENCY}_sum`, labels: labels('AttachNetworkInterface'), value: attach[0] },
      ] }]]));
    };
    const aggregator = new ClusterAggregator();
    aggregateCycle(aggregator, [countsFirst([100, 10], [5000, 5])], cycleAt(0));
    const datums = aggregateCycle(aggregator, [countsFirst([130, 13], [5000, 5])], cycleAt(1));
    // THEN only CreateTags' 3 calls of 10 ms count
    expect(valueOf(datums, 'awsAPILatency')).toBe(10);
  });

  test('a cycle without API calls publishes no latency, never 0', () => {
    const aggregator = new ClusterAggregator();
    const idle = [latencyNode('a', [['CreateTags', 1000, 10]])];
    const first = aggregateCycle(aggregator, idle, cycleAt(0));
    const second = aggregateCycle(aggregator, idle, cycleAt(1));
    expect(valueOf(first, 'awsAPILatency')).toBeUndefined();
    expect(valueOf(second, 'awsAPILatency')).toBeUndefined();
    expect(valueOf(second, 'addReqCount')).toBe(0);
  });

  test('a restarted ipamd counts its summary from zero', () => {
    const aggregator = new ClusterAggregator();
    aggregateCycle(aggregator, [latencyNode('a', [['CreateTags', 1000, 10]])], cycleAt(0));
    const datums = aggregateCycle(aggregator, 
      [latencyNode('a', [['CreateTags', 1200, 11]], { podName: 'aws-node-replaced' })],
      cycleAt(1),
    );
    expect(valueOf(datums, 'awsAPILatency')).toBe(1200 / 11);
  });

  test('sum and count of one label set reset together when only the count went down', () => {
    const aggregator = new ClusterAggregator();
    aggregateCycle(aggregator, [latencyNode('a', [['CreateTags', 1000, 10]])], cycleAt(0));
    // A restart undetected by the pod: 4 slow calls since, the sum already above the old one
    const datums = aggregateCycle(aggregator, [latencyNode('a', [['CreateTags', 2000, 4]])], cycleAt(1));
    expect(valueOf(datums, 'awsAPILatency')).toBe(500);
  });

  test('NaN sums or counts are ignored and the label set resumes from its last good values', () => {
    const aggregator = new ClusterAggregator();
    aggregateCycle(aggregator, [latencyNode('a', [['CreateTags', 1000, 10], ['CreateNetworkInterface', 900, 3]])], cycleAt(0));
    const nanCycle = aggregateCycle(aggregator, 
      [latencyNode('a', [['CreateTags', NaN, 12], ['CreateNetworkInterface', 1200, 4]])],
      cycleAt(1),
    );
    expect(valueOf(nanCycle, 'awsAPILatency')).toBe(300);
    const next = aggregateCycle(aggregator, 
      [latencyNode('a', [['CreateTags', 1100, 12], ['CreateNetworkInterface', 1200, 4]])],
      cycleAt(2),
    );
    expect(valueOf(next, 'awsAPILatency')).toBe(50);
  });

  test('a label set that gains its missing _sum counts whole, whatever its old lone _count read', () => {
    const family = (samples: Array<[suffix: string, api: string, value: number]>) => okNode('a', new Map([[LATENCY, {
      name: LATENCY, type: 'summary' as const,
      samples: samples.map(([suffix, api, value]) => ({ name: `${LATENCY}${suffix}`, labels: { api }, value })),
    }]]));
    const aggregator = new ClusterAggregator();
    aggregateCycle(aggregator, [family([['_sum', 'CreateTags', 100], ['_count', 'CreateTags', 10], ['_count', 'DescribeInstances', NaN]])], cycleAt(0));
    const datums = aggregateCycle(aggregator, [family([
      ['_sum', 'CreateTags', 130], ['_count', 'CreateTags', 13], ['_sum', 'DescribeInstances', 70], ['_count', 'DescribeInstances', 1],
    ])], cycleAt(1));
    expect(valueOf(datums, 'awsAPILatency')).toBe(100 / 4);
  });

  test('the largest p99 over nodes is published, NaN quantiles ignored', () => {
    const quantileNode = (name: string, p99s: number[]) => {
      const built = metrics();
      p99s.forEach((p99, i) => built.summary(LATENCY, {
        sum: 0, count: 0, labels: { api: `Api${i}`, error: 'false' }, quantiles: { '0.5': 1, '0.9': 2000, '0.99': p99 },
      }));
      return okNode(name, built);
    };
    const datums = aggregateCycle(new ClusterAggregator(), 
      [quantileNode('a', [NaN, 250]), quantileNode('b', [NaN, 400, Infinity]), quantileNode('c', [NaN])],
      cycleAt(0),
    );
    expect(valueOf(datums, 'awsAPILatencyMaxP99')).toBe(400);
  });

  test('no p99 is published when current ipamd emits only _sum and _count', () => {
    const datums = aggregateCycle(new ClusterAggregator(), [latencyNode('a', [['CreateTags', 10, 1]])], cycleAt(0));
    expect(valueOf(datums, 'awsAPILatencyMaxP99')).toBeUndefined();
  });
});

describe('ClusterAggregator datums', () => {
  /** A node exposing one sample of every ipamd family in the catalog. */
  const everyFamilyNode = (name: string, counterValue: number, pod = {}) => {
    const built = metrics().gauge(ASSIGNED_IPS, 3);
    const written = new Set([ASSIGNED_IPS, LATENCY]);
    for (const metric of CATALOG) {
      if (!metric.family || written.has(metric.family)) continue;
      written.add(metric.family);
      if (metric.distinctLabel) built.gauge(metric.family, 1, { [metric.distinctLabel]: 'v1.20.1' });
      else if (metric.familyType === 'gauge') built.gauge(metric.family, 10);
      if (metric.familyType === 'counter') built.counter(metric.family, counterValue);
    }
    built.summary(LATENCY, { sum: counterValue * 20, count: counterValue, labels: { api: 'CreateTags' }, quantiles: { '0.99': 35 } });
    return okNode(name, built, pod);
  };

  test('every datum carries its catalog unit and the cycle time, and every ipamd metric is published', () => {
    const aggregator = new ClusterAggregator();
    aggregateCycle(aggregator, [everyFamilyNode('a', 5)], cycleAt(0));
    const datums = aggregateCycle(aggregator, [everyFamilyNode('a', 8)], cycleAt(1));
    // Health figures are the cycle runner's, subnet figures the subnet watcher's: neither comes from here.
    const ipamdMetrics = CATALOG.filter((m) => m.aggregation !== 'health' && m.aggregation !== 'ec2Subnet');
    expect(datums.map((d) => d.metricName)).toEqual(ipamdMetrics.map((m) => m.metricName));
    for (const datum of datums) {
      expect(datum.unit).toBe(catalogMetric(datum.metricName).unit);
      expect(datum.timestamp).toEqual(cycleAt(1));
      expect(Number.isFinite(datum.value)).toBe(true);
    }
    expect(valueOf(datums, 'awsAPILatency')).toBe(20);
    expect(valueOf(datums, 'minAvailableIPsPerNode')).toBe(7);
  });

  test('the timestamp is not the caller\'s Date object, so mutating it later changes no datum', () => {
    const cycleTime = cycleAt(0);
    const [datum] = aggregateCycle(new ClusterAggregator(), [everyFamilyNode('a', 1)], cycleTime);
    cycleTime.setUTCFullYear(2000);
    expect(datum.timestamp).toEqual(cycleAt(0));
  });

  test('health metrics are left to the cycle runner, but for the aggregator\'s own drop counts when non-zero', () => {
    const datums = aggregateCycle(new ClusterAggregator(), [everyFamilyNode('a', 1)], cycleAt(0));
    expect(datums.some((d) => catalogMetric(d.metricName).aggregation === 'health')).toBe(false);
  });

  test('values are never NaN or Infinity, whatever the samples (property)', () => {
    const anyValue = fc.oneof(fc.double(), fc.constantFrom(NaN, Infinity, -Infinity, 0));
    const node = fc.record({ gauge: anyValue, counter: anyValue, sum: anyValue, count: anyValue, p99: anyValue });
    fc.assert(fc.property(fc.array(fc.array(node, { maxLength: 4 }), { minLength: 1, maxLength: 4 }), (cycles) => {
      const aggregator = new ClusterAggregator();
      cycles.forEach((nodes, cycle) => {
        const results = nodes.map((n, i) => okNode(`n${i}`, metrics()
          .gauge(TOTAL_IPS, n.gauge).gauge(ASSIGNED_IPS, n.gauge)
          .counter(ADD_REQ, n.counter)
          .summary(LATENCY, { sum: n.sum, count: n.count, quantiles: { '0.99': n.p99 } })));
        for (const datum of aggregateCycle(aggregator, results, cycleAt(cycle))) {
          expect(Number.isFinite(datum.value)).toBe(true);
        }
      });
    }));
  });

  test('an invalid cycle time fails with what to pass instead', () => {
    expect(() => new ClusterAggregator().startCycle([], new Date('not a date'))).toThrow(/cycleTime is an invalid Date/);
  });
});

describe('ClusterAggregator node state', () => {
  test('held state stays flat while nodes churn', () => {
    const aggregator = new ClusterAggregator();
    for (let cycle = 0; cycle < 50; cycle++) {
      // 20 nodes a cycle; 5 of them replaced by new names every cycle
      const names = Array.from({ length: 20 }, (_, i) => (i < 15 ? `stable-${i}` : `churn-${cycle}-${i}`));
      aggregateCycle(aggregator, names.map((n) => addReqNode(n, cycle)), cycleAt(cycle));
      expect(aggregator.trackedNodeCount).toBe(20);
    }
  });

  test('ten thousand nodes aggregate to exact cluster figures', () => {
    const aggregator = new ClusterAggregator();
    const cycle = (n: number) => Array.from({ length: 10_000 }, (_, i) => okNode(`ip-10-0-${i}`, metrics()
      .gauge(TOTAL_IPS, 30).gauge(ASSIGNED_IPS, 10 + (i % 7))
      .counter(ADD_REQ, 1000 + n * i)
      .counter(EC2_REQ, n, { fn: 'CreateTags' }).counter(EC2_REQ, 2 * n, { fn: 'AssignPrivateIpAddresses' })
      .summary(LATENCY, { sum: n * 50, count: n, labels: { api: 'CreateTags', error: 'false', status: '200' } })));
    aggregateCycle(aggregator, cycle(1), cycleAt(0));
    const datums = aggregateCycle(aggregator, cycle(2), cycleAt(1));
    expect(valueOf(datums, 'totalIPAddresses')).toBe(300_000);
    expect(valueOf(datums, 'addReqCount')).toBe((9_999 * 10_000) / 2);
    expect(valueOf(datums, 'ec2ApiReqCount')).toBe(30_000);
    expect(valueOf(datums, 'awsAPILatency')).toBe(50);
    expect(valueOf(datums, 'minAvailableIPsPerNode')).toBe(14);
    expect(aggregator.trackedNodeCount).toBe(10_000);
  });
});

describe('ClusterAggregator catalog', () => {
  test('aggregates only the metrics of a custom catalog, in its order', () => {
    const catalog: CatalogMetric[] = [catalogMetric('eniAllocated'), catalogMetric('collectorNodesScraped'), catalogMetric('totalIPAddresses')];
    const datums = aggregateCycle(new ClusterAggregator({ catalog }), 
      [okNode('a', metrics().gauge(TOTAL_IPS, 30).gauge(ENI_ALLOCATED, 2).counter(ADD_REQ, 1))],
      cycleAt(0),
    );
    expect(datums.map((d) => [d.metricName, d.value])).toEqual([['eniAllocated', 2], ['totalIPAddresses', 30]]);
  });

  test('an ipamd metric without a family fails at construction with the fix', () => {
    const broken: CatalogMetric = { ...catalogMetric('addReqCount'), family: undefined };
    expect(() => new ClusterAggregator({ catalog: [broken] })).toThrow(
      /Catalog metric 'addReqCount' aggregates with 'counterDelta' but names no ipamd family; set its 'family'/,
    );
  });
});

describe('ClusterAggregator cycles', () => {
  test('adding results in any arrival order gives the same datums as in pod order', () => {
    // GIVEN the same three cycles for two aggregators
    const cycles: NodeScrapeResult[][] = [
      [addReqNode('a', 100), addReqNode('b', 200), addReqNode('c', 300)],
      [addReqNode('a', 110), failedNode('b'), addReqNode('c', 5)],
      [addReqNode('b', 260), addReqNode('a', 111), addReqNode('c', 9)],
    ];
    const inOrder = new ClusterAggregator();
    const reversed = new ClusterAggregator();
    const published: Array<number | undefined> = [];
    cycles.forEach((results, n) => {
      // WHEN one adds the results in pod order and the other in reverse order
      const expected = aggregateCycle(inOrder, results, cycleAt(n));
      published.push(valueOf(expected, 'addReqCount'));
      const cycle = reversed.startCycle(results.map((r) => r.pod), cycleAt(n));
      for (const r of [...results].reverse()) cycle.add(r);
      // THEN both give the same datums and hold the same nodes
      expect(cycle.finish()).toEqual(expected);
      expect(reversed.trackedNodeCount).toBe(inOrder.trackedNodeCount);
    });
    // AND the figures are the hand-computed ones: a baseline; a +10 and c reset to 5; a +1, b +60 over the gap, c +4
    expect(published).toEqual([undefined, 15, 65]);
  });

  test('a second result for one node in a cycle is a programming error: discovery keeps one pod per node', () => {
    const cycle = new ClusterAggregator().startCycle([awsNodePod('a')], cycleAt(0));
    cycle.add(addReqNode('a', 1));
    expect(() => cycle.add(addReqNode('a', 2, { podName: 'aws-node-a-new' }))).toThrow(
      /add\(\) called twice for node 'a' in one cycle: discovery must keep one aws-node pod per node/,
    );
  });

  test('add() or finish() after finish() is a programming error named as such', () => {
    const cycle = new ClusterAggregator().startCycle([awsNodePod('a')], cycleAt(0));
    cycle.finish();
    expect(() => cycle.add(addReqNode('a', 1))).toThrow(/add\(\) for node 'a' on a cycle that is finished or superseded/);
    expect(() => cycle.finish()).toThrow(/finish\(\) on a cycle that is finished or superseded/);
  });

  test('a cycle that is never finished changes no state: the next cycle compares with the last finished one', () => {
    const aggregator = new ClusterAggregator();
    aggregateCycle(aggregator, [addReqNode('a', 100)], cycleAt(0));
    // GIVEN a cycle that read a at 150 and was abandoned (say, the collector was stopping)
    aggregator.startCycle([awsNodePod('a')], cycleAt(1)).add(addReqNode('a', 150));
    // WHEN the next cycle reads 160
    const datums = aggregateCycle(aggregator, [addReqNode('a', 160)], cycleAt(2));
    // THEN the whole 60 since the last finished cycle counts, not 10
    expect(valueOf(datums, 'addReqCount')).toBe(60);
  });
});

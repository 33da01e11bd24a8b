/**
 * Counters that stay true through rollouts, restarts, empty payloads, missing families and failures
 * (issue 9): one test per case, each against figures worked out by hand in its comments.
 */
import { ClusterAggregator } from '../../runtime/aggregate';
import { catalogMetric } from '../../common/catalog';
import type { ClusterDatum, NodeScrapeResult } from '../../runtime/types';
import { aggregateCycle, runAggregatorCycle } from './aggregator-cycle';
import { awsNodePod, failedNode, metrics, okNode, POD_START_MS } from './parsed-metrics-builder';

const familyOf = (metricName: Parameters<typeof catalogMetric>[0]): string => catalogMetric(metricName).family as string;
const ADD_REQ = familyOf('addReqCount');
const EC2_REQ = familyOf('ec2ApiReqCount');
const TOTAL_IPS = familyOf('totalIPAddresses');
const LATENCY = familyOf('awsAPILatency');
const CONNMARK = familyOf('connmarkReconcileErr');
const BUILD_INFO = familyOf('cniVersionCount');

/** ipamd's process start, in seconds, as process_start_time_seconds reports it. */
const STARTED = POD_START_MS / 1000 + 0.37;
const cycleAt = (n: number): Date => new Date(Date.UTC(2026, 0, 1, 1, n));

function valueOf(datums: readonly ClusterDatum[], metricName: string): number | undefined {
  const found = datums.filter((d) => d.metricName === metricName);
  if (found.length > 1) throw new Error(`${metricName} appears ${found.length} times in one cycle`);
  return found[0]?.value;
}

/** A node serving its add-request counter and, when given, its process start. */
const ipamd = (nodeName: string, addReq: number, processStart: number | undefined, pod = {}): NodeScrapeResult => {
  const built = metrics().counter(ADD_REQ, addReq).gauge(TOTAL_IPS, 30);
  if (processStart !== undefined) built.processStart(processStart);
  return okNode(nodeName, built, pod);
};

describe('restarts are new processes, whatever the pods are called', () => {
  test('a rollout\'s new pod that still reaches the old ipamd is not a restart: only the increase counts', () => {
    // GIVEN node a at 1000 add requests, served by pod aws-node-old
    const aggregator = new ClusterAggregator();
    const old = { podName: 'aws-node-old', podUid: 'uid-old', containerID: 'containerd://old', restartCount: 0 };
    aggregateCycle(aggregator, [ipamd('a', 1000, STARTED, old)], cycleAt(0));
    // WHEN the DaemonSet rollout lists a new pod for a, whose proxy reaches the old ipamd (same process), 10 requests later
    const fresh = { podName: 'aws-node-new', podUid: 'uid-new', containerID: 'containerd://new', restartCount: 0, startTimeMs: POD_START_MS + 3_600_000 };
    const { datums, outcomes } = runAggregatorCycle(aggregator, [ipamd('a', 1010, STARTED, fresh)], cycleAt(1));
    // THEN 10 count (upstream's old rule: 1010)
    expect(valueOf(datums, 'addReqCount')).toBe(10);
    expect(outcomes[0]).toMatchObject({ ok: true, podName: 'aws-node-new' });
    expect(outcomes[0].restarted).toBeUndefined();
  });

  test('the new pod\'s own ipamd, once it serves, is a restart: its counter counts whole', () => {
    const aggregator = new ClusterAggregator();
    aggregateCycle(aggregator, [ipamd('a', 1000, STARTED, { podName: 'aws-node-old' })], cycleAt(0));
    aggregateCycle(aggregator, [ipamd('a', 1010, STARTED, { podName: 'aws-node-new' })], cycleAt(1));
    // WHEN the old ipamd stopped and the new one (started 2 minutes later) has handled 4 requests
    const { datums, outcomes } = runAggregatorCycle(aggregator, [ipamd('a', 4, STARTED + 120, { podName: 'aws-node-new' })], cycleAt(2));
    expect(valueOf(datums, 'addReqCount')).toBe(4);
    expect(outcomes[0].restarted).toBe(true);
  });

  test('a restart under the same pod counts whole even when the counter grew past its old value', () => {
    const aggregator = new ClusterAggregator();
    aggregateCycle(aggregator, [ipamd('a', 100, STARTED)], cycleAt(0));
    // The pod and container fields did not change (say, discovery does not fill them); the process did
    const datums = aggregateCycle(aggregator, [ipamd('a', 150, STARTED + 45)], cycleAt(1));
    expect(valueOf(datums, 'addReqCount')).toBe(150);
  });

  test('a process start that moves by less than a second is the same process (boot-time clock adjustment)', () => {
    const aggregator = new ClusterAggregator();
    aggregateCycle(aggregator, [ipamd('a', 100, STARTED)], cycleAt(0));
    const datums = aggregateCycle(aggregator, [ipamd('a', 107, STARTED + 0.99)], cycleAt(1));
    expect(valueOf(datums, 'addReqCount')).toBe(7);
  });

  test('without process_start_time_seconds a new restartCount is a restart, even within the same second', () => {
    // GIVEN the container restarted within the second its start time was recorded at (1 s precision)
    const aggregator = new ClusterAggregator();
    const pod = { podUid: 'uid-a', containerID: 'containerd://c1', restartCount: 0 };
    aggregateCycle(aggregator, [ipamd('a', 100, undefined, pod)], cycleAt(0));
    const datums = aggregateCycle(aggregator, [ipamd('a', 120, undefined, { ...pod, restartCount: 1 })], cycleAt(1));
    expect(valueOf(datums, 'addReqCount')).toBe(120);
  });

  test('without process_start_time_seconds a new containerID is a restart', () => {
    const aggregator = new ClusterAggregator();
    const pod = { podUid: 'uid-a', containerID: 'containerd://c1', restartCount: 3 };
    aggregateCycle(aggregator, [ipamd('a', 100, undefined, pod)], cycleAt(0));
    const datums = aggregateCycle(aggregator, [ipamd('a', 120, undefined, { ...pod, containerID: 'containerd://c2' })], cycleAt(1));
    expect(valueOf(datums, 'addReqCount')).toBe(120);
  });

  test('without process_start_time_seconds a new pod uid is a restart, and the uid outranks the name', () => {
    const aggregator = new ClusterAggregator();
    aggregateCycle(aggregator, [ipamd('a', 100, undefined, { podUid: 'uid-1' }), ipamd('b', 200, undefined, { podUid: 'uid-b' })], cycleAt(0));
    const datums = aggregateCycle(aggregator, [
      // a: a new pod (new uid) → counts whole: 130
      ipamd('a', 130, undefined, { podUid: 'uid-2' }),
      // b: the same uid under another name (a name is not what makes a pod) → 5
      ipamd('b', 205, undefined, { podUid: 'uid-b', podName: 'aws-node-b-renamed' }),
    ], cycleAt(1));
    expect(valueOf(datums, 'addReqCount')).toBe(135);
  });

  test('when both scrapes carry the process start, container fields that changed do not make a restart', () => {
    const aggregator = new ClusterAggregator();
    aggregateCycle(aggregator, [ipamd('a', 100, STARTED, { containerID: 'containerd://c1', restartCount: 0 })], cycleAt(0));
    const datums = aggregateCycle(aggregator, [ipamd('a', 103, STARTED, { containerID: 'containerd://c2', restartCount: 1 })], cycleAt(1));
    expect(valueOf(datums, 'addReqCount')).toBe(3);
  });
});

describe('a payload without an ipamd family', () => {
  test('an empty body fails the node with the reason and keeps its state: the next good scrape counts 11, not 1021', () => {
    const aggregator = new ClusterAggregator();
    aggregateCycle(aggregator, [ipamd('a', 1000, STARTED), ipamd('b', 50, STARTED)], cycleAt(0));
    // WHEN a answers 200 with an empty body (no family at all)
    const empty = runAggregatorCycle(aggregator, [okNode('a', metrics()), ipamd('b', 52, STARTED)], cycleAt(1));
    // THEN a failed with the reason; b's 2 count
    expect(empty.outcomes[0]).toMatchObject({ nodeName: 'a', ok: false, error: expect.stringMatching(/not an ipamd payload/) });
    expect(valueOf(empty.datums, 'addReqCount')).toBe(2);
    expect(valueOf(empty.datums, 'totalIPAddresses')).toBe(30);
    expect(aggregator.trackedNodeCount).toBe(2);
    // AND a's next good scrape at 1011 counts its 11 over the gap
    expect(valueOf(aggregateCycle(aggregator, [ipamd('a', 1011, STARTED), ipamd('b', 52, STARTED)], cycleAt(2)), 'addReqCount')).toBe(11);
  });

  test('a body with only go_ and process_ metrics is not an ipamd payload either', () => {
    const aggregator = new ClusterAggregator();
    aggregateCycle(aggregator, [ipamd('a', 1000, STARTED)], cycleAt(0));
    // The parser keeps process_start_time_seconds (restart detection), so this payload is not empty
    const { outcomes, datums } = runAggregatorCycle(aggregator, [okNode('a', metrics().processStart(STARTED))], cycleAt(1));
    expect(outcomes[0].ok).toBe(false);
    expect(valueOf(datums, 'addReqCount')).toBeUndefined();
    expect(valueOf(aggregateCycle(aggregator, [ipamd('a', 1011, STARTED)], cycleAt(2)), 'addReqCount')).toBe(11);
  });
});

describe('a family or series missing from one scrape keeps its state', () => {
  test('a counter family missing for a cycle does not reset the baseline', () => {
    const aggregator = new ClusterAggregator();
    aggregateCycle(aggregator, [ipamd('a', 1000, STARTED)], cycleAt(0));
    // WHEN one scrape lacks awscni_add_ip_req_count (other families present)
    const gap = aggregateCycle(aggregator, [okNode('a', metrics().gauge(TOTAL_IPS, 30).processStart(STARTED))], cycleAt(1));
    expect(valueOf(gap, 'addReqCount')).toBe(0);
    // THEN the next scrape at 1011 counts 11, not 1011
    expect(valueOf(aggregateCycle(aggregator, [ipamd('a', 1011, STARTED)], cycleAt(2)), 'addReqCount')).toBe(11);
  });

  test('a latency summary missing for a cycle keeps its baseline: 10 ms, not 99.9 ms', () => {
    const latencyNode = (sum: number, count: number) => okNode('a', metrics()
      .counter(ADD_REQ, 1).processStart(STARTED)
      .summary(LATENCY, { sum, count, labels: { api: 'DescribeInstances', error: 'false', status: '200' } }));
    const aggregator = new ClusterAggregator();
    aggregateCycle(aggregator, [latencyNode(99_800, 1_000)], cycleAt(0));
    aggregateCycle(aggregator, [ipamd('a', 1, STARTED)], cycleAt(1));
    // 10 calls of 10 ms since cycle 0: (99,900 - 99,800) / (1,010 - 1,000) = 10
    const datums = aggregateCycle(aggregator, [latencyNode(99_900, 1_010)], cycleAt(2));
    expect(valueOf(datums, 'awsAPILatency')).toBe(10);
  });

  test('a labelled series missing for a cycle keeps its value; its return counts only its increase', () => {
    const ec2 = (series: Record<string, number>) => {
      const built = metrics().processStart(STARTED);
      for (const [fn, value] of Object.entries(series)) built.counter(EC2_REQ, value, { fn });
      return okNode('a', built);
    };
    const aggregator = new ClusterAggregator();
    aggregateCycle(aggregator, [ec2({ CreateTags: 10, AttachNetworkInterface: 5 })], cycleAt(0));
    expect(valueOf(aggregateCycle(aggregator, [ec2({ CreateTags: 12 })], cycleAt(1)), 'ec2ApiReqCount')).toBe(2);
    // CreateTags +1, AttachNetworkInterface +2 since cycle 0: 3, not 1 + 7
    expect(valueOf(aggregateCycle(aggregator, [ec2({ CreateTags: 13, AttachNetworkInterface: 7 })], cycleAt(2)), 'ec2ApiReqCount')).toBe(3);
  });

  test('a restart drops the old process\'s series: one missing after it counts whole when it returns', () => {
    const aggregator = new ClusterAggregator();
    aggregateCycle(aggregator, [okNode('a', metrics().processStart(STARTED).counter(EC2_REQ, 10, { fn: 'CreateTags' }).counter(ADD_REQ, 1))], cycleAt(0));
    // The new process has not called CreateTags yet: the series is absent
    aggregateCycle(aggregator, [okNode('a', metrics().processStart(STARTED + 600).counter(ADD_REQ, 1))], cycleAt(1));
    const datums = aggregateCycle(aggregator, [okNode('a', metrics().processStart(STARTED + 600).counter(EC2_REQ, 3, { fn: 'CreateTags' }).counter(ADD_REQ, 1))], cycleAt(2));
    expect(valueOf(datums, 'ec2ApiReqCount')).toBe(3);
  });
});

describe('every failure keeps node state', () => {
  test('a cycle where every node failed (credentials could not be built) releases nothing', () => {
    const aggregator = new ClusterAggregator();
    aggregateCycle(aggregator, [ipamd('a', 100, STARTED), ipamd('b', 200, STARTED)], cycleAt(0));
    const failed = [failedNode('a'), failedNode('b')];
    expect(aggregateCycle(aggregator, failed, cycleAt(1))).toEqual([]);
    expect(aggregator.trackedNodeCount).toBe(2);
    // a +5, b +7 across the gap
    expect(valueOf(aggregateCycle(aggregator, [ipamd('a', 105, STARTED), ipamd('b', 207, STARTED)], cycleAt(2)), 'addReqCount')).toBe(12);
  });

  test('nodes discovery listed but whose results never reached the aggregator keep their state', () => {
    const aggregator = new ClusterAggregator();
    aggregateCycle(aggregator, [ipamd('a', 100, STARTED), ipamd('b', 200, STARTED)], cycleAt(0));
    // WHEN a cycle lists both nodes and no result is added
    expect(aggregateCycle(aggregator, [], cycleAt(1), [awsNodePod('a'), awsNodePod('b')])).toEqual([]);
    expect(aggregator.trackedNodeCount).toBe(2);
    expect(valueOf(aggregateCycle(aggregator, [ipamd('a', 101, STARTED), ipamd('b', 203, STARTED)], cycleAt(2)), 'addReqCount')).toBe(4);
  });

  test('only a node discovery no longer lists is released', () => {
    const aggregator = new ClusterAggregator();
    aggregateCycle(aggregator, [ipamd('a', 100, STARTED), ipamd('b', 200, STARTED)], cycleAt(0));
    aggregateCycle(aggregator, [ipamd('a', 100, STARTED)], cycleAt(1), [awsNodePod('a')]);
    expect(aggregator.trackedNodeCount).toBe(1);
  });
});

describe('label names are own properties', () => {
  test('a label named like an Object.prototype member makes another series', () => {
    const aggregator = new ClusterAggregator();
    aggregateCycle(aggregator, [okNode('a', metrics().processStart(STARTED).counter(EC2_REQ, 10, { fn: 'CreateTags' }))], cycleAt(0));
    // WHEN the series gains a label named toString (the old check read Object.prototype.toString as that label)
    const datums = aggregateCycle(aggregator, [okNode('a', metrics().processStart(STARTED)
      .counter(EC2_REQ, 12, { fn: 'CreateTags', toString: 'x' }))], cycleAt(1));
    // THEN it is a new series on a known node and counts whole: 12, not 2
    expect(valueOf(datums, 'ec2ApiReqCount')).toBe(12);
  });
});

describe('new ipamd families', () => {
  test('connmark reconcile errors are the increase of result="error" only', () => {
    const connmark = (name: string, error: number, success: number) => okNode(name, metrics().processStart(STARTED)
      .counter(CONNMARK, error, { result: 'error' }).counter(CONNMARK, success, { result: 'success' }));
    const aggregator = new ClusterAggregator();
    aggregateCycle(aggregator, [connmark('a', 0, 1), connmark('b', 4, 7)], cycleAt(0));
    // a: 3 errors, 49 successes; b: 1 error, 2 successes
    const datums = aggregateCycle(aggregator, [connmark('a', 3, 50), connmark('b', 5, 9)], cycleAt(1));
    expect(valueOf(datums, 'connmarkReconcileErr')).toBe(4);
  });

  test('the version count is the number of distinct CNI versions on the nodes scraped', () => {
    const build = (name: string, version: string) => okNode(name, metrics().gauge(BUILD_INFO, 1, { goversion: 'go1.24.6', version }));
    const datums = aggregateCycle(new ClusterAggregator(), [
      build('a', 'v1.20.1'), build('b', 'v1.20.1'), build('c', 'v1.21.0'), failedNode('d'),
    ], cycleAt(0));
    expect(valueOf(datums, 'cniVersionCount')).toBe(2);
    // A cluster on one version reads 1; one whose nodes serve no build_info publishes nothing
    expect(valueOf(aggregateCycle(new ClusterAggregator(), [build('a', 'v1.20.1')], cycleAt(0)), 'cniVersionCount')).toBe(1);
    expect(valueOf(aggregateCycle(new ClusterAggregator(), [ipamd('a', 1, STARTED)], cycleAt(0)), 'cniVersionCount')).toBeUndefined();
  });
});

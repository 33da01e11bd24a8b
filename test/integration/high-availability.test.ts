/**
 * High availability end to end: two bundled collectors (`node dist/collector.js`) with
 * LEADER_ELECTION=true against one loopback API endpoint (pod list + Lease get/create/update with
 * resourceVersion conflicts), an ipamd fleet and a CloudWatch endpoint. Exactly one publishes; the
 * leader is killed with SIGKILL (no release); the standby takes over within two intervals, its first
 * cycle is a baseline (no counter delta), and no cycle's timestamp reaches CloudWatch twice.
 */
import { startCloudWatchServer, type CloudWatchServer } from '../support/cloudwatch-server';
import { startClusterApiServer, type ClusterApiServer } from '../support/cluster-api-server';
import { loopbackCollectorEnv, startCollector, type CollectorRun } from '../support/collector-process';
import { fleetKubePods, startIpamdFleet, type IpamdFleet } from '../support/ipamd-fleet';
import { startKubeApiServer, type KubeApiServer } from '../support/kube-api-server';
import { startLeaseServer, type LeaseServer } from '../support/lease-server';
import {
  ADD_REQ, CLUSTER_ID, NODE_A, NODE_B, TOKEN, logsNamed, printedCycles, waitFor, waitForLogCount, withAddReq,
} from '../support/loopback-cluster';
import { freePort, probe } from '../support/health-probe';

const REPLICAS = ['collector-a', 'collector-b'];
const INTERVAL_SECONDS = 3;
/** Short Lease settings (client-go's rule holds: 3 > 2 > 1): takeover within 3 + 1 s of the last renewal. */
const LEASE = { LEASE_DURATION_SECONDS: '3', LEASE_RENEW_DEADLINE_SECONDS: '2', LEASE_RETRY_PERIOD_SECONDS: '1' };
const LEASE_NAME = 'cni-metrics-helper';

/** The addReqCount increases published over `cycles`. */
function sumAddReq(cycles: ReturnType<typeof printedCycles>): number {
  return cycles.reduce((s, c) => s + (c.values.addReqCount ?? 0), 0);
}

/** CloudWatch stored something, and each metric of each cycle (timestamp, dimensions) once. */
function expectEachStoredOnce(stored: CloudWatchServer['datums']): void {
  const keys = stored.map((d) => `${d.MetricName} ${d.Timestamp!.toISOString()} ${JSON.stringify(d.Dimensions)}`);
  expect(keys.length).toBeGreaterThan(0);
  expect(new Set(keys).size).toBe(keys.length);
}

describe('bundled collector: two replicas with Lease leader election', () => {
  let fleet: IpamdFleet | undefined;
  let kube: KubeApiServer | undefined;
  let leases: LeaseServer | undefined;
  let api: ClusterApiServer | undefined;
  let cloudWatch: CloudWatchServer | undefined;
  const runs: CollectorRun[] = [];
  afterEach(async () => {
    for (const run of runs.splice(0)) run.child.kill('SIGKILL');
    await api?.close();
    await Promise.all([fleet?.close(), kube?.close(), leases?.close(), cloudWatch?.close()]);
  });

  /** Two nodes, one API endpoint serving pods and Leases, and CloudWatch. */
  async function startCluster(): Promise<void> {
    fleet = await startIpamdFleet({ count: 2, payload: (i) => [NODE_A, NODE_B][i], behaviour: () => 'ok' });
    kube = await startKubeApiServer({ token: TOKEN, pods: fleetKubePods(fleet) });
    leases = await startLeaseServer(REPLICAS);
    api = await startClusterApiServer(kube, TOKEN, leases, REPLICAS);
    cloudWatch = await startCloudWatchServer();
  }

  /** Replica i's environment: its own kubeconfig user, leader election on, the short Lease. */
  function replicaEnv(i: number, extra: Record<string, string> = {}): Record<string, string> {
    return loopbackCollectorEnv({
      KUBECONFIG: api!.writeKubeconfig(REPLICAS[i]),
      AWS_CLUSTER_ID: CLUSTER_ID,
      AWS_ENDPOINT_URL_CLOUDWATCH: cloudWatch!.url,
      IPAMD_METRICS_PORT: String(fleet!.port),
      SCRAPE_MODE: 'direct',
      METRIC_UPDATE_INTERVAL: String(INTERVAL_SECONDS),
      LEADER_ELECTION: 'true',
      POD_NAME: REPLICAS[i],
      POD_NAMESPACE: 'kube-system',
      ...LEASE,
      ...extra,
    });
  }

  /** Starts replica a and waits for it to lead, then b; returns once b elects and a has run two cycles. */
  async function startLeaderThenStandby(envOf: (i: number) => Record<string, string>, hardTimeoutMs: number): Promise<[CollectorRun, CollectorRun]> {
    const a = startCollector(['--print'], envOf(0), hardTimeoutMs);
    runs.push(a);
    await a.waitForLog((l) => l.msg === 'became the leader', 10_000);
    const b = startCollector(['--print'], envOf(1), hardTimeoutMs);
    runs.push(b);
    await b.waitForLog((l) => l.msg === 'leader election started', 10_000);
    await waitForLogCount(a, 'cycle done', 2, 15_000);
    return [a, b];
  }

  test('one publishes; after a SIGKILL the other takes over within two intervals from a baseline, and no cycle is published twice', async () => {
    // GIVEN two nodes, one API endpoint serving pods and Leases, and CloudWatch
    await startCluster();
    const healthPorts = [await freePort(), await freePort()];

    // WHEN replica a starts and leads, then replica b starts
    const [a, b] = await startLeaderThenStandby((i) => replicaEnv(i, { SCRAPE_TIMEOUT_MS: '2000', HEALTH_PORT: String(healthPorts[i]) }), 60_000);
    if (!fleet || !leases || !cloudWatch) throw new Error('the cluster did not start');

    // THEN b stands by: live and ready (a rollout may proceed past it), running no cycle
    expect(await probe(`http://127.0.0.1:${healthPorts[1]}/readyz`)).toEqual({ status: 200, body: 'ready (standby: another replica leads)' });
    expect((await probe(`http://127.0.0.1:${healthPorts[1]}/healthz`)).status).toBe(200);
    expect(logsNamed(b, 'cycle done')).toEqual([]);
    expect(leases.lease('kube-system', LEASE_NAME)?.spec.holderIdentity).toBe('collector-a');

    // WHEN node a's add-IP counter grows by 100 while a leads
    fleet.setPayload(0, withAddReq(NODE_A, ADD_REQ.a + 100));
    await waitFor(() => printedCycles(a).some((c) => c.values.addReqCount === 100), 10_000, 'a publishes the increase of 100');
    // AND a is killed without a chance to release the Lease
    a.child.kill('SIGKILL');
    const killedAtMs = Date.now();
    await a.exited;
    const aCycles = printedCycles(a);

    // THEN b becomes the leader and publishes, its first cycle within two intervals of the kill
    await b.waitForLog((l) => l.msg === 'became the leader', 10_000);
    await waitForLogCount(b, 'cycle done', 2, 15_000);
    const bFirst = printedCycles(b)[0];
    expect(bFirst.timestampMs - killedAtMs).toBeLessThanOrEqual(2 * INTERVAL_SECONDS * 1000);
    // AND its first cycle is a baseline: the gauges, but no counter delta (not the 100 a already published, nor the node's history)
    expect(bFirst.values.assignIPAddresses).toBe(17 + 24);
    expect(bFirst.values).not.toHaveProperty('addReqCount');
    expect(printedCycles(b)[1].values.addReqCount).toBe(0);

    // WHEN the counter grows by 7 more while b leads
    fleet.setPayload(0, withAddReq(NODE_A, ADD_REQ.a + 107));
    await waitFor(() => printedCycles(b).some((c) => c.values.addReqCount === 7), 10_000, 'b publishes the increase of 7');
    // AND b is stopped
    b.child.kill('SIGTERM');
    expect(await b.exited).toBe(0);

    // THEN b gave the Lease up on its way out, well inside the stop budget
    expect(leases.lease('kube-system', LEASE_NAME)?.spec.holderIdentity).toBe('');
    expect(Number(logsNamed(b, 'collector stopped')[0].stopMs)).toBeLessThan(25_000);
    // AND the counter increases published add up to what happened: 100 under a, 7 under b, nothing twice
    const bCycles = printedCycles(b);
    expect({ a: sumAddReq(aCycles), b: sumAddReq(bCycles) }).toEqual({ a: 100, b: 7 });
    // AND every cycle came from one replica only, and a printed nothing after it stopped leading (it was killed)
    const aTimes = new Set(aCycles.map((c) => c.timestampMs));
    expect(bCycles.filter((c) => aTimes.has(c.timestampMs))).toEqual([]);
    expect(Math.max(...aCycles.map((c) => c.timestampMs))).toBeLessThan(killedAtMs);
    expect(Math.min(...bCycles.map((c) => c.timestampMs))).toBeGreaterThan(killedAtMs);
    // AND CloudWatch stored each metric of each cycle once: no timestamp published twice
    const stored = cloudWatch.datums;
    expectEachStoredOnce(stored);
    const storedTimes = new Set(stored.map((d) => d.Timestamp!.getTime()));
    for (const time of storedTimes) expect(aTimes.has(time) !== bCycles.some((c) => c.timestampMs === time)).toBe(true);
    // AND the Lease moved once, from a to b, through the API server's conflict checks
    const holders = leases.writes.filter((w) => w.status < 300 && w.lease).map((w) => w.lease!.spec.holderIdentity);
    expect([...new Set(holders)]).toEqual(['collector-a', 'collector-b', '']);
  }, 90_000);

  test('a leader cut off from the Lease stops publishing; when it leads again it starts from a baseline, not from counters it saw terms ago', async () => {
    // GIVEN the same cluster, a leading and b standing by
    await startCluster();
    const [a, b] = await startLeaderThenStandby((i) => replicaEnv(i), 80_000);
    if (!fleet || !leases || !cloudWatch) throw new Error('the cluster did not start');

    // WHEN a can no longer reach the Lease (its scrapes still work), THEN it stops leading and b takes over
    leases.partition('collector-a');
    await a.waitForLog((l) => l.msg === 'stopped leading', 10_000);
    await b.waitForLog((l) => l.msg === 'became the leader', 10_000);
    leases.heal('collector-a');
    await waitForLogCount(b, 'cycle done', 1, 10_000);
    // WHEN node a's counter grows by 50 while b leads, and b publishes it
    fleet.setPayload(0, withAddReq(NODE_A, ADD_REQ.a + 50));
    await waitFor(() => printedCycles(b).some((c) => c.values.addReqCount === 50), 10_000, 'b publishes the increase of 50');
    // AND then b is cut off, so a leads again
    const aCyclesBefore = printedCycles(a).length;
    leases.partition('collector-b');
    await b.waitForLog((l) => l.msg === 'stopped leading', 10_000);
    await waitForLogCount(a, 'became the leader', 2, 10_000);
    await waitFor(() => printedCycles(a).length >= aCyclesBefore + 2, 12_000, 'a publishes two cycles in its second term');
    leases.heal('collector-b');
    a.child.kill('SIGTERM');
    b.child.kill('SIGTERM');
    expect([await a.exited, await b.exited]).toEqual([0, 0]);

    // THEN a's first cycle of its second term is a baseline: the 50 b already published is not published again
    const secondTerm = printedCycles(a).slice(aCyclesBefore);
    expect(secondTerm[0].values).not.toHaveProperty('addReqCount');
    expect(secondTerm[0].values.assignIPAddresses).toBe(17 + 24);
    expect(sumAddReq(printedCycles(a)) + sumAddReq(printedCycles(b))).toBe(50);
    // AND no cycle's timestamp was published by both, and CloudWatch stored nothing twice
    const aTimes = new Set(printedCycles(a).map((c) => c.timestampMs));
    expect(printedCycles(b).filter((c) => aTimes.has(c.timestampMs))).toEqual([]);
    expectEachStoredOnce(cloudWatch.datums);
    // AND the terms did not overlap: each replica's printed cycles fall inside its own terms
    const termsOf = (run: CollectorRun): Array<[number, number]> => {
      const events = run.logs().filter((l) => l.msg === 'became the leader' || l.msg === 'stopped leading')
        .map((l) => ({ msg: l.msg, at: Date.parse(String(l.time)) }));
      const terms: Array<[number, number]> = [];
      for (const e of events) {
        if (e.msg === 'became the leader') terms.push([e.at, Infinity]);
        else if (terms.length > 0) terms[terms.length - 1][1] = e.at;
      }
      return terms;
    };
    for (const [run, name] of [[a, 'a'], [b, 'b']] as const) {
      const terms = termsOf(run);
      for (const c of printedCycles(run)) {
        expect([name, c.timestampMs, terms.some(([from, to]) => c.timestampMs >= from - 5 && c.timestampMs <= to)]).toEqual([name, c.timestampMs, true]);
      }
    }
  }, 90_000);
});

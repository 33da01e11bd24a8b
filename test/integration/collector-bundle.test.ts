/**
 * The bundled collector end to end, against real servers on loopback: a Kubernetes API server
 * listing aws-node pods, ipamd endpoints serving fixture text on 127.0.0.x, and a CloudWatch
 * endpoint decoding what the real AWS SDK sends.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { CATALOG } from '../../common/catalog';
import { CloudWatchServer, startCloudWatchServer } from '../support/cloudwatch-server';
import { loopbackCollectorEnv, startCollector } from '../support/collector-process';
import { IpamdBehaviour, IpamdFleet, fleetKubePods, startIpamdFleet } from '../support/ipamd-fleet';
import { KubeApiServer, startKubeApiServer } from '../support/kube-api-server';
import { GAUGES_A_PLUS_B, NODE_A, NODE_B, TOKEN, storedCycleTimestamps, storedValuesAt, waitFor } from '../support/loopback-cluster';

const GARBAGE = fs.readFileSync(path.resolve(__dirname, '..', 'fixtures', 'ipamd', 'garbage.prom'), 'utf8');

interface Cluster {
  fleet: IpamdFleet;
  kube: KubeApiServer;
  cloudWatch: CloudWatchServer;
  env: Record<string, string>;
}

async function startCluster(payloads: string[], behaviours: IpamdBehaviour[], extraEnv: Record<string, string>): Promise<Cluster> {
  const fleet = await startIpamdFleet({
    count: payloads.length,
    payload: (i) => payloads[i],
    behaviour: (i) => behaviours[i] ?? 'ok',
  });
  const kube = await startKubeApiServer({ token: TOKEN, pods: fleetKubePods(fleet) });
  const cloudWatch = await startCloudWatchServer();
  const env = loopbackCollectorEnv({
    KUBECONFIG: kube.writeKubeconfig(),
    AWS_CLUSTER_ID: 'loopback-cluster',
    AWS_ENDPOINT_URL_CLOUDWATCH: cloudWatch.url,
    IPAMD_METRICS_PORT: String(fleet.port),
    SCRAPE_TIMEOUT_MS: '1000',
    POD_LIST_PAGE_SIZE: '2',
    ...extraEnv,
  });
  return { fleet, kube, cloudWatch, env };
}

async function stopCluster(c: Cluster | undefined): Promise<void> {
  if (!c) return;
  await Promise.all([c.fleet.close(), c.kube.close(), c.cloudWatch.close()]);
}

describe('bundled collector on loopback', () => {
  let cluster: Cluster | undefined;
  afterEach(async () => {
    await stopCluster(cluster);
    cluster = undefined;
  });

  test('--once in direct mode publishes the exact cluster figures despite a hanging and a garbage node, through throttling', async () => {
    // GIVEN node-a and node-b healthy, one node that never answers and one that serves an HTML page,
    // AND CloudWatch throttling the first request
    cluster = await startCluster([NODE_A, NODE_B, NODE_A, GARBAGE], ['ok', 'ok', 'hang', 'ok'], { SCRAPE_MODE: 'direct' });
    cluster.cloudWatch.faults.push('throttling');

    // WHEN the bundle runs one cycle
    const run = startCollector(['--once'], cluster.env);
    const code = await run.exited;

    // THEN it exits 0 and CloudWatch holds exactly one cycle: gauges of a+b and the health figures
    expect({ code, stderr: code === 0 ? '' : run.logs() }).toEqual({ code: 0, stderr: '' });
    const { datums, requests, protocolErrors } = cluster.cloudWatch;
    expect(protocolErrors).toEqual([]);
    expect(requests.map((r) => r.answer)).toEqual(['throttling', 'ok']);
    expect(requests[1].input.MetricData).toHaveLength(requests[0].input.MetricData.length);
    const [cycle] = storedCycleTimestamps(datums);
    expect(storedCycleTimestamps(datums)).toHaveLength(1);
    const values = storedValuesAt(datums, cycle);
    const { collectorCycleDuration, ...rest } = values;
    // First sighting of every node is a baseline: no counter or latency datum yet.
    expect(rest).toEqual({
      ...GAUGES_A_PLUS_B,
      collectorNodesDiscovered: 4,
      collectorNodesScraped: 2,
      collectorNodesFailed: 2,
    });
    // The hanging node costs its timeout, not the cycle.
    expect(collectorCycleDuration).toBeGreaterThanOrEqual(1000);
    expect(collectorCycleDuration).toBeLessThan(10_000);
    for (const d of datums) {
      expect(d.Namespace).toBe('Kubernetes');
      expect(d.Dimensions).toEqual([{ Name: 'CLUSTER_ID', Value: 'loopback-cluster' }]);
      expect(d.Unit).toBe(CATALOG.find((m) => m.metricName === d.MetricName)!.unit);
    }
    // The bad nodes are named in the logs, the garbage one with its line number.
    const summaries = run.logs().filter((l) => l.msg === 'nodes failed this cycle');
    expect(summaries).toEqual([expect.objectContaining({ failed: 2 })]);
    const failures = summaries[0].named as Array<{ error: string }>;
    expect(failures).toHaveLength(2);
    expect(failures.map((f) => f.error).join('\n')).toMatch(/line 1/);
    expect(run.logs().find((l) => l.msg === 'cycle done')).toMatchObject({ nodes: 4, nodesOk: 2, nodesFailed: 2, datums: datums.length, datumsSent: datums.length });
  });

  test('in proxy mode counters are per-node deltas across cycles (a reset counts from zero), then SIGTERM exits 0', async () => {
    // GIVEN two nodes scraped through the API server's pod proxy every second
    cluster = await startCluster([NODE_A, NODE_B], [], { SCRAPE_MODE: 'proxy', METRIC_UPDATE_INTERVAL: '1' });
    const run = startCollector(['--print'], cluster.env);
    await run.waitForLog((l) => l.msg === 'cycle done', 20_000);

    // WHEN node-a handles 10 more add requests and node-b's ipamd restarts (its counter drops to 5)
    cluster.fleet.setPayload(0, NODE_A.replace(/^awscni_add_ip_req_count 1342$/m, 'awscni_add_ip_req_count 1352'));
    cluster.fleet.setPayload(1, NODE_B.replace(/^awscni_add_ip_req_count 2187$/m, 'awscni_add_ip_req_count 5'));
    const firstCycles = run.logs().filter((l) => l.msg === 'cycle done').length;
    await run.waitForLog(() => run.logs().filter((l) => l.msg === 'cycle done').length >= firstCycles + 1, 20_000);
    await waitFor(() => cluster!.cloudWatch.datums.some((d) => d.MetricName === 'addReqCount'), 10_000, 'an addReqCount datum at CloudWatch');
    run.child.kill('SIGTERM');
    const code = await run.exited;

    // THEN the first datum of addReqCount is 10 + 5, not upstream's cluster-wide subtraction
    expect(code).toBe(0);
    const addReq = cluster.cloudWatch.datums.filter((d) => d.MetricName === 'addReqCount').map((d) => d.Value);
    expect(addReq[0]).toBe(15);
    // Later cycles without change read 0.
    expect(addReq.slice(1).every((v) => v === 0)).toBe(true);
    // Gauges are the same a+b figures every cycle (published once per cycle, never summed twice).
    for (const t of storedCycleTimestamps(cluster.cloudWatch.datums)) {
      expect(storedValuesAt(cluster.cloudWatch.datums, t).assignIPAddresses).toBe(41);
    }
    // Scrapes went through the proxy, and --print wrote the same datums to stdout as JSON lines.
    expect(cluster.kube.counters.proxies).toBeGreaterThanOrEqual(4);
    const printed = run.stdout().trim().split('\n').map((l) => JSON.parse(l));
    expect(printed).toContainEqual(expect.objectContaining({ metric: 'addReqCount', value: 15, cluster: 'loopback-cluster' }));
    expect(cluster.cloudWatch.protocolErrors).toEqual([]);
  });

  test('SIGTERM during a cycle while CloudWatch was down flushes every buffered cycle with its own timestamp', async () => {
    // GIVEN CloudWatch answering 503 to everything, and a node that hangs so each cycle lasts ~1 s
    cluster = await startCluster([NODE_A, NODE_B], ['ok', 'hang'], { SCRAPE_MODE: 'direct', METRIC_UPDATE_INTERVAL: '1' });
    for (let i = 0; i < 1000; i++) cluster.cloudWatch.faults.push('serviceUnavailable');
    const run = startCollector([], cluster.env);
    // WHEN two cycles have been produced and not delivered
    await run.waitForLog(() => run.logs().filter((l) => l.msg === 'cycle done').length >= 2, 30_000);
    expect(cluster.cloudWatch.datums).toHaveLength(0);
    // AND CloudWatch comes back, and SIGTERM arrives while the next cycle waits on the hanging node
    cluster.cloudWatch.faults.length = 0;
    // The next cycle has started and is waiting on the hanging node (1 s timeout).
    await new Promise((r) => setTimeout(r, 300));
    run.child.kill('SIGTERM');
    const code = await run.exited;

    // THEN it exits 0 and CloudWatch received every cycle the collector logged, each with its own time
    expect(code).toBe(0);
    const cycles = run.logs().filter((l) => l.msg === 'cycle done').length;
    expect(cycles).toBeGreaterThanOrEqual(3);
    const stamps = storedCycleTimestamps(cluster.cloudWatch.datums);
    expect(stamps).toHaveLength(cycles);
    for (const t of stamps) expect(storedValuesAt(cluster.cloudWatch.datums, t).collectorNodesDiscovered).toBe(2);
    expect(run.logs().find((l) => l.msg === 'collector stopped')).toMatchObject({ unsentDatums: 0 });
  });

  test('--once exits non-zero when nothing could be published', async () => {
    // GIVEN every node failing
    cluster = await startCluster([GARBAGE, GARBAGE], [], { SCRAPE_MODE: 'direct' });
    const run = startCollector(['--once'], cluster.env);
    // THEN the exit code says so, and the health figures still went out
    expect(await run.exited).toBe(1);
    const values = storedValuesAt(cluster.cloudWatch.datums, storedCycleTimestamps(cluster.cloudWatch.datums)[0]);
    expect(values).toMatchObject({ collectorNodesDiscovered: 2, collectorNodesScraped: 0, collectorNodesFailed: 2 });
  });

  test('a bad setting stops start-up with one line naming the variable', async () => {
    const run = startCollector(['--once'], loopbackCollectorEnv({ AWS_CLUSTER_ID: 'c', METRIC_UPDATE_INTERVAL: '0' }));
    expect(await run.exited).toBe(2);
    const lines = run.logs();
    expect(lines).toHaveLength(1);
    expect(lines[0].raw).toMatch(/METRIC_UPDATE_INTERVAL="0" is invalid/);
  });
});

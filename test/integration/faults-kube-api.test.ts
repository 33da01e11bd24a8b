/**
 * Kubernetes API faults, end to end: the bundled collector lists aws-node pods from a loopback API
 * server that throttles, fails, expires continue tokens, and goes away for a cycle.
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { startCollector } from '../support/collector-process';
import {
  ADD_REQ, ASSIGNED, GAUGES_A_PLUS_B, LoopbackCluster, NODE_A, NODE_B, asStored, logsNamed, printedDatums,
  startLoopbackCluster, storedCycleTimestamps, storedValuesAt, waitFor, waitForLogCount, waitForPrintedCycles, withAddReq,
} from '../support/loopback-cluster';

describe('bundled collector: Kubernetes API faults', () => {
  let cluster: LoopbackCluster | undefined;
  let tempDir: string | undefined;
  afterEach(async () => {
    await cluster?.stop();
    cluster = undefined;
    if (tempDir) fs.rmSync(tempDir, { recursive: true, force: true });
    tempDir = undefined;
  });

  test('the long-running collector lists once and then follows a watch: more cycles, no more lists', async () => {
    // GIVEN a collector running every second with the default AWS_NODE_WATCH (on)
    cluster = await startLoopbackCluster([NODE_A, NODE_B]);
    const run = startCollector(['--print'], cluster.env, 30_000);

    // WHEN it has run a cycle from the cache, and four more after it
    await waitForLogCount(run, 'aws-node pods come from the watch cache', 1);
    const listsWhenCached = cluster.kube.counters.lists;
    const cyclesWhenCached = logsNamed(run, 'cycle done').length;
    await waitFor(() => logsNamed(run, 'cycle done').length >= cyclesWhenCached + 4, 10_000, 'four cycles from the cache');
    run.child.kill('SIGTERM');
    expect(await run.exited).toBe(0);

    // THEN those cycles made no list call (the cache's one list, plus at most one cycle's own list
    // before the cache synced), a watch was opened, and each cycle still published both nodes' gauges
    expect(cluster.kube.counters.lists).toBe(listsWhenCached);
    expect(listsWhenCached).toBeLessThanOrEqual(2);
    expect(cluster.kube.counters.watches).toBeGreaterThanOrEqual(1);
    const last = printedDatums(run).filter((d) => d.metric === 'assignIPAddresses').pop();
    expect(last?.value).toBe(ASSIGNED.a + ASSIGNED.b);
  });

  test('429 (with Retry-After), 500 and 503 answers are retried with backoff and the cycle still publishes', async () => {
    // GIVEN an API server that answers the first three pod lists with 429 (Retry-After: 1), 500 and 503
    cluster = await startLoopbackCluster([NODE_A, NODE_B]);
    cluster.kube.failNextLists(1, { status: 429, retryAfterSeconds: 1 });
    cluster.kube.failNextLists(1, { status: 500 });
    cluster.kube.failNextLists(1, { status: 503 });

    // WHEN the bundle runs one cycle
    const run = startCollector(['--once'], cluster.env, 30_000);

    // THEN the fourth and last allowed attempt lists the pods and the cycle publishes exact figures
    expect(await run.exited).toBe(0);
    expect(cluster.kube.requests.filter((r) => r.kind === 'list').map((r) => r.status)).toEqual([429, 500, 503, 200]);
    // Retry-After is honoured (1 s), then the backoff doubles from its base (250 ms): 500 ms, 1000 ms.
    const retries = logsNamed(run, 'pod list failed; retrying');
    expect(retries.map((l) => [l.attempt, l.delayMs])).toEqual([[1, 1000], [2, 500], [3, 1000]]);
    expect(retries.map((l) => String(l.error))).toEqual([
      expect.stringMatching(/HTTP 429: injected fault/), expect.stringMatching(/HTTP 500/), expect.stringMatching(/HTTP 503/),
    ]);
    const [cycle] = storedCycleTimestamps(cluster.cloudWatch.datums);
    expect(storedValuesAt(cluster.cloudWatch.datums, cycle)).toMatchObject({ ...GAUGES_A_PLUS_B, collectorNodesDiscovered: 2, collectorNodesScraped: 2 });
  }, 30_000);

  test('a continue token that expires mid-list (410 Gone) restarts the list, and every pod is counted once', async () => {
    // GIVEN three nodes listed one pod a page, each page answered after 300 ms
    cluster = await startLoopbackCluster([NODE_A, NODE_B, NODE_A], [], { POD_LIST_PAGE_SIZE: '1' });
    const { kube } = cluster;
    kube.setListDelay(300);

    // WHEN the snapshot behind the continue tokens is compacted away once the first page is out
    const run = startCollector(['--once'], cluster.env, 30_000);
    await waitFor(() => kube.requests.some((r) => r.kind === 'list' && r.status === 200), 10_000, 'the first page');
    kube.expireContinueTokens();

    // THEN the continued request gets 410, the next request starts again from the first page,
    // and the cycle counts each of the three nodes exactly once
    expect(await run.exited).toBe(0);
    const lists = kube.requests.filter((r) => r.kind === 'list');
    const gone = lists.findIndex((r) => r.status === 410);
    expect(lists.filter((r) => r.status === 410)).toHaveLength(1);
    expect(lists[gone].url).toMatch(/[?&]continue=/);
    expect(lists[gone + 1].url).not.toMatch(/[?&]continue=/);
    expect(lists.slice(gone + 1).map((r) => r.status)).toEqual([200, 200, 200]);
    expect(logsNamed(run, 'pod list continue token expired; listing again from the first page')).toHaveLength(1);
    const [cycle] = storedCycleTimestamps(cluster.cloudWatch.datums);
    expect(storedValuesAt(cluster.cloudWatch.datums, cycle)).toMatchObject({
      assignIPAddresses: 2 * ASSIGNED.a + ASSIGNED.b, collectorNodesDiscovered: 3, collectorNodesScraped: 3,
    });
  }, 30_000);

  test('a cycle whose pod list fails beyond the retry budget is reported, and the next cycle recovers with the increase across the gap', async () => {
    // GIVEN a collector running every second that has published one cycle
    cluster = await startLoopbackCluster([NODE_A, NODE_B]);
    const run = startCollector(['--print'], { ...cluster.env, AWS_NODE_WATCH: 'false' }, 30_000);
    await waitForPrintedCycles(run, 1);

    // WHEN the API server answers 500 to the next four list calls (every attempt of one cycle),
    // while node-a handles 7 more add requests
    cluster.kube.failNextLists(4, { status: 500 });
    cluster.fleet.setPayload(0, withAddReq(NODE_A, ADD_REQ.a + 7));

    // THEN that cycle logs why it failed
    await waitForLogCount(run, 'cycle failed: could not list aws-node pods', 1);
    const [failure] = logsNamed(run, 'cycle failed: could not list aws-node pods');
    expect(String(failure.error)).toMatch(/listNamespacedPod\(namespace='kube-system', labelSelector='k8s-app=aws-node'\) failed: HTTP 500.* \(after 4 attempts\)/);
    // AND the next one lists, scrapes and publishes, counting node-a's 7 across the failed cycle
    const cycles = await waitForPrintedCycles(run, 2);
    expect(cycles[1].values).toMatchObject({ addReqCount: 7, collectorNodesDiscovered: 2, collectorNodesScraped: 2 });
    run.child.kill('SIGTERM');
    expect(await run.exited).toBe(0);
    // The failed cycle published nothing (no drop to report), so CloudWatch holds only the good cycles.
    expect(cluster.cloudWatch.datums).toEqual(printedDatums(run).map(asStored));
    expect(storedCycleTimestamps(cluster.cloudWatch.datums).slice(0, 2)).toEqual(cycles.slice(0, 2).map((c) => c.timestampMs));
  }, 30_000);

  test('continue tokens A, B, A end that cycle\'s list with the loop named, and the next cycle lists again and publishes', async () => {
    // GIVEN an API server whose first three list calls answer continue tokens A, B, A (then it mends)
    cluster = await startLoopbackCluster([NODE_A, NODE_B]);
    cluster.kube.setListOverride((call) => (call.count <= 3 ? { kind: 'page', pods: [], continue: call.count === 2 ? 'B' : 'A' } : undefined));

    // WHEN the bundle runs
    const run = startCollector(['--print'], { ...cluster.env, AWS_NODE_WATCH: 'false' }, 30_000);

    // THEN the first cycle fails after exactly three list calls, saying why
    await waitForLogCount(run, 'cycle failed: could not list aws-node pods', 1);
    const [failure] = logsNamed(run, 'cycle failed: could not list aws-node pods');
    expect(String(failure.error)).toMatch(/returned a continue token it had returned before \(page 3\)/);
    // AND the next cycle lists from the first page and publishes both nodes
    const cycles = await waitForPrintedCycles(run, 1);
    expect(cycles[0].values).toMatchObject({ ...GAUGES_A_PLUS_B, collectorNodesDiscovered: 2, collectorNodesScraped: 2 });
    run.child.kill('SIGTERM');
    expect(await run.exited).toBe(0);
    const lists = cluster.kube.requests.filter((r) => r.kind === 'list');
    expect(lists[3].url).not.toMatch(/[?&]continue=/);
    expect(lists.slice(0, 3).map((r) => r.status)).toEqual([200, 200, 200]);
  }, 30_000);

  test('endless pages stop at the page cap (2 x ceil(110,000 / 500) + 8 = 448 calls), and the --once cycle exits 1', async () => {
    // GIVEN an API server that answers every list call with an empty page and a fresh continue token
    cluster = await startLoopbackCluster([NODE_A]);
    cluster.kube.setListOverride((call) => ({ kind: 'page', pods: [], continue: `t${call.count}` }));

    // WHEN the bundle runs one cycle with the default page size (500)
    const run = startCollector(['--once'], cluster.env, 30_000);

    // THEN the list ends after the cap, with an error naming it
    expect(await run.exited).toBe(1);
    expect(cluster.kube.counters.lists).toBe(448);
    const [failure] = logsNamed(run, 'cycle failed: could not list aws-node pods');
    expect(String(failure.error)).toMatch(/still had more pages after 448 pages of limit 500, more than 110000 pods could fill/);
  }, 30_000);

  test('an API server that is not there fails the --once cycle with a message naming the refusal, and exits 1', async () => {
    // GIVEN a kubeconfig whose API server no longer listens
    cluster = await startLoopbackCluster([NODE_A]);
    tempDir = fs.mkdtempSync(path.join(os.tmpdir(), 'faults-kube-'));
    const kubeconfig = path.join(tempDir, 'kubeconfig');
    fs.writeFileSync(kubeconfig, cluster.kube.kubeconfigYaml);
    await cluster.kube.close();

    // WHEN the bundle runs one cycle
    const run = startCollector(['--once'], { ...cluster.env, KUBECONFIG: kubeconfig }, 30_000);

    // THEN every attempt is refused, the cycle says so, nothing reaches CloudWatch, and the exit code is 1
    expect(await run.exited).toBe(1);
    expect(logsNamed(run, 'pod list failed; retrying')).toHaveLength(3);
    const [failure] = logsNamed(run, 'cycle failed: could not list aws-node pods');
    expect(String(failure.error)).toMatch(/ECONNREFUSED.*\(after 4 attempts\)/);
    expect(cluster.cloudWatch.requests).toHaveLength(0);
  }, 30_000);
});

/**
 * SCRAPE_WORKERS: the bundled collector splits the nodes over worker threads (runtime/shards.ts),
 * each scraping and aggregating its share; the main thread merges their parts. What it prints and
 * stores must be what one thread computes, worked out by hand from the fixtures
 * (test/fixtures/ipamd/README.md), counter deltas across cycles included.
 */
import { startCollector } from '../support/collector-process';
import {
  ADD_REQ, GAUGES_A_PLUS_B, LoopbackCluster, NODE_A, NODE_B, asStored, logsNamed, printedDatums, startLoopbackCluster,
  waitForPrintedCycles, withAddReq,
} from '../support/loopback-cluster';

let cluster: LoopbackCluster | undefined;
afterEach(async () => {
  await cluster?.stop();
  cluster = undefined;
});

describe('bundled collector with scrape workers', () => {
  test.each(['direct', 'proxy'])('3 workers over 5 nodes (%s): the cluster figures of one thread, deltas included', async (mode) => {
    // GIVEN nodes a, b, a, b and one that never answers, scraped by 3 workers
    cluster = await startLoopbackCluster([NODE_A, NODE_B, NODE_A, NODE_B, NODE_A], ['ok', 'ok', 'ok', 'ok', 'hang'],
      { SCRAPE_WORKERS: '3', SCRAPE_MODE: mode });
    const { fleet } = cluster;
    const run = startCollector(['--print'], cluster.env, 40_000);

    // WHEN the first cycle is printed
    const [first] = await waitForPrintedCycles(run, 1, 20_000);
    // THEN the gauges are twice a + b, the extremes those of a and b, and no counter delta yet (baselines)
    expect(first.values).toMatchObject({
      eniMaxAvailable: 2 * GAUGES_A_PLUS_B.eniMaxAvailable,
      assignIPAddresses: 2 * GAUGES_A_PLUS_B.assignIPAddresses,
      totalIPAddresses: 2 * GAUGES_A_PLUS_B.totalIPAddresses,
      minAvailableIPsPerNode: GAUGES_A_PLUS_B.minAvailableIPsPerNode,
      maxNodeIPUtilization: GAUGES_A_PLUS_B.maxNodeIPUtilization,
      cniVersionCount: 1,
      collectorNodesDiscovered: 5,
      collectorNodesScraped: 4,
      collectorNodesFailed: 1,
    });
    expect(first.values.addReqCount).toBeUndefined();

    // WHEN the four answering nodes add 10, 3, 5 and 0 requests
    fleet.setPayload(0, withAddReq(NODE_A, ADD_REQ.a + 10));
    fleet.setPayload(1, withAddReq(NODE_B, ADD_REQ.b + 3));
    fleet.setPayload(2, withAddReq(NODE_A, ADD_REQ.a + 5));
    // (a cycle in flight may see some of the changes: two more cycles see them all)
    const seenBefore = (await waitForPrintedCycles(run, 1)).length;
    const cycles = await waitForPrintedCycles(run, seenBefore + 2, 20_000);
    // THEN the cycles after the first count 10 + 3 + 5 + 0 = 18 in all, wherever each node's state lives
    // (a node whose state were lost between cycles would count as a baseline, not its increase)
    const counted = cycles.slice(1).reduce((sum, c) => sum + (c.values.addReqCount ?? Number.NaN), 0);
    expect(counted).toBe(18);

    run.child.kill('SIGTERM');
    expect(await run.exited).toBe(0);
    // AND no worker failed, and CloudWatch stored what was printed
    expect(run.logs().filter((l) => typeof l.msg === 'string' && /scrape worker/.test(l.msg))).toEqual([]);
    expect(logsNamed(run, 'cycle done').length).toBeGreaterThanOrEqual(3);
    expect(cluster.cloudWatch.datums).toEqual(printedDatums(run).map(asStored));
  }, 60_000);

  test('SIGTERM while a worker waits on a trickling node: the grace aborts the worker\'s scrapes and the collector exits 0', async () => {
    // GIVEN a node that trickles its body for ever, with a scrape timeout far past the 5 s grace, and 2 workers
    cluster = await startLoopbackCluster([NODE_A, NODE_B, NODE_A], ['ok', 'ok', 'slow-body'], { SCRAPE_WORKERS: '2', SCRAPE_TIMEOUT_MS: '60000' });
    const run = startCollector(['--print'], cluster.env, 40_000);
    await run.waitForLog((l) => typeof l.msg === 'string', 10_000);
    // (the first cycle cannot finish: the trickling node holds it)
    await new Promise((resolve) => setTimeout(resolve, 1_500));
    // WHEN the collector is told to stop
    const signalled = Date.now();
    run.child.kill('SIGTERM');
    // THEN it exits 0 after the 5 s grace, well inside Kubernetes' 30 s
    expect(await run.exited).toBe(0);
    const exitMs = Date.now() - signalled;
    expect(exitMs).toBeGreaterThanOrEqual(4_500);
    expect(exitMs).toBeLessThan(12_000);
    expect(run.logs().filter((l) => l.msg === 'stop budget exceeded; exiting with what is still held')).toEqual([]);
    // AND the worker answered the abort itself (it was not given up on)
    expect(run.logs().filter((l) => typeof l.msg === 'string' && /did not answer an abort/.test(l.msg))).toEqual([]);
  }, 60_000);
});

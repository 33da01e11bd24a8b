/**
 * Stopping in the middle of a cycle: SIGTERM (Kubernetes) and SIGINT (a terminal) while a node hangs
 * and CloudWatch holds undelivered datums. The collector gives the cycle its grace (5 s), aborts the
 * scrape still open, publishes the cycle, flushes (until 20 s after the signal) and exits 0.
 * Stopping under each outside fault is in faults-stop.test.ts.
 */
import { startCollector } from '../support/collector-process';
import {
  LoopbackCluster, NODE_A, NODE_B, asStored, logsNamed, printedDatums, startLoopbackCluster, waitFor,
  waitForLogCount, waitForPrintedCycles,
} from '../support/loopback-cluster';

/** main.ts: CYCLE_GRACE_MS + FLUSH_AFTER_GRACE_MS. */
const GRACE_PLUS_FLUSH_MS = 5_000 + 15_000;

describe('bundled collector: stop signals mid-cycle', () => {
  const clusters: LoopbackCluster[] = [];
  afterEach(async () => {
    await Promise.all(clusters.splice(0).map((c) => c.stop()));
  });

  async function stopMidCycle(signal: 'SIGTERM' | 'SIGINT'): Promise<void> {
    // GIVEN a collector whose first cycle CloudWatch refused (503), so that cycle is buffered,
    // with a scrape timeout longer than the grace
    const cluster = await startLoopbackCluster([NODE_A, NODE_B], [], { SCRAPE_TIMEOUT_MS: '60000' });
    clusters.push(cluster);
    cluster.cloudWatch.faults.push(...Array<'serviceUnavailable'>(1000).fill('serviceUnavailable'));
    const run = startCollector(['--print'], cluster.env, 40_000);
    await waitForPrintedCycles(run, 1);
    await waitForLogCount(run, 'CloudWatch sink: PutMetricData failed; datums kept for retry', 1);

    // AND node-1 hanging in the second cycle
    cluster.fleet.setBehaviour(1, 'hang');
    await waitFor(() => cluster.fleet.counters.requestsPerEndpoint[1] >= 2 && cluster.fleet.counters.inFlight >= 1,
      10_000, 'the second cycle waiting on node-1');

    // WHEN CloudWatch is back and the signal arrives while that cycle waits
    cluster.cloudWatch.faults.length = 0;
    const signalledAt = Date.now();
    run.child.kill(signal);
    const code = await run.exited;
    const stoppedAfterMs = Date.now() - signalledAt;

    // THEN it exits 0 within the grace and the flush deadline
    expect({ signal, code }).toEqual({ signal, code: 0 });
    expect(stoppedAfterMs).toBeLessThan(GRACE_PLUS_FLUSH_MS);
    expect(logsNamed(run, 'stop requested; finishing the cycle and flushing')).toEqual([expect.objectContaining({ signal })]);
    // AND the open cycle was ended by aborting node-1's scrape, and published without it
    const failures = logsNamed(run, 'nodes failed this cycle');
    expect(failures).toEqual([expect.objectContaining({ failed: 1, byReason: { aborted: 1 } })]);
    expect(failures[0].named).toEqual([expect.objectContaining({ node: 'node-1', error: expect.stringMatching(/aborted while connecting and waiting for response headers/) })]);
    const printed = printedDatums(run);
    expect(new Set(printed.map((d) => d.timestamp)).size).toBe(2);
    expect(printed.filter((d) => d.metric === 'collectorNodesFailed').map((d) => d.value)).toEqual([0, 1]);
    // AND both cycles, the one CloudWatch had refused included, reached it with their own timestamps
    expect(cluster.cloudWatch.datums).toEqual(printed.map(asStored));
    expect(logsNamed(run, 'collector stopped')).toEqual([expect.objectContaining({ unsentDatums: 0, dropsUnreported: 0 })]);
  }

  test('SIGTERM and SIGINT in the middle of a cycle each end it within the grace, flush the buffer and exit 0', async () => {
    // The two runs share nothing (own servers and ports), so they run side by side.
    await Promise.all([stopMidCycle('SIGTERM'), stopMidCycle('SIGINT')]);
  }, 45_000);
});

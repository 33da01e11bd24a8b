/**
 * The bundled collector's probes over real HTTP on IPv4 and IPv6 loopback: readiness follows
 * CloudWatch's answers (not ready after UNREADY_AFTER_PUBLISH_FAILURES cycles in which it took
 * nothing, ready again once it takes the buffer), and liveness stays up because the loop runs.
 */
import { startCollector } from '../support/collector-process';
import { LoopbackCluster, NODE_A, NODE_B, logsNamed, startLoopbackCluster, waitFor } from '../support/loopback-cluster';
import { freePort, probe } from '../support/health-probe';

describe('bundled collector: health endpoints', () => {
  let cluster: LoopbackCluster | undefined;
  afterEach(async () => {
    await cluster?.stop();
    cluster = undefined;
  });

  test('readiness drops after two cycles CloudWatch refused and returns when it accepts; liveness holds; both on IPv4 and IPv6', async () => {
    // GIVEN CloudWatch answering 503 to everything, and a collector that is unready after 2 such cycles
    const port = await freePort();
    cluster = await startLoopbackCluster([NODE_A, NODE_B], [], { HEALTH_PORT: String(port), UNREADY_AFTER_PUBLISH_FAILURES: '2' });
    cluster.cloudWatch.faults.push(...Array<'serviceUnavailable'>(1000).fill('serviceUnavailable'));
    const run = startCollector([], cluster.env, 40_000);
    try {
      await run.waitForLog((l) => l.msg === 'collector started', 10_000);
      expect(logsNamed(run, 'collector started')[0]).toMatchObject({ healthAddress: '::' });

      // THEN it turns unready once two cycles' publishes failed, while alive on both families
      await run.waitForLog((l) => l.msg === 'cycle done' && Number(l.publishFailureStreak) >= 2, 15_000);
      for (const host of ['127.0.0.1', '[::1]']) {
        expect(await probe(`http://${host}:${port}/readyz`)).toEqual({ status: 503, body: expect.stringMatching(/^publishing failed for \d+ consecutive cycles$/) });
        expect(await probe(`http://${host}:${port}/healthz`)).toEqual({ status: 200, body: 'ok' });
      }

      // WHEN CloudWatch accepts again
      cluster.cloudWatch.faults.length = 0;
      // THEN the buffer goes out and it is ready again
      await waitFor(() => cluster!.cloudWatch.datums.length > 0, 15_000, 'CloudWatch to store the buffer');
      await run.waitForLog((l) => l.msg === 'cycle done' && l.publishFailureStreak === 0 && Number(l.datumsSent) > 0, 15_000);
      // (the health state is updated just after the cycle logs its line)
      let ready = await probe(`http://[::1]:${port}/readyz`);
      for (let i = 0; i < 20 && ready.status !== 200; i++) {
        await new Promise((resolve) => setTimeout(resolve, 100));
        ready = await probe(`http://[::1]:${port}/readyz`);
      }
      expect(ready).toEqual({ status: 200, body: 'ready' });
    } finally {
      run.child.kill('SIGTERM');
      expect(await run.exited).toBe(0);
    }
  }, 60_000);
});

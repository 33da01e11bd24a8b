import { HealthServer, HealthState } from '../../runtime/health-server';

describe('HealthServer', () => {
  test('is not ready before the first cycle and ready after it', () => {
    const state: HealthState = { startedMs: 0 };
    const server = new HealthServer(state, 1000, () => 500);
    expect(server.answer('/readyz').status).toBe(503);
    state.lastCycleEndMs = 400;
    expect(server.answer('/readyz').status).toBe(200);
  });

  test('liveness fails once no cycle has finished within the stale bound', () => {
    let now = 0;
    const state: HealthState = { startedMs: 0, lastCycleEndMs: 0 };
    const server = new HealthServer(state, 1000, () => now);
    now = 999;
    expect(server.answer('/healthz').status).toBe(200);
    now = 1001;
    expect(server.answer('/healthz')).toEqual({ status: 503, body: 'no cycle finished for 1001 ms' });
  });

  test('answers real HTTP on loopback and stops twice harmlessly', async () => {
    const state: HealthState = { startedMs: Date.now(), lastCycleEndMs: Date.now() };
    const server = new HealthServer(state, 60_000);
    await server.start(0, '127.0.0.1');
    const port = server.port;
    const ok = await fetch(`http://127.0.0.1:${port}/healthz`);
    expect(ok.status).toBe(200);
    const missing = await fetch(`http://127.0.0.1:${port}/metrics`);
    expect(missing.status).toBe(404);
    await server.stop();
    await server.stop();
  });
});

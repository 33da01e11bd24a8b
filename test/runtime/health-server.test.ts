import * as http from 'node:http';
import { HealthServer, HealthState } from '../../runtime/health-server';
import { listenOnAny } from '../../runtime/listen';

const RULES = { staleAfterMs: 1000, unreadyAfterPublishFailures: 3 };

describe('HealthServer', () => {
  test('is not ready until a cycle has scraped a node', () => {
    const state: HealthState = { startedMs: 0, publishFailureStreak: 0 };
    const server = new HealthServer(state, RULES, () => 500);
    expect(server.answer('/readyz')).toEqual({ status: 503, body: 'no cycle has scraped a node yet' });
    // A cycle that finished without scraping any node (say, the API answered 401) is not enough.
    state.lastCycleEndMs = 400;
    expect(server.answer('/readyz').status).toBe(503);
    state.lastScrapedCycleEndMs = 450;
    expect(server.answer('/readyz')).toEqual({ status: 200, body: 'ready' });
  });

  test('readiness fails when the last scraping cycle is stale, or publishing failed for the configured number of cycles', () => {
    let now = 1000;
    const state: HealthState = { startedMs: 0, lastCycleEndMs: 1000, lastScrapedCycleEndMs: 1000, publishFailureStreak: 0 };
    const server = new HealthServer(state, RULES, () => now);
    state.publishFailureStreak = 2;
    expect(server.answer('/readyz').status).toBe(200);
    state.publishFailureStreak = 3;
    expect(server.answer('/readyz')).toEqual({ status: 503, body: 'publishing failed for 3 consecutive cycles' });
    state.publishFailureStreak = 0;
    now = 2001;
    expect(server.answer('/readyz')).toEqual({ status: 503, body: 'no cycle scraped a node for 1001 ms' });
  });

  test('a standby is ready without any cycle (so a rollout proceeds), and live only while its loop ticks', () => {
    let now = 500;
    // GIVEN a replica that never scraped, standing by while another leads
    const state: HealthState = { startedMs: 0, publishFailureStreak: 0, standby: true, lastCycleEndMs: 400 };
    const server = new HealthServer(state, RULES, () => now);
    expect(server.answer('/readyz')).toEqual({ status: 200, body: 'ready (standby: another replica leads)' });
    expect(server.answer('/healthz').status).toBe(200);
    // WHEN its loop stops ticking, THEN liveness fails as for a leader
    now = 1401;
    expect(server.answer('/healthz')).toEqual({ status: 503, body: 'no cycle finished for 1001 ms' });
    // WHEN it becomes the leader, THEN readiness follows the leader's rule: no scraping cycle yet
    state.standby = false;
    expect(server.answer('/readyz')).toEqual({ status: 503, body: 'no cycle has scraped a node yet' });
  });

  test('liveness fails once no cycle has finished within the stale bound, whatever the cycles found', () => {
    let now = 0;
    const state: HealthState = { startedMs: 0, lastCycleEndMs: 0, publishFailureStreak: 50 };
    const server = new HealthServer(state, RULES, () => now);
    now = 999;
    expect(server.answer('/healthz').status).toBe(200);
    now = 1001;
    expect(server.answer('/healthz')).toEqual({ status: 503, body: 'no cycle finished for 1001 ms' });
  });

  test('answers real HTTP on IPv4 and IPv6 loopback from one dual-stack listener, and stops twice harmlessly', async () => {
    // GIVEN the default hosts (:: dual-stack, else 0.0.0.0)
    const state: HealthState = { startedMs: Date.now(), lastCycleEndMs: Date.now(), publishFailureStreak: 0 };
    const server = new HealthServer(state, { staleAfterMs: 60_000, unreadyAfterPublishFailures: 3 });
    await server.start(0);
    try {
      const port = server.port;
      // THEN on a machine with IPv6 it is bound to :: and answers on both families
      expect(server.address).toBe('::');
      expect((await fetch(`http://127.0.0.1:${port}/healthz`)).status).toBe(200);
      expect((await fetch(`http://[::1]:${port}/healthz`)).status).toBe(200);
      expect((await fetch(`http://[::1]:${port}/readyz`)).status).toBe(503);
      expect((await fetch(`http://127.0.0.1:${port}/metrics`)).status).toBe(404);
    } finally {
      await server.stop();
      await server.stop();
    }
  });
});

describe('listenOnAny', () => {
  test('falls back to the next host when an address is not on this machine', async () => {
    // GIVEN 192.0.2.1 (TEST-NET-1, on no interface here: EADDRNOTAVAIL, as :: is where IPv6 is absent)
    const server = http.createServer((_req, res) => res.end('ok'));
    const bound = await listenOnAny(server, 0, ['192.0.2.1', '127.0.0.1']);
    try {
      expect(bound).toBe('127.0.0.1');
      const port = (server.address() as { port: number }).port;
      expect(await (await fetch(`http://127.0.0.1:${port}/`)).text()).toBe('ok');
    } finally {
      await new Promise((resolve) => server.close(resolve));
    }
  });

  test('does not fall back when the port is taken: that is a real error', async () => {
    const first = http.createServer();
    await listenOnAny(first, 0, ['127.0.0.1']);
    const port = (first.address() as { port: number }).port;
    const second = http.createServer();
    try {
      await expect(listenOnAny(second, port, ['127.0.0.1', '127.0.0.2'])).rejects.toMatchObject({ code: 'EADDRINUSE' });
    } finally {
      await new Promise((resolve) => first.close(resolve));
    }
  });
});

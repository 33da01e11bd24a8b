/**
 * Liveness and readiness for the Deployment's probes, on IPv6 and IPv4 (runtime/listen.ts).
 * - /healthz (liveness): the loop is running, i.e. a cycle has finished within `staleAfterMs`
 *   (a wedged loop gets the pod restarted).
 * - /readyz (readiness): a cycle that scraped at least one node finished within `staleAfterMs`,
 *   and publishing has not failed for `unreadyAfterPublishFailures` consecutive cycles. A standby
 *   (leader election on, another replica holds the Lease) is ready: it runs no cycle, and a rollout
 *   must be able to proceed past it; it turns to the leader's rules once it leads.
 */
import * as http from 'node:http';
import { listenOnAny } from './listen';

export interface HealthState {
  readonly startedMs: number;
  /** ms since epoch of the last finished cycle, or undefined before the first. */
  lastCycleEndMs?: number;
  /** ms since epoch of the end of the last cycle that scraped at least one node. */
  lastScrapedCycleEndMs?: number;
  /** Consecutive cycles whose publish failed (CycleReport.publishFailureStreak of the last cycle). */
  publishFailureStreak: number;
  /** Leader election is on and another replica leads: the loop ticks, but runs no cycle. */
  standby?: boolean;
}

export interface HealthRules {
  /** Liveness and readiness fail when their cycle is older than this. */
  readonly staleAfterMs: number;
  /** Readiness fails once this many consecutive cycles failed to publish. */
  readonly unreadyAfterPublishFailures: number;
}

export class HealthServer {
  private server?: http.Server;

  constructor(private readonly state: HealthState, private readonly rules: HealthRules, private readonly now: () => number = Date.now) {}

  /** Listens on `hosts` (the first this machine has); by default `::` dual-stack, else 0.0.0.0. */
  async start(port: number, hosts?: readonly string[]): Promise<void> {
    const server = http.createServer((req, res) => {
      const { status, body } = this.answer(req.url ?? '/');
      res.writeHead(status, { 'content-type': 'text/plain; charset=utf-8' }).end(body + '\n');
    });
    await listenOnAny(server, port, hosts);
    server.unref();
    this.server = server;
  }

  /** The bound port (useful when started on port 0). */
  get port(): number | undefined {
    const address = this.server?.address();
    return typeof address === 'object' && address ? address.port : undefined;
  }

  /** The bound address, e.g. `::` or `0.0.0.0`. */
  get address(): string | undefined {
    const address = this.server?.address();
    return typeof address === 'object' && address ? address.address : undefined;
  }

  answer(url: string): { status: number; body: string } {
    const path = url.split('?')[0];
    if (path === '/readyz') return this.readiness();
    if (path === '/healthz') {
      const since = this.now() - (this.state.lastCycleEndMs ?? this.state.startedMs);
      return since > this.rules.staleAfterMs
        ? { status: 503, body: `no cycle finished for ${since} ms` }
        : { status: 200, body: 'ok' };
    }
    return { status: 404, body: 'not found: try /healthz or /readyz' };
  }

  private readiness(): { status: number; body: string } {
    const { lastScrapedCycleEndMs, publishFailureStreak, standby } = this.state;
    if (standby) return { status: 200, body: 'ready (standby: another replica leads)' };
    if (lastScrapedCycleEndMs === undefined) return { status: 503, body: 'no cycle has scraped a node yet' };
    const since = this.now() - lastScrapedCycleEndMs;
    if (since > this.rules.staleAfterMs) return { status: 503, body: `no cycle scraped a node for ${since} ms` };
    if (publishFailureStreak >= this.rules.unreadyAfterPublishFailures) {
      return { status: 503, body: `publishing failed for ${publishFailureStreak} consecutive cycles` };
    }
    return { status: 200, body: 'ready' };
  }

  async stop(): Promise<void> {
    const server = this.server;
    this.server = undefined;
    if (!server) return;
    // A probe's keep-alive connection must not hold the exit.
    server.closeAllConnections();
    await new Promise<void>((resolve) => server.close(() => resolve()));
  }
}

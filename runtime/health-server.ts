/**
 * Liveness and readiness for the Deployment's probes.
 * /healthz fails when no cycle has finished for three intervals (a wedged loop gets restarted);
 * /readyz succeeds once the first cycle has finished.
 */
import * as http from 'node:http';

export interface HealthState {
  /** ms since epoch of the last finished cycle, or undefined before the first. */
  lastCycleEndMs?: number;
  readonly startedMs: number;
}

export class HealthServer {
  private server?: http.Server;

  constructor(private readonly state: HealthState, private readonly staleAfterMs: number, private readonly now: () => number = Date.now) {}

  async start(port: number, host = '0.0.0.0'): Promise<void> {
    const server = http.createServer((req, res) => {
      const { status, body } = this.answer(req.url ?? '/');
      res.writeHead(status, { 'content-type': 'text/plain; charset=utf-8' }).end(body + '\n');
    });
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(port, host, () => resolve());
    });
    server.unref();
    this.server = server;
  }

  /** The bound port (useful when started on port 0). */
  get port(): number | undefined {
    const address = this.server?.address();
    return typeof address === 'object' && address ? address.port : undefined;
  }

  answer(url: string): { status: number; body: string } {
    const path = url.split('?')[0];
    const last = this.state.lastCycleEndMs;
    if (path === '/readyz') {
      return last === undefined ? { status: 503, body: 'no cycle finished yet' } : { status: 200, body: 'ready' };
    }
    if (path === '/healthz') {
      const since = this.now() - (last ?? this.state.startedMs);
      return since > this.staleAfterMs
        ? { status: 503, body: `no cycle finished for ${since} ms` }
        : { status: 200, body: 'ok' };
    }
    return { status: 404, body: 'not found: try /healthz or /readyz' };
  }

  async stop(): Promise<void> {
    const server = this.server;
    this.server = undefined;
    if (server) await new Promise<void>((resolve) => server.close(() => resolve()));
  }
}

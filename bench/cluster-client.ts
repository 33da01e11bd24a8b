/**
 * The harness's handle on the simulated-cluster process: starts it with a lower CPU priority,
 * sends it requests and waits for the answers, each with a bound.
 */
import { fork, type ChildProcess } from 'node:child_process';
import * as os from 'node:os';
import * as path from 'node:path';
import type { ClusterCounters, ClusterInfo, ClusterReply, ClusterRequest, ClusterSpec } from './cluster-protocol';
import { track } from './processes';

/**
 * The simulated cluster's priority: lower than the collector's, so a single-threaded collector gets
 * the CPU first. BENCH_CLUSTER_NICENESS overrides it, e.g. 0 when the collector runs scrape workers
 * that would otherwise starve the cluster (a real API server is on other machines).
 */
export const CLUSTER_NICENESS = Number(process.env.BENCH_CLUSTER_NICENESS ?? 10);
// Starting 100,000 realistic pods (about 1 GB of JSON) takes minutes on a loaded machine.
const REQUEST_TIMEOUT_MS = 600_000;

type Pending = { resolve: (reply: ClusterReply) => void; reject: (err: Error) => void; timer: NodeJS.Timeout };
/** A request without its id: the client numbers them. */
type RequestBody =
  | { readonly type: 'start'; readonly spec: ClusterSpec }
  | { readonly type: 'counters'; readonly reset: boolean }
  | { readonly type: 'stop' }
  | { readonly type: 'churn'; readonly count: number };

export class ClusterProcess {
  private readonly child: ChildProcess;
  private readonly pending = new Map<number, Pending>();
  private nextId = 1;
  /** Set when the process failed to lower its priority (the report says so). */
  readonly niceness: number;

  private constructor(child: ChildProcess, niceness: number) {
    this.child = child;
    this.niceness = niceness;
    child.on('message', (message) => {
      const reply = message as ClusterReply;
      const waiting = this.pending.get(reply.id);
      if (!waiting) return;
      this.pending.delete(reply.id);
      clearTimeout(waiting.timer);
      waiting.resolve(reply);
    });
    child.on('exit', (code, signal) => {
      for (const [, waiting] of this.pending) {
        clearTimeout(waiting.timer);
        waiting.reject(new Error(`the simulated cluster process exited (code ${code}, signal ${signal}) before answering`));
      }
      this.pending.clear();
    });
  }

  /** Forks bench/cluster-process.ts under tsx, at lower priority. */
  static spawn(repoRoot: string): ClusterProcess {
    const child = track(fork(path.join(__dirname, 'cluster-process.ts'), [], {
      cwd: repoRoot,
      // 100,000 realistic pods (about 1 GB of JSON, held as text and as objects) need more than the default heap.
      execArgv: ['--import', 'tsx', '--max-old-space-size=12288'],
      stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
      serialization: 'json',
    }));
    let niceness = 0;
    try {
      os.setPriority(child.pid as number, CLUSTER_NICENESS);
      niceness = CLUSTER_NICENESS;
    } catch {
      niceness = 0;
    }
    return new ClusterProcess(child, niceness);
  }

  get pid(): number | undefined {
    return this.child.pid;
  }

  async start(spec: ClusterSpec): Promise<ClusterInfo> {
    const reply = await this.request({ type: 'start', spec });
    if (reply.type !== 'started') throw new Error(`cluster start: unexpected reply ${reply.type}`);
    return reply.info;
  }

  /** Counters since the last reset; `reset` starts a new window. */
  async counters(reset: boolean): Promise<ClusterCounters> {
    const reply = await this.request({ type: 'counters', reset });
    if (reply.type !== 'counters') throw new Error(`cluster counters: unexpected reply ${reply.type}`);
    return reply.counters;
  }

  /** Changes `count` pods (one watch event each); resolves with the API server's resource version after. */
  async churn(count: number): Promise<number> {
    const reply = await this.request({ type: 'churn', count });
    if (reply.type !== 'churned') throw new Error(`cluster churn: unexpected reply ${reply.type}`);
    return reply.resourceVersion;
  }

  /** Stops the servers; the process stays for the next start. */
  async stopServers(): Promise<void> {
    await this.request({ type: 'stop' });
  }

  /** Stops the servers and ends the process. */
  async close(): Promise<void> {
    if (this.child.exitCode !== null || this.child.signalCode !== null) return;
    try {
      await this.stopServers();
    } finally {
      const exited = new Promise<void>((resolve) => this.child.once('exit', () => resolve()));
      if (this.child.connected) this.child.disconnect();
      const timer = setTimeout(() => this.child.kill('SIGKILL'), 5_000);
      await exited;
      clearTimeout(timer);
    }
  }

  private request(body: RequestBody): Promise<ClusterReply> {
    const id = this.nextId++;
    const message = { ...body, id } as ClusterRequest;
    return new Promise((resolve, reject) => {
      // A cluster process that died (e.g. killed) fails the request instead of crashing the harness.
      if (!this.child.connected) {
        reject(new Error(`the simulated cluster process is gone (exit code ${this.child.exitCode}, signal ${this.child.signalCode}): cannot send '${body.type}'`));
        return;
      }
      const timer = setTimeout(() => {
        this.pending.delete(id);
        reject(new Error(`the simulated cluster did not answer '${body.type}' within ${REQUEST_TIMEOUT_MS} ms`));
      }, REQUEST_TIMEOUT_MS);
      this.pending.set(id, {
        resolve: (reply) => (reply.type === 'error' ? reject(new Error(`simulated cluster: ${reply.message}`)) : resolve(reply)),
        reject,
        timer,
      });
      this.child.send(message, (err) => {
        if (!err || !this.pending.delete(id)) return;
        clearTimeout(timer);
        reject(new Error(`cannot send '${body.type}' to the simulated cluster: ${err.message}`));
      });
    });
  }
}

/**
 * The cluster process's handle on its fleet-shard processes (bench/fleet-shard-process.ts): how many
 * endpoints one process can hold, the split of a fleet into slices, and starting, counting and
 * stopping the shards together.
 */
import { fork, type ChildProcess } from 'node:child_process';
import * as path from 'node:path';
import { softOpenFileLimit } from '../test/support/ipamd-fleet';
import type { FleetShardCounters, FleetShardReply, FleetShardRequest, FleetShardSpec } from './cluster-protocol';
import { track } from './processes';

/**
 * Descriptors a fleet process keeps beside its listening sockets: server-side connections in
 * flight (Connection: close, so at most the scrapers' concurrency, 512 in the largest runs, plus
 * the hanging ones until the client's timeout) and the process's own files, with room to spare.
 */
const DESCRIPTORS_BESIDE_LISTENERS = 2_048;
// Binding 17,000 addresses under tsx on a loaded machine takes tens of seconds.
const START_TIMEOUT_MS = 300_000;
const REQUEST_TIMEOUT_MS = 60_000;

/** Listening endpoints one process can serve under its soft open-file limit; Infinity where unknown. */
export function maxEndpointsPerProcess(): number {
  const limit = softOpenFileLimit();
  if (limit === undefined) return Infinity;
  const room = limit - DESCRIPTORS_BESIDE_LISTENERS;
  if (room < 1) throw new Error(`the open-file limit (ulimit -n ${limit}) leaves no room for ipamd endpoints: raise it above ${DESCRIPTORS_BESIDE_LISTENERS}`);
  return room;
}

/** Even slices of `count` endpoints, none above `maxPerProcess`: [firstIndex, count] each. */
export function shardSlices(count: number, maxPerProcess: number): { firstIndex: number; count: number }[] {
  if (!Number.isInteger(maxPerProcess) || maxPerProcess < 1) throw new Error(`endpoints per process must be a positive integer, got ${maxPerProcess}`);
  const shards = Math.ceil(count / maxPerProcess);
  const base = Math.floor(count / shards);
  const slices: { firstIndex: number; count: number }[] = [];
  let firstIndex = 0;
  for (let s = 0; s < shards; s++) {
    const size = base + (s < count % shards ? 1 : 0);
    slices.push({ firstIndex, count: size });
    firstIndex += size;
  }
  return slices;
}

/** One shard process and its requests in flight. */
class FleetShard {
  private readonly child: ChildProcess;
  private readonly pending = new Map<number, { resolve: (reply: FleetShardReply) => void; reject: (err: Error) => void; timer: NodeJS.Timeout }>();
  private nextId = 1;

  constructor(readonly firstIndex: number) {
    // Forked from the cluster process, so it inherits its lower priority (nice).
    this.child = track(fork(path.join(__dirname, 'fleet-shard-process.ts'), [], {
      execArgv: ['--import', 'tsx'],
      stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
      serialization: 'json',
    }));
    this.child.on('message', (message) => {
      const reply = message as FleetShardReply;
      const waiting = this.pending.get(reply.id);
      if (!waiting) return;
      this.pending.delete(reply.id);
      clearTimeout(waiting.timer);
      if (reply.type === 'error') waiting.reject(new Error(`fleet shard from endpoint ${firstIndex}: ${reply.message}`));
      else waiting.resolve(reply);
    });
    this.child.on('exit', (code, signal) => {
      for (const [, waiting] of this.pending) {
        clearTimeout(waiting.timer);
        waiting.reject(new Error(`the fleet shard from endpoint ${firstIndex} exited (code ${code}, signal ${signal}) before answering`));
      }
      this.pending.clear();
    });
  }

  async start(spec: FleetShardSpec): Promise<number> {
    const reply = await this.request({ type: 'start', spec }, START_TIMEOUT_MS);
    if (reply.type !== 'started') throw new Error(`fleet shard start: unexpected reply ${reply.type}`);
    return reply.port;
  }

  async counters(reset: boolean): Promise<FleetShardCounters> {
    const reply = await this.request({ type: 'counters', reset }, REQUEST_TIMEOUT_MS);
    if (reply.type !== 'counters') throw new Error(`fleet shard counters: unexpected reply ${reply.type}`);
    return reply.counters;
  }

  /** Closes the sockets and ends the process; SIGKILL if it has not ended 5 s after. */
  async close(): Promise<void> {
    if (this.child.exitCode !== null || this.child.signalCode !== null) return;
    const exited = new Promise<void>((resolve) => this.child.once('exit', () => resolve()));
    await this.request({ type: 'stop' }, 10_000).catch(() => undefined);
    if (this.child.connected) this.child.disconnect();
    const timer = setTimeout(() => this.child.kill('SIGKILL'), 5_000);
    await exited;
    clearTimeout(timer);
  }

  private request(body: { type: 'start'; spec: FleetShardSpec } | { type: 'counters'; reset: boolean } | { type: 'stop' },
    timeoutMs: number): Promise<FleetShardReply> {
    const id = this.nextId++;
    return new Promise((resolve, reject) => {
      if (!this.child.connected) {
        reject(new Error(`the fleet shard from endpoint ${this.firstIndex} is not running`));
        return;
      }
      const timer = setTimeout(() => {
        this.pending.delete(id);
        reject(new Error(`the fleet shard from endpoint ${this.firstIndex} did not answer '${body.type}' within ${timeoutMs} ms`));
      }, timeoutMs);
      this.pending.set(id, { resolve, reject, timer });
      this.child.send({ ...body, id } as FleetShardRequest, (err) => {
        if (!err || !this.pending.delete(id)) return;
        clearTimeout(timer);
        reject(new Error(`cannot send '${body.type}' to the fleet shard from endpoint ${this.firstIndex}: ${err.message}`));
      });
    });
  }
}

/** A fleet served by several shard processes on one shared port. */
export class FleetShards {
  private constructor(private readonly shards: readonly FleetShard[], readonly port: number) {}

  get processes(): number {
    return this.shards.length;
  }

  /**
   * Starts one shard per slice: the first finds a free port, the others listen on it too. Any
   * failure stops every shard started so far.
   */
  static async start(spec: Omit<FleetShardSpec, 'firstIndex' | 'count' | 'port'>, maxPerProcess: number): Promise<FleetShards> {
    const slices = shardSlices(spec.fleetSize, maxPerProcess);
    const shards = slices.map((slice) => new FleetShard(slice.firstIndex));
    try {
      const port = await shards[0].start({ ...spec, ...slices[0] });
      await Promise.all(shards.slice(1).map((shard, k) => shard.start({ ...spec, ...slices[k + 1], port })));
      return new FleetShards(shards, port);
    } catch (err) {
      await Promise.allSettled(shards.map((shard) => shard.close()));
      throw err;
    }
  }

  /** The shards' counters summed (peakInFlight: the sum of each shard's peak, an upper bound). */
  async counters(reset: boolean): Promise<FleetShardCounters> {
    const each = await Promise.all(this.shards.map((shard) => shard.counters(reset)));
    return {
      requests: each.reduce((n, c) => n + c.requests, 0),
      peakInFlight: each.reduce((n, c) => n + c.peakInFlight, 0),
      connectionsAccepted: each.reduce((n, c) => n + c.connectionsAccepted, 0),
      cpuMs: each.reduce((n, c) => n + c.cpuMs, 0),
    };
  }

  async close(): Promise<void> {
    await Promise.allSettled(this.shards.map((shard) => shard.close()));
  }
}

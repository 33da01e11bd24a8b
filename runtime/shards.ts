/**
 * Scrape workers (SCRAPE_WORKERS > 0): the nodes are split over worker threads, each scraping,
 * parsing and aggregating its own share (runtime/shard-worker.ts), so a cycle uses as many CPUs as
 * the pod has. One thread spends about 0.24 ms of CPU per node per cycle (bench/FINDINGS.md), so
 * 100,000 nodes need 24 s of one CPU: more than a 30 s interval leaves once the waiting is added.
 *
 * A node always goes to the same worker (a hash of its name), because its counter state lives
 * there. Workers answer with a mergeable part of the cycle (sums, minimums, maximums, sets) and their
 * failed nodes, so what crosses threads per cycle is the pods out and a few hundred bytes back,
 * not payloads. A worker that dies fails its share of the cycle and is started again at the next
 * cycle; its nodes are baselines then (their counters count from the next scrape), as after a restart.
 */
import { Worker } from 'node:worker_threads';
import type { CyclePart } from './aggregate';
import { errorMessage } from './cycle';
import type { Logger } from './log';
import type { ProxyCredentials } from './proxy-auth';
import { nodeFailure } from './scrape';
import { SHARD_WORKER_KIND, type FromShard, type ShardWorkerData, type ToShard } from './shard-protocol';
import type { AwsNodePod, NodeOutcome } from './types';
import type { WorkerScript } from './worker-source';

/** After an abort, how long a worker may take to hand back its part before it is given up. */
const ABORT_ANSWER_MS = 2_000;

export interface ScrapeShardsOptions {
  readonly workers: number;
  /** Each worker's code: the bundle's inlined worker, or a file that runs one (runtime/worker-source.ts). */
  readonly script: WorkerScript;
  /** What every worker gets; `index` and `scrape.concurrency` are set per worker. */
  readonly workerData: Omit<ShardWorkerData, 'index' | 'kind'>;
  /** Proxy mode: reads the kubeconfig's credentials, once a cycle for every worker. */
  readonly readCredentials?: (timeoutMs: number, signal: AbortSignal) => Promise<ProxyCredentials>;
  readonly logger: Logger;
}

export interface ShardedCycle {
  readonly parts: readonly CyclePart[];
  readonly scraped: number;
  readonly failed: readonly NodeOutcome[];
}

interface ShardSlot {
  worker?: Worker;
  /** Settles the cycle the worker is running with its answer, or with its death. */
  pending?: { readonly id: number; readonly settle: (answer: FromShard | Error) => void };
}

export class ScrapeShards {
  private readonly slots: ShardSlot[];
  private nextCycleId = 1;
  private closed = false;

  constructor(private readonly options: ScrapeShardsOptions) {
    if (!Number.isInteger(options.workers) || options.workers < 1) {
      throw new Error(`ScrapeShards.workers must be a positive integer, got ${options.workers}`);
    }
    this.slots = Array.from({ length: options.workers }, () => ({}));
  }

  /** The worker a node belongs to: stable for a node name and a worker count. */
  static shardOf(nodeName: string, workers: number): number {
    // FNV-1a: cheap, and spreads EKS node names (ip-10-0-12-34.ec2.internal) evenly.
    let hash = 0x811c9dc5;
    for (let i = 0; i < nodeName.length; i++) {
      hash ^= nodeName.charCodeAt(i);
      hash = Math.imul(hash, 0x01000193);
    }
    return (hash >>> 0) % workers;
  }

  /**
   * Scrapes and aggregates `pods` across the workers; resolves when every worker answered (or died,
   * its nodes then failed). `signal` ends the scrapes in flight, as for the in-thread scraper.
   */
  async collect(pods: readonly AwsNodePod[], cycleTime: Date, signal: AbortSignal): Promise<ShardedCycle> {
    const shares: AwsNodePod[][] = this.slots.map(() => []);
    for (const pod of pods) shares[ScrapeShards.shardOf(pod.nodeName, this.slots.length)].push(pod);
    const id = this.nextCycleId++;
    let credentials: ProxyCredentials | undefined;
    if (this.options.readCredentials) {
      try {
        credentials = await this.options.readCredentials(this.options.workerData.scrape.timeoutMs, signal);
      } catch (err) {
        const cause = `cannot build API server credentials from the kubeconfig: ${errorMessage(err)}`;
        return { parts: [], scraped: 0, failed: pods.map((pod) => notScraped(pod, cause)) };
      }
    }
    const answers = await Promise.all(this.slots.map((slot, index) => this.runShare(slot, index, id, shares[index], cycleTime, signal, credentials)));
    const parts: CyclePart[] = [];
    const failed: NodeOutcome[] = [];
    let scraped = 0;
    answers.forEach((answer, index) => {
      if (answer.type === 'done') {
        parts.push(answer.part);
        scraped += answer.scraped;
        for (const outcome of answer.failed) failed.push(outcome);
        return;
      }
      // No part from this worker: its nodes add nothing this cycle and keep no state change.
      for (const pod of shares[index]) failed.push(notScraped(pod, `not scraped: scrape worker ${index} ${answer.error}`));
    });
    return { parts, scraped, failed };
  }

  /** Every worker forgets its nodes' state (a new leader's first cycle is a baseline). */
  reset(): void {
    for (const slot of this.slots) slot.worker?.postMessage({ type: 'reset' } satisfies ToShard);
  }

  async close(): Promise<void> {
    this.closed = true;
    await Promise.all(this.slots.map(async (slot) => {
      const worker = slot.worker;
      slot.worker = undefined;
      slot.pending?.settle(new Error('stopped: the collector is closing'));
      if (worker) await worker.terminate();
    }));
  }

  private runShare(
    slot: ShardSlot, index: number, id: number, pods: readonly AwsNodePod[], cycleTime: Date, signal: AbortSignal,
    credentials: ProxyCredentials | undefined,
  ): Promise<FromShard> {
    if (this.closed) return Promise.resolve({ type: 'failed', id, error: 'did not run: the collector is closing' });
    let worker: Worker;
    try {
      worker = slot.worker ?? this.start(slot, index);
    } catch (err) {
      return Promise.resolve({ type: 'failed', id, error: `could not start: ${errorMessage(err)}` });
    }
    return new Promise<FromShard>((resolve) => {
      let abortTimer: NodeJS.Timeout | undefined;
      const onAbort = (): void => {
        worker.postMessage({ type: 'abort', id } satisfies ToShard);
        // A worker stuck in a synchronous loop cannot answer: give it up, and start a new one next cycle.
        abortTimer = setTimeout(() => {
          this.options.logger.error('a scrape worker did not answer an abort in time; stopping it', { worker: index, waitedMs: ABORT_ANSWER_MS });
          void this.stop(slot, worker);
          settle(new Error(`did not answer within ${ABORT_ANSWER_MS} ms of the abort`));
        }, ABORT_ANSWER_MS);
        abortTimer.unref();
      };
      const settle = (answer: FromShard | Error): void => {
        if (slot.pending?.id !== id) return;
        slot.pending = undefined;
        clearTimeout(abortTimer);
        signal.removeEventListener('abort', onAbort);
        resolve(answer instanceof Error ? { type: 'failed', id, error: answer.message } : answer);
      };
      slot.pending = { id, settle };
      // The cycle goes first: an abort the worker reads before its cycle would be lost.
      worker.postMessage({ type: 'cycle', id, cycleTimeMs: cycleTime.getTime(), pods, ...(credentials ? { credentials } : {}) } satisfies ToShard);
      if (signal.aborted) onAbort();
      else signal.addEventListener('abort', onAbort, { once: true });
    });
  }

  private start(slot: ShardSlot, index: number): Worker {
    const { workerData, workers, script, logger } = this.options;
    const data: ShardWorkerData = {
      ...workerData,
      kind: SHARD_WORKER_KIND,
      index,
      // Each worker runs its share of the scrapes at once; together they run the whole concurrency.
      scrape: { ...workerData.scrape, concurrency: Math.max(1, Math.ceil(workerData.scrape.concurrency / workers)) },
    };
    const worker = 'source' in script
      ? new Worker(script.source, { eval: true, workerData: data })
      : new Worker(script.file, { workerData: data });
    slot.worker = worker;
    worker.on('message', (answer: FromShard) => slot.pending?.id === answer.id && slot.pending.settle(answer));
    worker.on('error', (err) => {
      logger.error('a scrape worker failed; its nodes fail this cycle and it starts again next cycle', { worker: index, error: errorMessage(err) });
      void this.stop(slot, worker);
      slot.pending?.settle(new Error(`failed: ${errorMessage(err)}`));
    });
    worker.on('exit', (code) => {
      if (slot.worker !== worker) return;
      slot.worker = undefined;
      if (!this.closed) logger.error('a scrape worker exited; it starts again next cycle, its nodes as baselines', { worker: index, exitCode: code });
      slot.pending?.settle(new Error(`exited with code ${code}`));
    });
    return worker;
  }

  private async stop(slot: ShardSlot, worker: Worker): Promise<void> {
    if (slot.worker === worker) slot.worker = undefined;
    await worker.terminate().catch(() => undefined);
  }
}

/** A node's outcome when its worker gave no answer for it, worded as the scraper words a failure. */
function notScraped(pod: AwsNodePod, cause: string): NodeOutcome {
  return { nodeName: pod.nodeName, podName: pod.podName, ok: false, durationMs: 0, error: nodeFailure(pod, cause) };
}

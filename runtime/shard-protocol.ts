/**
 * What the main thread and a scrape worker (runtime/shards.ts, runtime/shard-worker.ts) say to each
 * other. Everything crosses by structured clone: plain objects, Maps and Sets, no classes.
 */
import type { CollectedShare } from './collect-share';
import type { ScrapeMode } from '../common/settings';
import type { ProxyCredentials } from './proxy-auth';
import type { AwsNodePod } from './types';

/** Tells the collector's bundle, started as a worker, to run as a scrape worker. */
export const SHARD_WORKER_KIND = 'cni-metrics-helper/scrape-worker';

export interface ShardWorkerData {
  readonly kind: typeof SHARD_WORKER_KIND;
  readonly index: number;
  /**
   * Proxy mode: the API server's URL. The main thread reads the kubeconfig's credentials each cycle
   * and sends them with it, so a worker never loads the Kubernetes client.
   */
  readonly apiServer?: string;
  readonly logLevel: 'debug' | 'info' | 'warn' | 'error';
  readonly scrape: {
    readonly mode: ScrapeMode;
    readonly port: number;
    readonly timeoutMs: number;
    /** This worker's share of SCRAPE_CONCURRENCY. */
    readonly concurrency: number;
    readonly maxBytes: number;
  };
}

export type ToShard =
  /** Scrape `pods` (this worker's share), fold them into its aggregator and answer `done`. */
  | {
    readonly type: 'cycle'; readonly id: number; readonly cycleTimeMs: number; readonly pods: readonly AwsNodePod[];
    /** Proxy mode: this cycle's credentials. */
    readonly credentials?: ProxyCredentials;
  }
  /** End cycle `id`'s scrapes now; the worker still answers `done`, the rest failed as aborted. */
  | { readonly type: 'abort'; readonly id: number }
  /** Forget every node's state (this replica became the leader): the next cycle is a baseline. */
  | { readonly type: 'reset' };

export type FromShard =
  | ({ readonly type: 'done'; readonly id: number } & CollectedShare)
  /** The cycle could not run at all (a bug, not a node's fault): its nodes count as failed. */
  | { readonly type: 'failed'; readonly id: number; readonly error: string };

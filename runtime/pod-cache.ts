/**
 * A watch-based cache of the aws-node pods, the Kubernetes way (what client-go's informer does):
 * one paginated, bounded list (discover.ts's listPods), then a watch from the list's
 * resourceVersion with bookmarks, so that a cycle costs the API server nothing but the changes.
 *
 * - A watch that ends (the server's timeoutSeconds, a dropped connection, silence longer than the
 *   idle timeout) is opened again from the last resourceVersion seen (event or bookmark): no relist.
 * - 410 Gone (an ERROR event with code 410, or an HTTP 410 at the start of the watch) means the
 *   version was compacted away: the cache lists again and keeps serving the old pods meanwhile.
 * - Other failures back off exponentially (1 s to 30 s) and try again; never more than one list or
 *   watch at a time.
 *
 * Only what the collector reads is kept of each pod (classifyPod in discover.ts: about 500 bytes a
 * pod), and `snapshot()` applies the one-pod-per-node rule (keepOnePerNode) to the pods held.
 * `synced` says whether the snapshot can stand in for a list: true once a list has completed and
 * while a watch is open or has been down for less than `maxStaleMs`. When it is false, the
 * pipeline lists as before (discoverNodes), except while the cache's own list is under way: a
 * cycle then waits for that list instead of sending a second list of every pod beside it.
 */
import { Watch, type KubeConfig, type V1Pod } from '@kubernetes/client-node';
import {
  classifyPod, DEFAULT_MAX_PODS, DiscoveryError, discoverNodes, emptySkips, keepOnePerNode, listPods,
  type DiscoverOptions, type Discovery, type KeptPod, type PodVerdict, type SkipCounts,
} from './discover';
import { joinAbort, sleep } from './abort';
import { safeExcerpt } from './excerpt';
import { silentLogger, type Logger } from './log';
import type { AwsNodePod, OnePodPerNode } from './types';

export interface PodCacheOptions extends Omit<DiscoverOptions, 'signal' | 'deadlineMs'> {
  /**
   * The watch's timeoutSeconds: the API server ends it after this long and the cache opens the
   * next one from the last version (client-go picks 5 to 10 minutes).
   * @default 300
   */
  readonly watchTimeoutSeconds?: number;
  /**
   * A watch that sends nothing (no event, no bookmark) for this long is taken for dead and opened
   * again: a half-open connection would otherwise leave the cache stale without a word.
   * @default - watchTimeoutSeconds plus 30 s
   */
  readonly idleTimeoutMs?: number;
  /**
   * The deadline of one full list. Each page has its own deadline and the list its page and pod
   * bounds, so this only ends a list that is slow as a whole: 100,000 realistic pods took 23 s of a
   * quiet API server's time here, and more than 60 s under load (bench/FINDINGS.md).
   * @default 300000
   */
  readonly listTimeoutMs?: number;
  /** How long the cache may go without an open watch before `synced` turns false. @default 120000 */
  readonly maxStaleMs?: number;
  /** First delay after a failed list or watch; doubled each time up to maxBackoffMs. @default 1000 */
  readonly baseBackoffMs?: number;
  /** @default 30000 */
  readonly maxBackoffMs?: number;
}

/** What the cache has done since it started: for the log, the health metrics and tests. */
export interface PodCacheCounters {
  /** Full lists completed (the first included). */
  lists: number;
  /** Full lists after the first: 410 Gone, or too many pods held. */
  relists: number;
  /** Lists that failed (retried after a backoff). */
  listFailures: number;
  /** Watches opened. */
  watches: number;
  /** Watches opened again from the last version, without a list. */
  rewatches: number;
  /** 410 Gone answers to a watch. */
  expired: number;
  /** Watches ended by an error or by silence. */
  watchFailures: number;
  added: number;
  modified: number;
  deleted: number;
  bookmarks: number;
}

/** How one watch ended. */
type WatchEnd =
  | { readonly kind: 'closed' }
  | { readonly kind: 'expired'; readonly message: string }
  | { readonly kind: 'failed'; readonly message: string }
  | { readonly kind: 'stopped' };

export class PodCache {
  readonly counters: PodCacheCounters = {
    lists: 0, relists: 0, listFailures: 0, watches: 0, rewatches: 0, expired: 0, watchFailures: 0,
    added: 0, modified: 0, deleted: 0, bookmarks: 0,
  };
  private readonly logger: Logger;
  private readonly maxPods: number;
  private readonly watchTimeoutSeconds: number;
  private readonly idleTimeoutMs: number;
  /** Every pod the list and the watch reported, by namespace/name, judged. */
  private pods = new Map<string, PodVerdict>();
  /** The version the next watch starts from; '' means list first. */
  private resourceVersion = '';
  private listedOnce = false;
  private watchOpen = false;
  /** When the last watch ended (or the cache started), while no watch is open. */
  private downSinceMs = Date.now();
  private cached?: Discovery;
  /** The cache's list in flight, if any: resolves true when it completed. */
  private listing?: Promise<boolean>;
  private readonly stopper = new AbortController();
  private running?: Promise<void>;

  constructor(private readonly kc: KubeConfig, private readonly options: PodCacheOptions) {
    this.logger = options.logger ?? silentLogger;
    this.maxPods = options.maxPods ?? DEFAULT_MAX_PODS;
    this.watchTimeoutSeconds = options.watchTimeoutSeconds ?? 300;
    this.idleTimeoutMs = options.idleTimeoutMs ?? this.watchTimeoutSeconds * 1000 + 30_000;
    for (const [name, value] of Object.entries({ watchTimeoutSeconds: this.watchTimeoutSeconds, idleTimeoutMs: this.idleTimeoutMs })) {
      if (!Number.isInteger(value) || value < 1) throw new Error(`PodCacheOptions.${name} must be a positive integer, got ${value}`);
    }
  }

  /** Starts listing and watching in the background until `signal` aborts or stop() is called. */
  start(signal?: AbortSignal): void {
    if (this.running) throw new Error('PodCache.start was called twice');
    signal?.addEventListener('abort', () => this.stopper.abort(), { once: true });
    if (signal?.aborted) this.stopper.abort();
    this.running = this.loop().catch((err: unknown) => {
      this.logger.error('aws-node pod cache stopped on an unexpected error', { error: err instanceof Error ? err.message : String(err) });
    });
  }

  /** Ends the list or watch in flight; resolves when the cache's loop has ended. */
  async stop(): Promise<void> {
    this.stopper.abort();
    await this.running;
  }

  /** True when the snapshot can stand in for a fresh list (see the top of this file). */
  get synced(): boolean {
    const maxStaleMs = this.options.maxStaleMs ?? 120_000;
    return this.listedOnce && (this.watchOpen || Date.now() - this.downSinceMs <= maxStaleMs);
  }

  /** The pods to scrape now, one per node. */
  snapshot(): OnePodPerNode {
    return this.discovery().pods;
  }

  /** The snapshot as discoverNodes reports a list (pages: 0, since none was read for it). */
  discovery(): Discovery {
    if (this.cached) return this.cached;
    const byNode = new Map<string, KeptPod>();
    const skipped: SkipCounts = emptySkips();
    for (const verdict of this.pods.values()) {
      if (verdict.pod) keepOnePerNode(byNode, verdict.pod, verdict.terminating, skipped, silentLogger);
      else skipped[verdict.skip]++;
    }
    const pods = [...byNode.values()].map((entry) => entry.pod) as readonly AwsNodePod[] as OnePodPerNode;
    this.cached = { pods, skipped, pages: 0 };
    return this.cached;
  }

  /** Whether the cache's own list is under way (the first, or a relist after 410 Gone). */
  get listInFlight(): boolean {
    return this.listing !== undefined;
  }

  /**
   * Waits for the list in flight to end, at most until `deadlineMs` or `signal`; resolves at once
   * when none is. Then `synced` tells whether it completed.
   */
  async waitForList(deadlineMs: number | undefined, signal?: AbortSignal): Promise<void> {
    const listing = this.listing;
    if (!listing) return;
    // The wait ends with the list, the deadline or the signal, and leaves no timer behind.
    const waited = new AbortController();
    const ended = joinAbort([signal, waited.signal], deadlineMs === undefined ? undefined : deadlineMs - Date.now());
    try {
      await Promise.race([listing, sleep(2 ** 31 - 1, ended.signal)]);
    } finally {
      waited.abort();
      ended.dispose();
    }
  }

  /** Pods held, scraped or not. */
  get size(): number {
    return this.pods.size;
  }

  private async loop(): Promise<void> {
    const signal = this.stopper.signal;
    let failures = 0;
    const backoff = async (): Promise<void> => {
      const base = this.options.baseBackoffMs ?? 1000;
      await sleep(Math.min(this.options.maxBackoffMs ?? 30_000, base * 2 ** Math.min(failures, 16)), signal);
      failures++;
    };
    let watchedBefore = false;
    while (!signal.aborted) {
      if (this.resourceVersion === '') {
        this.listing = this.list();
        const listed = await this.listing;
        this.listing = undefined;
        if (!listed) {
          await backoff();
          continue;
        }
        watchedBefore = false;
      }
      if (watchedBefore) this.counters.rewatches++;
      watchedBefore = true;
      const end = await this.watchOnce();
      this.watchOpen = false;
      this.downSinceMs = Date.now();
      if (end.kind === 'stopped') break;
      if (end.kind === 'closed') {
        failures = 0;
        continue;
      }
      if (end.kind === 'expired') {
        this.counters.expired++;
        this.logger.info('aws-node pod watch expired (410 Gone): listing again', { error: end.message });
        this.resourceVersion = '';
        continue;
      }
      this.counters.watchFailures++;
      this.logger.warn('aws-node pod watch failed; watching again from the last version', { error: end.message, resourceVersion: this.resourceVersion });
      await backoff();
    }
  }

  /** One full list into a fresh map; true when it completed. */
  private async list(): Promise<boolean> {
    const listed = new Map<string, PodVerdict>();
    const { signal } = this.stopper;
    try {
      const result = await listPods(this.kc, {
        ...this.options,
        signal,
        deadlineMs: Date.now() + (this.options.listTimeoutMs ?? 300_000),
      }, {
        begin: () => listed.clear(),
        item: (raw) => {
          const key = podKey(raw);
          if (key) listed.set(key, classifyPod(raw, this.options, silentLogger));
        },
      });
      if (result.resourceVersion === '') throw new Error('the pod list carried no resourceVersion, so a watch cannot start from it');
      this.pods = listed;
      this.cached = undefined;
      this.resourceVersion = result.resourceVersion;
      if (this.listedOnce) this.counters.relists++;
      this.listedOnce = true;
      this.counters.lists++;
      this.logger.debug('aws-node pods listed for the watch cache', { pods: listed.size, pages: result.pages, resourceVersion: result.resourceVersion });
      return true;
    } catch (err) {
      if (signal.aborted) return false;
      this.counters.listFailures++;
      this.logger.warn('aws-node pod list for the watch cache failed; trying again', { error: err instanceof Error ? err.message : String(err) });
      return false;
    }
  }

  /** One watch from this.resourceVersion, applied to the pods as its events come; resolves when it ends. */
  private watchOnce(): Promise<WatchEnd> {
    const { signal } = this.stopper;
    if (signal.aborted) return Promise.resolve({ kind: 'stopped' });
    const { namespace, labelSelector } = this.options;
    this.counters.watches++;
    return new Promise<WatchEnd>((resolve) => {
      let ended = false;
      let controller: AbortController | undefined;
      let idleTimer: NodeJS.Timeout | undefined;
      const finish = (end: WatchEnd): void => {
        if (ended) return;
        ended = true;
        clearTimeout(idleTimer);
        signal.removeEventListener('abort', onStop);
        // A watch whose headers never came has no controller yet: it is aborted when it comes.
        controller?.abort();
        resolve(end);
      };
      const armIdle = (): void => {
        clearTimeout(idleTimer);
        idleTimer = setTimeout(() => finish({ kind: 'failed', message: `no event or bookmark for ${this.idleTimeoutMs} ms` }), this.idleTimeoutMs);
      };
      const onStop = (): void => finish({ kind: 'stopped' });
      signal.addEventListener('abort', onStop, { once: true });
      armIdle();

      const onEvent = (type: string, object: unknown): void => {
        if (ended) return;
        armIdle();
        this.watchOpen = true;
        const end = this.apply(type, object);
        if (end) finish(end);
      };
      const onDone = (err: unknown): void => {
        if (ended) return;
        if (err === null || err === undefined) {
          finish({ kind: 'closed' });
          return;
        }
        const e = err as { statusCode?: number; message?: string; name?: string };
        if (e.name === 'AbortError') {
          finish({ kind: 'closed' });
          return;
        }
        const message = `${e.statusCode ? `HTTP ${e.statusCode}: ` : ''}${safeExcerpt(e.message ?? String(err), 300)}`;
        finish(e.statusCode === 410 ? { kind: 'expired', message } : { kind: 'failed', message });
      };
      new Watch(this.kc).watch(`/api/v1/namespaces/${encodeURIComponent(namespace)}/pods`, {
        resourceVersion: this.resourceVersion,
        allowWatchBookmarks: true,
        labelSelector,
        timeoutSeconds: this.watchTimeoutSeconds,
      }, onEvent, onDone).then((c) => {
        controller = c;
        if (ended) c.abort();
        else this.watchOpen = true;
      }, onDone);
    });
  }

  /** Applies one watch event; returns how the watch ends when the event ends it. */
  private apply(type: string, object: unknown): WatchEnd | undefined {
    const raw = object as V1Pod & { code?: number; message?: string };
    const version = raw?.metadata?.resourceVersion;
    switch (type) {
      case 'ADDED':
      case 'MODIFIED': {
        const key = podKey(raw);
        if (!key) return undefined;
        this.pods.set(key, classifyPod(raw, this.options, silentLogger));
        this.counters[type === 'ADDED' ? 'added' : 'modified']++;
        break;
      }
      case 'DELETED': {
        const key = podKey(raw);
        if (key) this.pods.delete(key);
        this.counters.deleted++;
        break;
      }
      case 'BOOKMARK':
        this.counters.bookmarks++;
        break;
      case 'ERROR': {
        const message = safeExcerpt(String(raw?.message ?? 'watch error'), 300);
        return raw?.code === 410 ? { kind: 'expired', message } : { kind: 'failed', message: `ERROR event${raw?.code ? ` (code ${raw.code})` : ''}: ${message}` };
      }
      default:
        return undefined;
    }
    if (typeof version === 'string' && version !== '') this.resourceVersion = version;
    if (type !== 'BOOKMARK') this.cached = undefined;
    if (this.pods.size > this.maxPods) {
      // Bounded like a list: the watch is dropped and the list that follows fails on too many pods.
      this.logger.error('the aws-node pod watch reported more pods than maxPods; listing again', { pods: this.pods.size, maxPods: this.maxPods });
      this.resourceVersion = '';
      return { kind: 'closed' };
    }
    return undefined;
  }
}

/** A cycle's discovery and where it came from. */
export type CycleDiscovery = Discovery & { readonly source: 'cache' | 'list' };

/**
 * The cycle's pods: the cache's snapshot when it is synced, else a list as before (the cache has
 * not finished its first list, or its watch has been down for longer than maxStaleMs). Without a
 * cache (`--once`), always the list.
 */
export async function discoverForCycle(cache: PodCache | undefined, kc: KubeConfig, options: DiscoverOptions): Promise<CycleDiscovery> {
  if (cache?.synced) return { ...cache.discovery(), source: 'cache' };
  if (cache?.listInFlight) {
    // A second list of every pod beside the cache's would double the API server's work and slow
    // both: at 100,000 pods neither then finished within a cycle (bench/FINDINGS.md).
    await cache.waitForList(options.deadlineMs, options.signal);
    if (cache.synced) return { ...cache.discovery(), source: 'cache' };
    options.signal?.throwIfAborted();
    throw new DiscoveryError('deadline', 'the watch cache\'s list of aws-node pods did not complete within this cycle '
      + '(the cycle waited for it rather than list every pod a second time); the next cycle waits for it again');
  }
  return { ...(await discoverNodes(kc, options)), source: 'list' };
}

function podKey(pod: V1Pod | undefined): string | undefined {
  const name = pod?.metadata?.name;
  return name ? `${pod?.metadata?.namespace ?? ''}/${name}` : undefined;
}

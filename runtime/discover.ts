/**
 * Discovery: the aws-node pods of the cluster, one per node, from a paginated pod list.
 *
 * Transient API server answers (429, 5xx, a timeout, a dropped connection) are retried with
 * bounded exponential backoff that honours Retry-After; an expired continue token (410) restarts
 * the list from the first page. Anything else fails discovery with a DiscoveryError that names the
 * call, the namespace, the selector and the cause, so the cycle can log and count it and try again
 * next time (discovery keeps no state between cycles).
 *
 * What one list can cost is bounded whatever the API server answers: each page has a deadline, the
 * whole list has the caller's deadline (the cycle interval) and stop signal, a continue token seen
 * before in the same list (A, B, A, ...) ends it, and so do more pods than `maxPods` or more pages
 * than `maxPods` pods could fill. Only the few fields the collector reads are kept of each pod.
 */
import { createHash } from 'node:crypto';
import { ApiException, type KubeConfig, type V1Pod } from '@kubernetes/client-node';
import type { ScrapeMode } from '../common/settings';
import { joinAbort, sleep, type JoinedAbort } from './abort';
import { safeExcerpt } from './excerpt';
import { HttpStatusError } from './fetch-text';
import { silentLogger, type Logger } from './log';
import { canonicalIP } from './pod-address';
import { podPageReader, type PodPage, type PodPageReader } from './pod-page';
import type { AwsNodePod, OnePodPerNode } from './types';

/** The container whose start time tells when ipamd last restarted. */
export const AWS_NODE_CONTAINER = 'aws-node';

/**
 * Most pods one list may return: EKS clusters reach 100,000 nodes, plus 10% for nodes that briefly
 * run two aws-node pods while the DaemonSet rolls (its maxUnavailable is 10%). What discovery keeps
 * of 110,000 pods measured 51 MiB of heap (about 490 bytes a pod with EKS-length names, uid and
 * container id), so the cap bounds what an API server paging without end can make it hold.
 */
export const DEFAULT_MAX_PODS = 110_000;

export interface RetryPolicy {
  /** Tries of one page request, the first included. */
  readonly maxAttempts: number;
  /** Delay before the second try; doubled for each later one. */
  readonly baseDelayMs: number;
  /** Upper bound of any delay, Retry-After included. */
  readonly maxDelayMs: number;
  /** Restarts of the whole list after an expired continue token (410 Gone). */
  readonly maxListRestarts: number;
  /** Deadline of one page request, connect to last byte. */
  readonly requestTimeoutMs: number;
}

export const DEFAULT_RETRY_POLICY: RetryPolicy = {
  maxAttempts: 4,
  baseDelayMs: 250,
  maxDelayMs: 5000,
  maxListRestarts: 2,
  requestTimeoutMs: 10_000,
};

export interface DiscoverOptions {
  readonly namespace: string;
  /** Equality selector of the aws-node DaemonSet's pods, e.g. `k8s-app=aws-node`. */
  readonly labelSelector: string;
  /** Pods per page (`limit`). */
  readonly pageSize: number;
  readonly logger?: Logger;
  /** @default DEFAULT_RETRY_POLICY */
  readonly retry?: Partial<RetryPolicy>;
  /** The stop signal: ends discovery between and during requests, rejecting with its reason. */
  readonly signal?: AbortSignal;
  /**
   * When the whole list must be done (ms since the epoch), e.g. the cycle's start plus its
   * interval: past it, discovery fails with reason 'deadline'.
   * @default - no deadline beyond the page deadlines and retry limits
   */
  readonly deadlineMs?: number;
  /**
   * How the pods will be scraped. 'direct' connects to each podIP, so it keeps only pods that run
   * on the host network with a podIP that is a valid IP equal to their hostIP; the rest are skipped
   * and counted. 'proxy' goes through the API server, which resolves the pod itself.
   * @default 'proxy'
   */
  readonly scrapeMode?: ScrapeMode;
  /** Most pods (items on all pages) one list may return. @default DEFAULT_MAX_PODS */
  readonly maxPods?: number;
}

/** Pods the list returned that discovery will not scrape, by reason, for one discovery. */
export interface DiscoverySkips {
  /** Not scheduled on a node, or not in phase Running. */
  readonly notRunning: number;
  /** Direct mode: not on the host network, so its podIP is not the node. */
  readonly notHostNetwork: number;
  /** Direct mode: podIP missing, not a valid IP, or not equal to the pod's hostIP. */
  readonly podIPNotHostIP: number;
  /** A second pod on a node that already has one (a DaemonSet rolling with surge). */
  readonly duplicateOnNode: number;
}

/** One discovery's result: the pods to scrape, one per node, and what was left out. */
export interface Discovery {
  readonly pods: OnePodPerNode;
  readonly skipped: DiscoverySkips;
  /** List pages read (a restart after 410 counts its pages again). */
  readonly pages: number;
}

/** Why a discovery failed: 'api' is an API server answer or a network failure past its retries. */
export type DiscoveryFailureReason = 'api' | 'deadline' | 'continue-loop' | 'too-many-pages' | 'too-many-pods';

/** A failed discovery; `reason` is for counting, the message for the log. */
export class DiscoveryError extends Error {
  constructor(readonly reason: DiscoveryFailureReason, message: string) {
    super(message);
    this.name = 'DiscoveryError';
  }
}

/**
 * Lists the aws-node pods, one per node. Rejects with a DiscoveryError, or with the signal's reason
 * when the caller aborts.
 */
export async function discoverNodes(kc: KubeConfig, options: DiscoverOptions): Promise<Discovery> {
  const logger = options.logger ?? silentLogger;
  let byNode = new Map<string, KeptPod>();
  let skipped: SkipCounts = emptySkips();
  const { pages } = await listPods(kc, options, {
    begin: () => {
      byNode = new Map();
      skipped = emptySkips();
    },
    item: (raw) => {
      const verdict = classifyPod(raw, options, logger);
      if (verdict.pod) keepOnePerNode(byNode, verdict.pod, verdict.terminating, skipped, logger);
      else skipped[verdict.skip]++;
    },
  });
  logger.debug('aws-node pods listed', { pods: byNode.size, pages, ...skipped });
  const pods = [...byNode.values()].map((entry) => entry.pod) as readonly AwsNodePod[] as OnePodPerNode;
  return { pods, skipped, pages };
}

/** What a full list hands its caller, pod by pod, so a caller keeps only what it needs. */
export interface ListVisitor {
  /** A list (re)starts from its first page: forget what earlier tries handed over. */
  begin(): void;
  /** One pod of a page, as the API server returned it. */
  item(pod: V1Pod): void;
}

/** A finished list: its pages and the resource version of its snapshot (where a watch starts). */
export interface ListResult {
  readonly pages: number;
  readonly resourceVersion: string;
}

/**
 * Lists every aws-node pod, page by page, within the bounds described at the top of this file,
 * handing each pod to `visitor`. Rejects with a DiscoveryError, or the signal's reason on abort.
 */
export async function listPods(kc: KubeConfig, options: DiscoverOptions, visitor: ListVisitor): Promise<ListResult> {
  if (!Number.isInteger(options.pageSize) || options.pageSize < 1) {
    throw new Error(`pageSize must be a positive integer, got ${options.pageSize}`);
  }
  const maxPods = options.maxPods ?? DEFAULT_MAX_PODS;
  if (!Number.isInteger(maxPods) || maxPods < 1) throw new Error(`maxPods must be a positive integer, got ${maxPods}`);
  const policy: RetryPolicy = { ...DEFAULT_RETRY_POLICY, ...options.retry };
  const listSignal = new ListSignal(options.signal, options.deadlineMs);
  const reader = podPageReader(kc);
  try {
    const lister = new PodLister(reader, options, policy, listSignal, maxPods);
    let pages = 0;
    for (let restarts = 0; ; restarts++) {
      try {
        visitor.begin();
        const result = await lister.listAll(visitor);
        return { ...result, pages: pages + result.pages };
      } catch (err) {
        if (!(err instanceof ContinueExpired)) throw err;
        pages += err.pages;
        if (restarts >= policy.maxListRestarts) {
          throw new DiscoveryError('api', `${err.failure.message}; the list was restarted ${restarts} times after expired continue tokens`);
        }
        lister.logger.info('pod list continue token expired; listing again from the first page',
          { namespace: options.namespace, restart: restarts + 1 });
      }
    }
  } finally {
    listSignal.dispose();
    reader.close();
  }
}

/** A 410 on a continued page: the server compacted the list's snapshot away. */
class ContinueExpired extends Error {
  constructor(readonly failure: Error, readonly pages: number) {
    super(failure.message);
  }
}

/** The caller's stop signal joined with the list's deadline; tells which of the two ended it. */
class ListSignal {
  private readonly joined: JoinedAbort;

  constructor(readonly stop: AbortSignal | undefined, readonly deadlineMs: number | undefined) {
    this.joined = joinAbort([stop], deadlineMs === undefined ? undefined : deadlineMs - Date.now());
  }

  get signal(): AbortSignal {
    return this.joined.signal;
  }

  /** Throws what ended the list, when something did: the stop signal's reason, or a deadline error. */
  throwIfEnded(describe: () => string): void {
    if (this.stop?.aborted) throw this.stop.reason;
    if (this.joined.timedOut) {
      throw new DiscoveryError('deadline', `${describe()} did not finish by its deadline `
        + `(${new Date(this.deadlineMs as number).toISOString()}, the end of the cycle interval); the next cycle lists again`);
    }
  }

  dispose(): void {
    this.joined.dispose();
  }
}

/** A pod kept for its node, and whether it is on its way out (deletionTimestamp set). */
export interface KeptPod {
  readonly pod: AwsNodePod;
  readonly terminating: boolean;
}

/** DiscoverySkips being counted. */
export type SkipCounts = { -readonly [K in keyof DiscoverySkips]: number };

export function emptySkips(): SkipCounts {
  return { notRunning: 0, notHostNetwork: 0, podIPNotHostIP: 0, duplicateOnNode: 0 };
}

/** Why a listed pod is not scraped, when it is not: a DiscoverySkips key other than duplicates. */
export type SkipReason = 'notRunning' | 'notHostNetwork' | 'podIPNotHostIP';

/** A listed pod, judged: the fields to scrape it by, or why it is left out. */
export type PodVerdict =
  | { readonly pod: AwsNodePod; readonly terminating: boolean; readonly skip?: undefined }
  | { readonly pod?: undefined; readonly skip: SkipReason };

class PodLister {
  readonly logger: Logger;
  private readonly maxPages: number;

  constructor(
    private readonly reader: PodPageReader,
    private readonly options: DiscoverOptions,
    private readonly policy: RetryPolicy,
    private readonly listSignal: ListSignal,
    private readonly maxPods: number,
  ) {
    this.logger = options.logger ?? silentLogger;
    // Twice the pages maxPods pods fill (a server may send short pages), plus a few empty ones.
    this.maxPages = 2 * Math.ceil(maxPods / options.pageSize) + 8;
  }

  async listAll(visitor: ListVisitor): Promise<ListResult> {
    // Digests, not the tokens: a token may be long, and a list may hold thousands of them.
    const tokensSeen = new Set<string>();
    let continueToken: string | undefined;
    let page = 0;
    let items = 0;
    let resourceVersion = '';
    do {
      page++;
      let list;
      try {
        list = await this.listPage(continueToken);
      } catch (err) {
        if (err instanceof ContinueExpired) throw new ContinueExpired(err.failure, page);
        throw err;
      }
      items += list.items.length;
      if (items > this.maxPods) {
        throw new DiscoveryError('too-many-pods', `${this.describeCall()} returned more than ${this.maxPods} pods `
          + `(${items} by page ${page}), more than any cluster runs aws-node pods; the list was abandoned and the next cycle lists again`);
      }
      // Every page of one list carries its snapshot's version; the first page's is the list's.
      if (page === 1) resourceVersion = list.metadata?.resourceVersion ?? '';
      for (const raw of list.items) visitor.item(raw);
      const next = list.metadata?._continue || undefined;
      if (next !== undefined) {
        const digest = createHash('sha256').update(next).digest('base64');
        if (tokensSeen.has(digest)) {
          throw new DiscoveryError('continue-loop', `${this.describeCall()} returned a continue token it had returned before `
            + `(page ${page}): the API server is paginating in a loop; the list was abandoned and the next cycle lists again`);
        }
        tokensSeen.add(digest);
        if (page >= this.maxPages) {
          throw new DiscoveryError('too-many-pages', `${this.describeCall()} still had more pages after ${page} pages of `
            + `limit ${this.options.pageSize}, more than ${this.maxPods} pods could fill; the list was abandoned and the next cycle lists again`);
        }
      }
      continueToken = next;
    } while (continueToken !== undefined);
    return { pages: page, resourceVersion };
  }

  private async listPage(continueToken: string | undefined): Promise<PodPage> {
    const { namespace, labelSelector, pageSize } = this.options;
    const ended = this.listSignal;
    for (let attempt = 1; ; attempt++) {
      ended.throwIfEnded(() => this.describeCall(continueToken));
      let failure: RequestFailure;
      try {
        return await this.reader.read({
          namespace, labelSelector, limit: pageSize, continueToken, signal: ended.signal, timeoutMs: this.policy.requestTimeoutMs,
        });
      } catch (err) {
        ended.throwIfEnded(() => this.describeCall(continueToken));
        failure = describeFailure(err);
      }
      const error = new DiscoveryError('api', `${this.describeCall(continueToken)} failed: ${failure.text}`);
      if (failure.status === 410 && continueToken !== undefined) throw new ContinueExpired(error, 0);
      if (!failure.retryable || attempt >= this.policy.maxAttempts) {
        throw attempt > 1 ? new DiscoveryError('api', `${error.message} (after ${attempt} attempts)`) : error;
      }
      const delayMs = Math.min(this.policy.maxDelayMs, failure.retryAfterMs ?? this.policy.baseDelayMs * 2 ** (attempt - 1));
      this.logger.warn('pod list failed; retrying', { error: error.message, attempt, delayMs });
      await sleep(delayMs, ended.signal);
      ended.throwIfEnded(() => this.describeCall(continueToken));
    }
  }

  private describeCall(continueToken?: string): string {
    const { namespace, labelSelector } = this.options;
    return `listNamespacedPod(namespace='${namespace}', labelSelector='${labelSelector}'${continueToken ? ', continue=…' : ''})`;
  }
}

/**
 * The fields the collector reads of one listed pod, or why it is not scraped (logged at debug).
 * Discovery and the watch cache (pod-cache.ts) judge pods by this one rule.
 */
export function classifyPod(pod: V1Pod, options: Pick<DiscoverOptions, 'namespace' | 'scrapeMode'>, logger: Logger): PodVerdict {
  const podName = pod.metadata?.name;
  const nodeName = pod.spec?.nodeName;
  const phase = pod.status?.phase;
  if (!podName || !nodeName || phase !== 'Running') {
    logger.debug('skipping aws-node pod that is not running on a node', { pod: podName, node: nodeName, phase });
    return { skip: 'notRunning' };
  }
  const podIP = pod.status?.podIP || undefined;
  if (options.scrapeMode === 'direct') {
    // Direct mode connects to podIP: only a host-network pod's own node address is a fair target.
    if (pod.spec?.hostNetwork !== true) {
      logger.debug('skipping aws-node pod not on the host network: direct mode scrapes only the node itself', { pod: podName, node: nodeName });
      return { skip: 'notHostNetwork' };
    }
    const ip = canonicalIP(podIP);
    if (ip === undefined || ip !== canonicalIP(pod.status?.hostIP)) {
      logger.debug('skipping aws-node pod whose podIP is not a valid IP equal to its hostIP', {
        pod: podName, node: nodeName, podIP: safeExcerpt(podIP ?? '', 64), hostIP: safeExcerpt(pod.status?.hostIP ?? '', 64),
      });
      return { skip: 'podIPNotHostIP' };
    }
  }
  const container = pod.status?.containerStatuses?.find((c) => c.name === AWS_NODE_CONTAINER);
  const started = container?.state?.running?.startedAt ?? pod.status?.startTime;
  const startTimeMs = toEpochMs(started);
  const uid = pod.metadata?.uid;
  return {
    pod: {
      podName,
      namespace: pod.metadata?.namespace ?? options.namespace,
      nodeName,
      ...(podIP ? { podIP } : {}),
      ...(startTimeMs !== undefined ? { startTimeMs } : {}),
      ...(uid ? { podUid: uid } : {}),
      ...(Number.isSafeInteger(container?.restartCount) ? { restartCount: container?.restartCount } : {}),
      ...(container?.containerID ? { containerID: container.containerID } : {}),
    },
    terminating: pod.metadata?.deletionTimestamp != null,
  };
}

/**
 * The one-pod-per-node rule, applied here and nowhere else (OnePodPerNode states it in the types).
 * A DaemonSet rolled with maxSurge runs an old and a new aws-node on the same node for a while;
 * scraping both would count that node twice. Keep the pod that is not terminating, then the newer.
 */
export function keepOnePerNode(
  byNode: Map<string, KeptPod>,
  pod: AwsNodePod,
  terminating: boolean,
  skipped: SkipCounts,
  logger: Logger,
): void {
  const current = byNode.get(pod.nodeName);
  if (current === undefined) {
    byNode.set(pod.nodeName, { pod, terminating });
    return;
  }
  skipped.duplicateOnNode++;
  const newer = (pod.startTimeMs ?? 0) > (current.pod.startTimeMs ?? 0);
  const replace = current.terminating !== terminating ? current.terminating : newer;
  const kept = replace ? pod : current.pod;
  const dropped = replace ? current.pod : pod;
  logger.debug('two aws-node pods on one node; scraping one', { node: pod.nodeName, kept: kept.podName, skipped: dropped.podName });
  if (replace) byNode.set(pod.nodeName, { pod, terminating });
}

function toEpochMs(value: Date | string | undefined): number | undefined {
  if (value === undefined) return undefined;
  const ms = value instanceof Date ? value.getTime() : Date.parse(value);
  return Number.isFinite(ms) ? ms : undefined;
}

interface RequestFailure {
  readonly text: string;
  readonly status?: number;
  readonly retryable: boolean;
  readonly retryAfterMs?: number;
}

function describeFailure(err: unknown): RequestFailure {
  if (err instanceof HttpStatusError) {
    const status = err.status;
    return {
      text: `HTTP ${status}${err.detail ? `: ${err.detail}` : ''}${permissionHint(status)}`,
      status,
      retryable: status === 429 || status >= 500,
      retryAfterMs: err.retryAfterMs,
    };
  }
  if (err instanceof ApiException) {
    const status = err.code;
    const reason = statusMessage(err.body);
    const hint = permissionHint(status);
    const headers = (err.headers ?? {}) as Record<string, string | undefined>;
    return {
      text: `HTTP ${status}${reason ? `: ${reason}` : ''}${hint}`,
      status,
      retryable: status === 429 || status >= 500,
      retryAfterMs: parseRetryAfter(headers['retry-after']),
    };
  }
  // No HTTP status: connection refused or reset, DNS, or the request deadline. All transient.
  const e = err as { name?: string; message?: string; code?: string };
  const text = e?.name === 'AbortError' || e?.name === 'TimeoutError'
    ? 'request timed out' : `${e?.message ?? String(err)}${e?.code ? ` (${e.code})` : ''}`;
  return { text, retryable: true };
}

function permissionHint(status: number): string {
  return status === 401 ? ' (credentials rejected: check the service account token or kubeconfig user)'
    : status === 403 ? ' (forbidden: the collector\'s role needs list on pods in this namespace)' : '';
}

/** Characters of the API server's words quoted in an error. */
const STATUS_QUOTE_CHARS = 300;

/** The `message` of a Kubernetes Status body, or the start of any other body: short and printable. */
function statusMessage(body: unknown): string | undefined {
  if (body === undefined || body === null || body === '') return undefined;
  if (typeof body === 'string') {
    try {
      const parsed = JSON.parse(body) as { message?: unknown };
      if (typeof parsed?.message === 'string') return safeExcerpt(parsed.message, STATUS_QUOTE_CHARS);
    } catch {
      // Not JSON: quote the start of it.
    }
    return safeExcerpt(body, STATUS_QUOTE_CHARS);
  }
  const message = (body as { message?: unknown }).message;
  return typeof message === 'string' ? safeExcerpt(message, STATUS_QUOTE_CHARS) : undefined;
}

/** Retry-After as seconds or an HTTP date, in milliseconds from now. */
function parseRetryAfter(value: string | undefined): number | undefined {
  if (value === undefined || value.trim() === '') return undefined;
  if (/^\d+$/.test(value.trim())) return Number(value.trim()) * 1000;
  const at = Date.parse(value);
  return Number.isFinite(at) ? Math.max(0, at - Date.now()) : undefined;
}


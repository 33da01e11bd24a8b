/**
 * Discovery: the aws-node pods of the cluster, one per node, from a paginated pod list.
 *
 * Transient API server answers (429, 5xx, a timeout, a dropped connection) are retried with
 * bounded exponential backoff that honours Retry-After; an expired continue token (410) restarts
 * the list from the first page. Anything else fails discovery with a message that names the call,
 * the namespace, the selector and the status, so the cycle can log it and try again next time.
 */
import {
  ApiException, CoreV1Api, KubeConfig, Observable,
  type ObservableMiddleware, type RequestContext, type ResponseContext, type V1Pod,
} from '@kubernetes/client-node';
import { silentLogger, type Logger } from './log';
import type { AwsNodePod } from './types';

/** The container whose start time tells when ipamd last restarted. */
export const AWS_NODE_CONTAINER = 'aws-node';

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
  /** Stops discovery between and during requests. */
  readonly signal?: AbortSignal;
}

export async function discoverAwsNodePods(kc: KubeConfig, options: DiscoverOptions): Promise<AwsNodePod[]> {
  if (!Number.isInteger(options.pageSize) || options.pageSize < 1) {
    throw new Error(`pageSize must be a positive integer, got ${options.pageSize}`);
  }
  const policy: RetryPolicy = { ...DEFAULT_RETRY_POLICY, ...options.retry };
  const lister = new PodLister(kc.makeApiClient(CoreV1Api), options, policy);
  for (let restarts = 0; ; restarts++) {
    try {
      return await lister.listAll();
    } catch (err) {
      if (!(err instanceof ContinueExpired)) throw err;
      if (restarts >= policy.maxListRestarts) {
        throw new Error(`${err.failure.message}; the list was restarted ${restarts} times after expired continue tokens`);
      }
      lister.logger.info('pod list continue token expired; listing again from the first page',
        { namespace: options.namespace, restart: restarts + 1 });
    }
  }
}

/** A 410 on a continued page: the server compacted the list's snapshot away. */
class ContinueExpired extends Error {
  constructor(readonly failure: Error) {
    super(failure.message);
  }
}

class PodLister {
  readonly logger: Logger;

  constructor(
    private readonly api: CoreV1Api,
    private readonly options: DiscoverOptions,
    private readonly policy: RetryPolicy,
  ) {
    this.logger = options.logger ?? silentLogger;
  }

  async listAll(): Promise<AwsNodePod[]> {
    const byNode = new Map<string, { pod: AwsNodePod; terminating: boolean }>();
    let continueToken: string | undefined;
    let page = 0;
    do {
      page++;
      const list = await this.listPage(continueToken);
      for (const raw of list.items) {
        const found = this.toAwsNodePod(raw);
        if (found) keepOnePerNode(byNode, found.pod, found.terminating, this.logger);
      }
      const next = list.metadata?._continue || undefined;
      if (next !== undefined && next === continueToken) {
        throw new Error(`${this.describeCall()} returned the same continue token twice (page ${page}); the API server is paginating wrongly`);
      }
      continueToken = next;
    } while (continueToken !== undefined);
    this.logger.debug('aws-node pods listed', { pods: byNode.size, pages: page });
    return [...byNode.values()].map((entry) => entry.pod);
  }

  private async listPage(continueToken: string | undefined): Promise<{ items: V1Pod[]; metadata?: { _continue?: string } }> {
    const { namespace, labelSelector, pageSize, signal } = this.options;
    for (let attempt = 1; ; attempt++) {
      signal?.throwIfAborted();
      let failure: RequestFailure;
      try {
        return await this.api.listNamespacedPod(
          { namespace, labelSelector, limit: pageSize, _continue: continueToken },
          { middleware: [deadlineMiddleware(this.policy.requestTimeoutMs, signal)], middlewareMergeStrategy: 'append' },
        );
      } catch (err) {
        if (signal?.aborted) throw signal.reason;
        failure = describeFailure(err);
      }
      const error = new Error(`${this.describeCall(continueToken)} failed: ${failure.text}`);
      if (failure.status === 410 && continueToken !== undefined) throw new ContinueExpired(error);
      if (!failure.retryable || attempt >= this.policy.maxAttempts) {
        throw attempt > 1 ? new Error(`${error.message} (after ${attempt} attempts)`) : error;
      }
      const delayMs = Math.min(this.policy.maxDelayMs, failure.retryAfterMs ?? this.policy.baseDelayMs * 2 ** (attempt - 1));
      this.logger.warn('pod list failed; retrying', { error: error.message, attempt, delayMs });
      await sleep(delayMs, signal);
    }
  }

  private describeCall(continueToken?: string): string {
    const { namespace, labelSelector } = this.options;
    return `listNamespacedPod(namespace='${namespace}', labelSelector='${labelSelector}'${continueToken ? ', continue=…' : ''})`;
  }

  /** The pod as the collector needs it, or undefined (logged) when it cannot be scraped. */
  private toAwsNodePod(pod: V1Pod): { pod: AwsNodePod; terminating: boolean } | undefined {
    const podName = pod.metadata?.name;
    const nodeName = pod.spec?.nodeName;
    const phase = pod.status?.phase;
    if (!podName || !nodeName || phase !== 'Running') {
      this.logger.debug('skipping aws-node pod that is not running on a node', { pod: podName, node: nodeName, phase });
      return undefined;
    }
    const container = pod.status?.containerStatuses?.find((c) => c.name === AWS_NODE_CONTAINER);
    const started = container?.state?.running?.startedAt ?? pod.status?.startTime;
    const startTimeMs = toEpochMs(started);
    const result: AwsNodePod = {
      podName,
      namespace: pod.metadata?.namespace ?? this.options.namespace,
      nodeName,
      ...(pod.status?.podIP ? { podIP: pod.status.podIP } : {}),
      ...(startTimeMs !== undefined ? { startTimeMs } : {}),
    };
    return { pod: result, terminating: pod.metadata?.deletionTimestamp != null };
  }
}

/**
 * A DaemonSet rolled with maxSurge runs an old and a new aws-node on the same node for a while;
 * scraping both would count that node twice. Keep the pod that is not terminating, then the newer.
 */
function keepOnePerNode(
  byNode: Map<string, { pod: AwsNodePod; terminating: boolean }>,
  pod: AwsNodePod,
  terminating: boolean,
  logger: Logger,
): void {
  const current = byNode.get(pod.nodeName);
  if (current === undefined) {
    byNode.set(pod.nodeName, { pod, terminating });
    return;
  }
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

/**
 * Gives each request a deadline that also ends it when the caller aborts. The object-parameter
 * API of client-node 1.4 takes Observable middleware (its own small stub, not rxjs).
 */
function deadlineMiddleware(timeoutMs: number, signal: AbortSignal | undefined): ObservableMiddleware {
  return {
    pre: (context: RequestContext) => {
      const deadline = AbortSignal.timeout(timeoutMs);
      context.setSignal(signal ? AbortSignal.any([deadline, signal]) : deadline);
      return new Observable(Promise.resolve(context));
    },
    post: (context: ResponseContext) => new Observable(Promise.resolve(context)),
  };
}

interface RequestFailure {
  readonly text: string;
  readonly status?: number;
  readonly retryable: boolean;
  readonly retryAfterMs?: number;
}

function describeFailure(err: unknown): RequestFailure {
  if (err instanceof ApiException) {
    const status = err.code;
    const reason = statusMessage(err.body);
    const hint = status === 401 ? ' (credentials rejected: check the service account token or kubeconfig user)'
      : status === 403 ? ' (forbidden: the collector\'s role needs list on pods in this namespace)' : '';
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

/** The `message` of a Kubernetes Status body, or a short piece of any other body. */
function statusMessage(body: unknown): string | undefined {
  if (body === undefined || body === null || body === '') return undefined;
  if (typeof body === 'string') {
    try {
      const parsed = JSON.parse(body) as { message?: unknown };
      if (typeof parsed?.message === 'string') return parsed.message;
    } catch {
      // Not JSON: quote the start of it.
    }
    return body.length > 200 ? `${body.slice(0, 200)}…` : body;
  }
  const message = (body as { message?: unknown }).message;
  return typeof message === 'string' ? message : undefined;
}

/** Retry-After as seconds or an HTTP date, in milliseconds from now. */
function parseRetryAfter(value: string | undefined): number | undefined {
  if (value === undefined || value.trim() === '') return undefined;
  if (/^\d+$/.test(value.trim())) return Number(value.trim()) * 1000;
  const at = Date.parse(value);
  return Number.isFinite(at) ? Math.max(0, at - Date.now()) : undefined;
}

function sleep(ms: number, signal: AbortSignal | undefined): Promise<void> {
  return new Promise((resolve, reject) => {
    if (signal?.aborted) {
      reject(signal.reason);
      return;
    }
    const onAbort = (): void => {
      clearTimeout(timer);
      reject(signal?.reason);
    };
    const timer = setTimeout(() => {
      signal?.removeEventListener('abort', onAbort);
      resolve();
    }, ms);
    signal?.addEventListener('abort', onAbort, { once: true });
  });
}

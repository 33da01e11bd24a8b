/**
 * Scraping: every node's ipamd /metrics, parsed, with bounded concurrency and a deadline per node.
 *
 * Two ways to reach a node:
 * - proxy: through the API server's pod proxy (upstream's way; needs only RBAC on pods/proxy),
 *   GET <server>/api/v1/namespaces/<ns>/pods/<pod>:<port>/proxy/metrics. Every request goes to the
 *   one API server, so a keep-alive pool of `concurrency` connections serves a whole cycle and
 *   the next ones: one TLS handshake per connection, not per node (proxy-auth.ts).
 * - direct: GET http://<podIP>:<port>/metrics (aws-node runs on the host network, so this is the
 *   node), which needs a network path from the collector to every node's port. Only a podIP that is
 *   an IP address is used (discovery keeps only host-network pods whose podIP is their hostIP).
 *
 * A node fails alone: its result carries an error that names the node, the pod and the cause, and
 * scrapeAll never throws. One deadline covers connect, headers and body (fetch-text.ts), so an
 * endpoint that accepts and never answers, or trickles its body, costs at most `timeoutMs`; the
 * caller's signal ends every scrape in flight at once. The worker pool is scrape-pool.ts; how
 * many of its workers may have a request in flight follows the answers (adaptive-limit.ts): a 429
 * from the API server halves it, so a throttled API server is not hammered at full concurrency.
 */
import { setMaxListeners } from 'node:events';
import * as http from 'node:http';
import type { KubeConfig } from '@kubernetes/client-node';
import { safeExcerpt } from './excerpt';
import { AdaptiveLimit } from './adaptive-limit';
import { fetchText, HttpStatusError, StaleConnectionError, type FetchTarget } from './fetch-text';
import { silentLogger, type Logger } from './log';
import { ExpositionParseError, parseExposition } from './parse';
import { canonicalIP, urlHost } from './pod-address';
import { ApiServerProxyAuth, type ProxyAuth, type ProxyAuthSource } from './proxy-auth';
import { failedFirst, runPool } from './scrape-pool';
import type { AwsNodePod, NodeScrapeResult } from './types';

export { failedFirst } from './scrape-pool';

export interface ScrapeOptions {
  readonly mode: 'proxy' | 'direct';
  /** ipamd metrics port on the node. */
  readonly port: number;
  /** Deadline of one node's scrape: connect, headers and body. */
  readonly timeoutMs: number;
  /** Scrapes in flight at once. */
  readonly concurrency: number;
  /** A body larger than this fails the node (counted after gzip decoding). */
  readonly maxBytes: number;
  /** Metric families the parser keeps. */
  readonly keep: ReadonlySet<string>;
  readonly logger?: Logger;
  /**
   * How long an idle keep-alive connection waits for the next request. Above the cycle interval,
   * connections are reused from cycle to cycle; in direct mode that holds one socket per node.
   * @default 60000
   */
  readonly idleSocketTimeoutMs?: number;
  /**
   * Direct mode keeps one idle connection per node between cycles, which only pays while there are
   * few nodes: an idle socket costs about 8.5 KiB of RSS (bench/idle-socket-cost.ts), so 100,000
   * of them would cost about 830 MiB. Above this many pods, direct scrapes close their connection.
   * @default DIRECT_KEEP_ALIVE_MAX_NODES
   */
  readonly directKeepAliveMaxNodes?: number;
}

/** Pods up to which direct mode keeps connections open between cycles (about 85 MiB of RSS at most). */
export const DIRECT_KEEP_ALIVE_MAX_NODES = 10_000;

/** Characters of a parse error (which may quote the payload) kept in a node's error. */
const PARSE_ERROR_CHARS = 200;

export class Scraper {
  private readonly options: ScrapeOptions;
  private readonly logger: Logger;
  /** Proxy mode only. */
  private readonly proxyAuth?: ProxyAuthSource;
  private readonly directAgent: http.Agent;
  /** Direct mode above directKeepAliveMaxNodes: one connection per scrape, closed after it. */
  private readonly directCloseAgent = new http.Agent({ keepAlive: false });
  /** The agent direct scrapes use this cycle. */
  private directAgentNow: http.Agent;
  private closed = false;
  /** Nodes whose last scrape failed: started first next time, so their timeouts overlap the rest. */
  private failedLastTime = new Set<string>();
  /** Scrapes allowed in flight: the concurrency, less after 429s. Kept across cycles. */
  readonly limit: AdaptiveLimit;

  /**
   * `credentials`: the kubeconfig proxy mode authenticates with, or (a scrape worker) a source of
   * credentials read elsewhere. Direct mode uses neither.
   */
  constructor(credentials: KubeConfig | ProxyAuthSource, options: ScrapeOptions) {
    validate(options);
    this.options = options;
    this.logger = options.logger ?? silentLogger;
    this.limit = new AdaptiveLimit({ max: options.concurrency, maxPauseMs: options.timeoutMs });
    const idleSocketTimeoutMs = options.idleSocketTimeoutMs ?? 60_000;
    if (options.mode === 'proxy') {
      this.proxyAuth = 'read' in credentials && 'apiServer' in credentials
        ? credentials : new ApiServerProxyAuth(credentials, { maxSockets: options.concurrency, idleSocketTimeoutMs });
    }
    this.directAgent = new http.Agent({
      keepAlive: true,
      // One request per node per cycle: a single idle socket per node is all reuse can use.
      maxFreeSockets: 1,
      timeout: idleSocketTimeoutMs,
      scheduling: 'lifo',
    });
    this.directAgentNow = this.directAgent;
  }

  /**
   * Scrapes every pod's node; one result per pod, in the pods' order. Never throws.
   * `onResult` sees each result as it arrives and returns what to keep in the array, so a caller
   * can fold a node in and drop its parsed payload before the next ones are read.
   * `signal` (the stop signal, or a cycle deadline) ends the scrapes in flight and fails the rest.
   */
  async scrapeAll(pods: readonly AwsNodePod[], signal?: AbortSignal, onResult?: (r: NodeScrapeResult) => NodeScrapeResult): Promise<NodeScrapeResult[]> {
    const results: NodeScrapeResult[] = new Array(pods.length);
    const failAll = (cause: string): NodeScrapeResult[] => pods.map((pod) => failed(pod, cause, 0));
    if (this.closed) return failAll('the scraper is closed');
    // Each scrape in flight listens for the cycle's abort: one listener per worker is expected.
    if (signal) setMaxListeners(this.options.concurrency + 10, signal);
    if (pods.length === 0) return results;

    let auth: ProxyAuth | undefined;
    if (this.proxyAuth) {
      try {
        auth = await this.proxyAuth.read(this.options.timeoutMs, signal);
      } catch (err) {
        return failAll(`cannot build API server credentials from the kubeconfig: ${errorText(err)}`);
      }
    }

    if (this.options.mode === 'direct') {
      const keepAlive = pods.length <= (this.options.directKeepAliveMaxNodes ?? DIRECT_KEEP_ALIVE_MAX_NODES);
      this.directAgentNow = keepAlive ? this.directAgent : this.directCloseAgent;
      // The cluster grew past the bound: the connections kept from smaller cycles go too.
      if (!keepAlive) this.directAgent.destroy();
    }
    const failedNow = new Set<string>();
    const releaseAll = (): void => this.limit.releaseAll();
    signal?.addEventListener('abort', releaseAll, { once: true });
    const throttledBefore = this.limit.counters.throttled;
    await runPool(failedFirst(pods, this.failedLastTime), this.options.concurrency, async (index) => {
      const pod = pods[index];
      const ticket = await this.limit.acquire();
      const throttle: Throttle = { throttled: false };
      let r: NodeScrapeResult;
      try {
        r = signal?.aborted
          ? failed(pod, 'not scraped: the cycle was aborted', 0)
          : await this.scrapeOne(pod, auth, signal, throttle);
      } finally {
        this.limit.release(ticket, throttle.throttled, throttle.retryAfterMs);
      }
      if (!r.ok) failedNow.add(pod.nodeName);
      results[index] = onResult ? onResult(r) : r;
    });
    signal?.removeEventListener('abort', releaseAll);
    const throttled = this.limit.counters.throttled - throttledBefore;
    if (throttled > 0) {
      this.logger.warn('the API server throttled scrapes (HTTP 429); fewer run at once until it stops', {
        throttled, limitNow: this.limit.limit, concurrency: this.options.concurrency,
      });
    }
    this.failedLastTime = failedNow;
    return results;
  }

  /** Destroys the keep-alive connections; later scrapeAll calls fail every node. */
  close(): void {
    this.closed = true;
    this.proxyAuth?.close();
    this.directAgent.destroy();
    this.directCloseAgent.destroy();
  }

  private async scrapeOne(pod: AwsNodePod, auth: ProxyAuth | undefined, signal: AbortSignal | undefined, throttle: Throttle): Promise<NodeScrapeResult> {
    const started = performance.now();
    const elapsed = (): number => performance.now() - started;
    let target: FetchTarget;
    try {
      target = this.targetOf(pod, auth);
    } catch (err) {
      return failed(pod, errorText(err), elapsed());
    }
    try {
      const deadline = started + this.options.timeoutMs;
      let text: string;
      try {
        text = await fetchText(target, this.options, deadline, signal);
      } catch (err) {
        if (!(err instanceof StaleConnectionError)) throw err;
        // The peer closed an idle keep-alive connection as we reused it: the request never
        // reached ipamd, so one more try on a new connection is safe, within the same deadline.
        text = await fetchText(target, this.options, deadline, signal);
      }
      const metrics = parseExposition(text, this.options.keep);
      return { ok: true, pod, metrics, durationMs: elapsed() };
    } catch (err) {
      if (err instanceof HttpStatusError && err.status === 429) {
        throttle.throttled = true;
        throttle.retryAfterMs = err.retryAfterMs;
      }
      // A parse error may quote the payload: only a short printable excerpt goes on.
      const cause = err instanceof ExpositionParseError
        ? `invalid exposition text at ${safeExcerpt(err.message, PARSE_ERROR_CHARS)}` : errorText(err);
      const result = failed(pod, `${cause} (GET ${target.url.origin}${target.url.pathname})`, elapsed());
      this.logger.debug('node scrape failed', { node: pod.nodeName, error: result.ok ? undefined : result.error });
      return result;
    }
  }

  private targetOf(pod: AwsNodePod, auth: ProxyAuth | undefined): FetchTarget {
    const port = this.options.port;
    if (this.proxyAuth) {
      const a = auth as ProxyAuth;
      const ns = encodeURIComponent(pod.namespace);
      const name = encodeURIComponent(pod.podName);
      // The colon stays literal, as kubectl and client-go write it.
      const url = new URL(`${this.proxyAuth.apiServer}/api/v1/namespaces/${ns}/pods/${name}:${port}/proxy/metrics`);
      return { url, agent: a.agent, headers: a.headers, basicAuth: a.basicAuth };
    }
    if (!pod.podIP) throw new Error('the pod has no podIP yet, so direct scraping cannot reach it');
    // Discovery checks this too; the URL is built from nothing but an IP address whatever the caller.
    const ip = canonicalIP(pod.podIP);
    if (ip === undefined) {
      throw new Error(`the pod's podIP '${safeExcerpt(pod.podIP, 64)}' is not an IP address, so direct scraping does not connect to it`);
    }
    return { url: new URL(`http://${urlHost(ip)}:${port}/metrics`), agent: this.directAgentNow, headers: {} };
  }
}

/** Whether one scrape was throttled (HTTP 429), for the adaptive limit. */
interface Throttle {
  throttled: boolean;
  retryAfterMs?: number;
}

function validate(options: ScrapeOptions): void {
  const positive = (name: keyof ScrapeOptions, value: number): void => {
    if (!Number.isInteger(value) || value < 1) throw new Error(`ScrapeOptions.${name} must be a positive integer, got ${value}`);
  };
  if (options.mode !== 'proxy' && options.mode !== 'direct') {
    throw new Error(`ScrapeOptions.mode must be 'proxy' or 'direct', got '${String(options.mode)}'`);
  }
  positive('port', options.port);
  if (options.port > 65535) throw new Error(`ScrapeOptions.port must be at most 65535, got ${options.port}`);
  positive('timeoutMs', options.timeoutMs);
  positive('concurrency', options.concurrency);
  positive('maxBytes', options.maxBytes);
}

function failed(pod: AwsNodePod, cause: string, durationMs: number): NodeScrapeResult {
  return { ok: false, pod, error: nodeFailure(pod, cause), durationMs };
}

/** A node's failure as every log line and outcome words it: the node, its pod, the cause. */
export function nodeFailure(pod: AwsNodePod, cause: string): string {
  return `node ${pod.nodeName} (pod ${pod.namespace}/${pod.podName}): ${cause}`;
}

function errorText(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}

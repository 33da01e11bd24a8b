/**
 * Scraping: every node's ipamd /metrics, parsed, with bounded concurrency and a deadline per node.
 *
 * Two ways to reach a node:
 * - proxy: through the API server's pod proxy (upstream's way; needs only RBAC on pods/proxy),
 *   GET <server>/api/v1/namespaces/<ns>/pods/<pod>:<port>/proxy/metrics. Every request goes to the
 *   one API server, so a keep-alive pool of `concurrency` connections serves a whole cycle and
 *   the next ones: one TLS handshake per connection, not per node.
 * - direct: GET http://<podIP>:<port>/metrics (aws-node runs on the host network, so this is the
 *   node), which needs a network path from the collector to every node's port.
 *
 * A node fails alone: its result carries an error that names the node, the pod and the cause, and
 * scrapeAll never throws. One deadline covers connect, headers and body, so an endpoint that
 * accepts and never answers, or trickles its body, costs at most `timeoutMs`.
 */
import { setMaxListeners } from 'node:events';
import * as http from 'node:http';
import * as https from 'node:https';
import * as net from 'node:net';
import * as zlib from 'node:zlib';
import type { KubeConfig } from '@kubernetes/client-node';
import { silentLogger, type Logger } from './log';
import { ExpositionParseError, parseExposition } from './parse';
import type { AwsNodePod, NodeScrapeResult } from './types';

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
}

/** ipamd's promhttp would otherwise be free to negotiate OpenMetrics or protobuf. */
const ACCEPT = 'text/plain;version=0.0.4;q=1,*/*;q=0.1';
/** Bytes of a non-2xx body quoted in the error (the API server explains proxy failures there). */
const ERROR_BODY_QUOTE = 300;
const ERROR_BODY_READ_LIMIT = 4096;

/** Credentials and transport for one cycle of proxy requests. */
interface ProxyAuth {
  readonly headers: http.OutgoingHttpHeaders;
  /** user:password for basic auth, when the kubeconfig user has one. */
  readonly basicAuth?: string;
}

interface Target {
  readonly url: URL;
  readonly agent: http.Agent;
  readonly headers: http.OutgoingHttpHeaders;
  readonly basicAuth?: string;
}

export class Scraper {
  private readonly options: ScrapeOptions;
  private readonly logger: Logger;
  /** API server base URL (path prefix kept, no trailing slash), proxy mode only. */
  private readonly apiServer?: string;
  private proxyAgent?: http.Agent;
  private readonly directAgent: http.Agent;
  private closed = false;
  /** Nodes whose last scrape failed: started first next time, so their timeouts overlap the rest. */
  private failedLastTime = new Set<string>();

  constructor(private readonly kc: KubeConfig, options: ScrapeOptions) {
    validate(options);
    this.options = options;
    this.logger = options.logger ?? silentLogger;
    if (options.mode === 'proxy') {
      const cluster = kc.getCurrentCluster();
      if (!cluster) throw new Error('Proxy-mode scraping needs a kubeconfig with a current cluster; none is selected');
      if (cluster.proxyUrl) {
        throw new Error(`Kubeconfig cluster '${cluster.name}' sets proxy-url, which proxy-mode scraping does not support: `
          + 'remove proxy-url, or set SCRAPE_MODE=direct');
      }
      this.apiServer = cluster.server.replace(/\/+$/, '');
    }
    this.directAgent = new http.Agent({
      keepAlive: true,
      // One request per node per cycle: a single idle socket per node is all reuse can use.
      maxFreeSockets: 1,
      timeout: options.idleSocketTimeoutMs ?? 60_000,
      scheduling: 'lifo',
    });
  }

  /**
   * Scrapes every pod's node; one result per pod, in the pods' order. Never throws.
   * `onResult` sees each result as it arrives and returns what to keep in the array, so a caller
   * can fold a node in and drop its parsed payload before the next ones are read.
   */
  async scrapeAll(pods: readonly AwsNodePod[], signal?: AbortSignal, onResult?: (r: NodeScrapeResult) => NodeScrapeResult): Promise<NodeScrapeResult[]> {
    const results: NodeScrapeResult[] = new Array(pods.length);
    const failAll = (cause: string): NodeScrapeResult[] => pods.map((pod) => failed(pod, cause, 0));
    if (this.closed) return failAll('the scraper is closed');
    // Each scrape in flight listens for the cycle's abort: one listener per worker is expected.
    if (signal) setMaxListeners(this.options.concurrency + 10, signal);
    if (pods.length === 0) return results;

    let auth: ProxyAuth | undefined;
    if (this.options.mode === 'proxy') {
      try {
        auth = await this.proxyAuth();
      } catch (err) {
        return failAll(`cannot build API server credentials from the kubeconfig: ${errorText(err)}`);
      }
    }

    // A fixed pool of workers takes pods in `order`: at most `concurrency` promises, whatever the count.
    // A node that hangs costs its whole timeout; started last, it would add that timeout to the cycle.
    const order = failedFirst(pods, this.failedLastTime);
    const failedNow = new Set<string>();
    let next = 0;
    const worker = async (): Promise<void> => {
      while (next < order.length) {
        const index = order[next++];
        const pod = pods[index];
        const r = signal?.aborted
          ? failed(pod, 'not scraped: the cycle was aborted', 0)
          : await this.scrapeOne(pod, auth, signal);
        if (!r.ok) failedNow.add(pod.nodeName);
        results[index] = onResult ? onResult(r) : r;
      }
    };
    await Promise.all(Array.from({ length: Math.min(this.options.concurrency, pods.length) }, worker));
    this.failedLastTime = failedNow;
    return results;
  }

  /** Destroys the keep-alive connections; later scrapeAll calls fail every node. */
  close(): void {
    this.closed = true;
    this.proxyAgent?.destroy();
    this.directAgent.destroy();
  }

  private async scrapeOne(pod: AwsNodePod, auth: ProxyAuth | undefined, signal: AbortSignal | undefined): Promise<NodeScrapeResult> {
    const started = performance.now();
    const elapsed = (): number => performance.now() - started;
    let target: Target;
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
      const cause = err instanceof ExpositionParseError ? `invalid exposition text at ${err.message}` : errorText(err);
      const result = failed(pod, `${cause} (GET ${describeUrl(target.url)})`, elapsed());
      this.logger.debug('node scrape failed', { node: pod.nodeName, error: result.ok ? undefined : result.error });
      return result;
    }
  }

  private targetOf(pod: AwsNodePod, auth: ProxyAuth | undefined): Target {
    const port = this.options.port;
    if (this.options.mode === 'proxy') {
      const ns = encodeURIComponent(pod.namespace);
      const name = encodeURIComponent(pod.podName);
      // The colon stays literal, as kubectl and client-go write it.
      const url = new URL(`${this.apiServer}/api/v1/namespaces/${ns}/pods/${name}:${port}/proxy/metrics`);
      const a = auth as ProxyAuth;
      return { url, agent: this.proxyAgent as http.Agent, headers: a.headers, basicAuth: a.basicAuth };
    }
    if (!pod.podIP) throw new Error('the pod has no podIP yet, so direct scraping cannot reach it');
    const host = net.isIPv6(pod.podIP) ? `[${pod.podIP}]` : pod.podIP;
    return { url: new URL(`http://${host}:${port}/metrics`), agent: this.directAgent, headers: {} };
  }

  /**
   * The kubeconfig's credentials, read once per cycle so that rotated tokens (service account
   * token file, exec plugins) are picked up. client-node makes a new agent on every call, which
   * would open a connection per request; only its TLS material is kept, in one keep-alive agent.
   */
  private async proxyAuth(): Promise<ProxyAuth> {
    const opts: https.RequestOptions = {};
    await this.kc.applyToHTTPSOptions(opts);
    if (!this.proxyAgent) {
      const agentOptions: https.AgentOptions = {
        keepAlive: true,
        maxSockets: this.options.concurrency,
        maxFreeSockets: this.options.concurrency,
        timeout: this.options.idleSocketTimeoutMs ?? 60_000,
        scheduling: 'lifo',
      };
      const secure = new URL(this.apiServer as string).protocol === 'https:';
      this.proxyAgent = secure
        ? new https.Agent({
          ...agentOptions,
          ca: opts.ca, cert: opts.cert, key: opts.key, pfx: opts.pfx, passphrase: opts.passphrase,
          servername: opts.servername,
          ...(opts.rejectUnauthorized !== undefined ? { rejectUnauthorized: opts.rejectUnauthorized } : {}),
        })
        : new http.Agent(agentOptions);
    }
    // client-node writes headers as an object (Authorization, Impersonate-User), never as a list.
    const headers: http.OutgoingHttpHeaders = { ...(opts.headers as http.OutgoingHttpHeaders | undefined) };
    return { headers, ...(opts.auth ? { basicAuth: opts.auth } : {}) };
  }
}

/** Indexes of `pods`, those on nodes in `failedBefore` first, each group in the pods' order. */
export function failedFirst(pods: readonly AwsNodePod[], failedBefore: ReadonlySet<string>): number[] {
  const first: number[] = [];
  const rest: number[] = [];
  pods.forEach((pod, i) => (failedBefore.has(pod.nodeName) ? first : rest).push(i));
  return first.concat(rest);
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

/** A reused keep-alive connection that turned out to be closed before any answer. */
class StaleConnectionError extends Error {}

/**
 * One GET, resolved with the body decoded as UTF-8 (invalid bytes become U+FFFD), rejected with a
 * readable cause. The socket is destroyed on every failure, so a stalled peer is never reused.
 * `deadline` is a performance.now() time covering connect, headers and body.
 */
function fetchText(target: Target, options: ScrapeOptions, deadline: number, signal: AbortSignal | undefined): Promise<string> {
  const { timeoutMs, maxBytes } = options;
  return new Promise<string>((resolve, reject) => {
    if (signal?.aborted) {
      reject(new Error('aborted before the request was sent'));
      return;
    }
    let settled = false;
    let phase = 'connecting and waiting for response headers';
    let received = 0;

    const client = target.url.protocol === 'https:' ? https : http;
    const req = client.request(target.url, {
      method: 'GET',
      agent: target.agent,
      headers: { ...target.headers, accept: ACCEPT, 'accept-encoding': 'gzip' },
      ...(target.basicAuth ? { auth: target.basicAuth } : {}),
    });

    const cleanup = (): void => {
      clearTimeout(timer);
      signal?.removeEventListener('abort', onAbort);
    };
    const fail = (cause: string | Error): void => {
      if (settled) return;
      settled = true;
      cleanup();
      req.destroy();
      reject(typeof cause === 'string' ? new Error(cause) : cause);
    };
    const succeed = (body: string): void => {
      if (settled) return;
      settled = true;
      cleanup();
      resolve(body);
    };
    const onAbort = (): void => fail(`aborted while ${phase}`);
    const timer = setTimeout(() => fail(`timed out after ${timeoutMs} ms while ${phase}`), Math.max(0, deadline - performance.now()));
    signal?.addEventListener('abort', onAbort, { once: true });

    let answered = false;
    req.on('error', (err) => {
      const code = (err as NodeJS.ErrnoException).code;
      if (req.reusedSocket && !answered && (code === 'ECONNRESET' || code === 'EPIPE')) {
        fail(new StaleConnectionError(socketErrorText(err, phase, received)));
      } else {
        fail(socketErrorText(err, phase, received));
      }
    });
    req.on('response', (res) => {
      answered = true;
      const status = res.statusCode ?? 0;
      const gzipped = /\bgzip\b/i.test(String(res.headers['content-encoding'] ?? ''));
      const ok = status >= 200 && status < 300;
      const declared = Number(res.headers['content-length']);
      if (ok && !gzipped && Number.isFinite(declared) && declared > maxBytes) {
        fail(`payload larger than ${maxBytes} bytes (Content-Length ${declared})`);
        return;
      }
      phase = ok ? 'reading the body' : `reading the body of HTTP ${status}`;

      // Bytes on the wire are capped at `limit` too: a gzipped body is never larger than its text
      // in practice, and the decoded size is capped again below.
      const limit = ok ? maxBytes : ERROR_BODY_READ_LIMIT;
      const chunks: Buffer[] = [];
      res.on('data', (chunk: Buffer) => {
        received += chunk.length;
        if (received > limit) {
          if (ok) fail(`payload larger than ${maxBytes} bytes`);
          else fail(httpErrorText(status, decodeErrorBody(Buffer.concat(chunks), gzipped)));
          return;
        }
        chunks.push(chunk);
      });
      res.on('end', () => {
        const raw = Buffer.concat(chunks, received);
        if (!ok) {
          fail(httpErrorText(status, decodeErrorBody(raw, gzipped)));
          return;
        }
        if (!gzipped) {
          succeed(raw.toString('utf8'));
          return;
        }
        // One-shot decoding on this thread: zlib.gunzip's hand-off to the thread pool costs the main
        // thread more (about 26 µs a payload) than inflating here (about 18 µs; bench/gunzip-cost.ts).
        phase = 'decoding the gzipped body';
        let text: Buffer;
        try {
          text = zlib.gunzipSync(raw, { maxOutputLength: maxBytes });
        } catch (err) {
          if ((err as NodeJS.ErrnoException).code === 'ERR_BUFFER_TOO_LARGE') fail(`payload larger than ${maxBytes} bytes after gzip decoding`);
          else fail(`invalid gzip body: ${(err as Error).message}`);
          return;
        }
        succeed(text.toString('utf8'));
      });
      res.on('error', (err) => fail(socketErrorText(err, phase, received)));
      res.on('close', () => {
        if (!res.complete) fail(`connection closed after ${received} bytes, before the body was complete`);
      });
    });
    req.end();
  });
}

/** An error body as text; a gzipped one is decoded when it is whole and small, else left out. */
function decodeErrorBody(raw: Buffer, gzipped: boolean): string {
  if (!gzipped) return raw.toString('utf8');
  try {
    return zlib.gunzipSync(raw, { maxOutputLength: ERROR_BODY_READ_LIMIT }).toString('utf8');
  } catch {
    return '';
  }
}

function httpErrorText(status: number, body: string): string {
  const quoted = quoteBody(body);
  return `HTTP ${status}${http.STATUS_CODES[status] ? ` ${http.STATUS_CODES[status]}` : ''}${quoted ? `: ${quoted}` : ''}`;
}

/** The message of a Kubernetes Status body, or the start of any other body on one line. */
function quoteBody(body: string): string {
  try {
    const status = JSON.parse(body) as { message?: unknown };
    if (typeof status?.message === 'string') return status.message;
  } catch {
    // Not JSON.
  }
  const oneLine = body.replace(/\s+/g, ' ').trim();
  return oneLine.length > ERROR_BODY_QUOTE ? `${oneLine.slice(0, ERROR_BODY_QUOTE)}…` : oneLine;
}

function socketErrorText(err: Error, phase: string, received: number): string {
  const code = (err as NodeJS.ErrnoException).code;
  if (code === 'ECONNRESET') {
    return `connection reset by the peer while ${phase}${received > 0 ? ` (after ${received} bytes)` : ''}`;
  }
  if (code === 'ECONNREFUSED') return `connection refused (${err.message}): is ipamd listening on that port?`;
  return `${err.message} while ${phase}`;
}

function describeUrl(url: URL): string {
  return `${url.origin}${url.pathname}`;
}

function failed(pod: AwsNodePod, cause: string, durationMs: number): NodeScrapeResult {
  return { ok: false, pod, error: `node ${pod.nodeName} (pod ${pod.namespace}/${pod.podName}): ${cause}`, durationMs };
}

function errorText(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}

/**
 * Credentials and connections for proxy-mode scraping: requests to the API server's pod proxy,
 * authenticated as the kubeconfig's user, over one keep-alive pool.
 *
 * client-node makes a new agent on every call, which would open a connection per request; only its
 * TLS material and headers are taken, into one agent kept for the scraper's life.
 */
import * as http from 'node:http';
import * as https from 'node:https';
import type { KubeConfig } from '@kubernetes/client-node';

/** What one cycle's proxy requests carry. */
export interface ProxyAuth {
  readonly agent: http.Agent;
  readonly headers: http.OutgoingHttpHeaders;
  /** user:password for basic auth, when the kubeconfig user has one. */
  readonly basicAuth?: string;
}

export interface ProxyConnectionOptions {
  /** Connections kept to the API server: the scrape concurrency. */
  readonly maxSockets: number;
  /** How long an idle keep-alive connection waits for the next request. */
  readonly idleSocketTimeoutMs: number;
}

export class ApiServerProxyAuth {
  /** API server base URL, path prefix kept, no trailing slash. */
  readonly apiServer: string;
  private agent?: http.Agent;

  constructor(private readonly kc: KubeConfig, private readonly connections: ProxyConnectionOptions) {
    const cluster = kc.getCurrentCluster();
    if (!cluster) throw new Error('Proxy-mode scraping needs a kubeconfig with a current cluster; none is selected');
    if (cluster.proxyUrl) {
      throw new Error(`Kubeconfig cluster '${cluster.name}' sets proxy-url, which proxy-mode scraping does not support: `
        + 'remove proxy-url, or set SCRAPE_MODE=direct');
    }
    this.apiServer = cluster.server.replace(/\/+$/, '');
  }

  /**
   * The kubeconfig's credentials, read once per cycle so that rotated tokens (service account token
   * file, exec plugins) are picked up. An exec plugin may hang: the read ends with an error after
   * `timeoutMs` or when `signal` aborts (the plugin is left to finish on its own).
   */
  async read(timeoutMs: number, signal?: AbortSignal): Promise<ProxyAuth> {
    const opts: https.RequestOptions = {};
    await untilDeadline(this.kc.applyToHTTPSOptions(opts), timeoutMs, signal);
    this.agent ??= this.makeAgent(opts);
    // client-node writes headers as an object (Authorization, Impersonate-User), never as a list.
    const headers: http.OutgoingHttpHeaders = { ...(opts.headers as http.OutgoingHttpHeaders | undefined) };
    return { agent: this.agent, headers, ...(opts.auth ? { basicAuth: opts.auth } : {}) };
  }

  /** Destroys the keep-alive connections. */
  close(): void {
    this.agent?.destroy();
  }

  private makeAgent(opts: https.RequestOptions): http.Agent {
    const agentOptions: https.AgentOptions = {
      keepAlive: true,
      maxSockets: this.connections.maxSockets,
      maxFreeSockets: this.connections.maxSockets,
      timeout: this.connections.idleSocketTimeoutMs,
      scheduling: 'lifo',
    };
    if (new URL(this.apiServer).protocol !== 'https:') return new http.Agent(agentOptions);
    return new https.Agent({
      ...agentOptions,
      ca: opts.ca, cert: opts.cert, key: opts.key, pfx: opts.pfx, passphrase: opts.passphrase,
      servername: opts.servername,
      ...(opts.rejectUnauthorized !== undefined ? { rejectUnauthorized: opts.rejectUnauthorized } : {}),
    });
  }
}

/** `work`, or an error once `timeoutMs` passes or `signal` aborts. */
function untilDeadline<T>(work: Promise<T>, timeoutMs: number, signal: AbortSignal | undefined): Promise<T> {
  return new Promise<T>((resolve, reject) => {
    if (signal?.aborted) {
      reject(new Error('aborted before the credentials were read'));
      return;
    }
    const done = (): void => {
      clearTimeout(timer);
      signal?.removeEventListener('abort', onAbort);
    };
    const onAbort = (): void => {
      done();
      reject(new Error('aborted while reading the credentials'));
    };
    const timer = setTimeout(() => {
      done();
      reject(new Error(`reading the credentials took longer than ${timeoutMs} ms (an exec plugin that hangs?)`));
    }, timeoutMs);
    signal?.addEventListener('abort', onAbort, { once: true });
    work.then((value) => { done(); resolve(value); }, (err: unknown) => { done(); reject(err); });
  });
}

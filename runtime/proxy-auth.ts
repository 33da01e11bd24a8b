/**
 * Credentials and connections for proxy-mode scraping: requests to the API server's pod proxy,
 * authenticated as the kubeconfig's user, over one keep-alive pool.
 *
 * The kubeconfig is read where it is loaded (ApiServerProxyAuth); a scrape worker gets the
 * credentials as data with each cycle (PassedProxyAuth) and so never loads the Kubernetes client.
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

/**
 * The kubeconfig user's credentials for one cycle as plain data (strings and buffers), so they can
 * be read in one thread and used in another (the scrape workers get them with each cycle).
 */
export interface ProxyCredentials {
  readonly headers: Readonly<Record<string, string>>;
  readonly basicAuth?: string;
  readonly tls: ProxyTls;
}

/** The TLS material of the API server connection, as client-node gives it. */
export interface ProxyTls {
  readonly ca?: https.AgentOptions['ca'];
  readonly cert?: https.AgentOptions['cert'];
  readonly key?: https.AgentOptions['key'];
  readonly pfx?: https.AgentOptions['pfx'];
  readonly passphrase?: string;
  readonly servername?: string;
  readonly rejectUnauthorized?: boolean;
}

/** Where the scraper gets each cycle's proxy credentials and connections. */
export interface ProxyAuthSource {
  /** API server base URL, path prefix kept, no trailing slash. */
  readonly apiServer: string;
  read(timeoutMs: number, signal?: AbortSignal): Promise<ProxyAuth>;
  /** Destroys the keep-alive connections. */
  close(): void;
}

export interface ProxyConnectionOptions {
  /** Connections kept to the API server: the scrape concurrency. */
  readonly maxSockets: number;
  /** How long an idle keep-alive connection waits for the next request. */
  readonly idleSocketTimeoutMs: number;
}

/** The kubeconfig's current cluster's URL, refusing what proxy-mode scraping cannot use. */
export function apiServerOf(kc: KubeConfig): string {
  const cluster = kc.getCurrentCluster();
  if (!cluster) throw new Error('Proxy-mode scraping needs a kubeconfig with a current cluster; none is selected');
  if (cluster.proxyUrl) {
    throw new Error(`Kubeconfig cluster '${cluster.name}' sets proxy-url, which proxy-mode scraping does not support: `
      + 'remove proxy-url, or set SCRAPE_MODE=direct');
  }
  return cluster.server.replace(/\/+$/, '');
}

/**
 * The kubeconfig's credentials, read once per cycle so that rotated tokens (service account token
 * file, exec plugins) are picked up. An exec plugin may hang: the read ends with an error after
 * `timeoutMs` or when `signal` aborts (the plugin is left to finish on its own).
 */
export async function readProxyCredentials(kc: KubeConfig, timeoutMs: number, signal?: AbortSignal): Promise<ProxyCredentials> {
  const opts: https.RequestOptions = {};
  await untilDeadline(kc.applyToHTTPSOptions(opts), timeoutMs, signal);
  // client-node writes headers as an object (Authorization, Impersonate-User), never as a list.
  const headers = { ...(opts.headers as Record<string, string> | undefined) };
  const tls: ProxyTls = {
    ca: opts.ca, cert: opts.cert, key: opts.key, pfx: opts.pfx, passphrase: opts.passphrase, servername: opts.servername,
    ...(opts.rejectUnauthorized !== undefined ? { rejectUnauthorized: opts.rejectUnauthorized } : {}),
  };
  return { headers, tls, ...(opts.auth ? { basicAuth: opts.auth } : {}) };
}

/** Credentials read from the kubeconfig in this thread, over one keep-alive pool. */
export class ApiServerProxyAuth implements ProxyAuthSource {
  readonly apiServer: string;
  private readonly connections: ProxyConnections;

  constructor(private readonly kc: KubeConfig, connections: ProxyConnectionOptions) {
    this.apiServer = apiServerOf(kc);
    this.connections = new ProxyConnections(this.apiServer, connections);
  }

  async read(timeoutMs: number, signal?: AbortSignal): Promise<ProxyAuth> {
    return this.connections.authFor(await readProxyCredentials(this.kc, timeoutMs, signal));
  }

  close(): void {
    this.connections.close();
  }
}

/** Credentials another thread read and handed over (`use`), over this thread's own keep-alive pool. */
export class PassedProxyAuth implements ProxyAuthSource {
  private readonly connections: ProxyConnections;
  private current?: ProxyCredentials;

  constructor(readonly apiServer: string, connections: ProxyConnectionOptions) {
    this.connections = new ProxyConnections(apiServer, connections);
  }

  /** The credentials of the coming cycle. */
  use(credentials: ProxyCredentials): void {
    this.current = credentials;
  }

  async read(): Promise<ProxyAuth> {
    if (!this.current) throw new Error('no API server credentials were handed to this scrape worker');
    return this.connections.authFor(this.current);
  }

  close(): void {
    this.connections.close();
  }
}

/**
 * One keep-alive agent to the API server for the scraper's life. client-node makes a new agent on
 * every call, which would open a connection per request; only its TLS material and headers are
 * taken, and the agent is made from the first cycle's material.
 */
class ProxyConnections {
  private agent?: http.Agent;

  constructor(private readonly apiServer: string, private readonly options: ProxyConnectionOptions) {}

  authFor(credentials: ProxyCredentials): ProxyAuth {
    this.agent ??= this.makeAgent(credentials.tls);
    return { agent: this.agent, headers: { ...credentials.headers }, ...(credentials.basicAuth ? { basicAuth: credentials.basicAuth } : {}) };
  }

  close(): void {
    this.agent?.destroy();
  }

  private makeAgent(tls: ProxyTls): http.Agent {
    const agentOptions: https.AgentOptions = {
      keepAlive: true,
      maxSockets: this.options.maxSockets,
      maxFreeSockets: this.options.maxSockets,
      timeout: this.options.idleSocketTimeoutMs,
      scheduling: 'lifo',
    };
    if (new URL(this.apiServer).protocol !== 'https:') return new http.Agent(agentOptions);
    return new https.Agent({ ...agentOptions, ...tls });
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

/**
 * One page of the aws-node pod list, read from the API server.
 *
 * The raw reader GETs the page with the scraper's HTTP transport (fetch-text.ts: one deadline from
 * connect to last byte, a byte cap, gzip) and the kubeconfig's credentials (proxy-auth.ts), and
 * JSON.parses it. client-node's typed call costs about four times as much CPU per pod, most of it
 * in its ObjectSerializer walking every field of a 9 KB pod (bench/FINDINGS.md, "Discovery");
 * discovery reads a dozen fields. The typed reader stays for kubeconfigs the raw one cannot serve
 * (a proxy-url).
 */
import {
  CoreV1Api, Observable,
  type KubeConfig, type ObservableMiddleware, type RequestContext, type ResponseContext, type V1Pod,
} from '@kubernetes/client-node';
import { joinAbort } from './abort';
import { fetchText } from './fetch-text';
import { ApiServerProxyAuth } from './proxy-auth';

/** A PodList page: the items and the list metadata discovery reads. */
export interface PodPage {
  readonly items: V1Pod[];
  readonly metadata?: { readonly _continue?: string; readonly resourceVersion?: string };
}

export interface PageRequest {
  readonly namespace: string;
  readonly labelSelector: string;
  readonly limit: number;
  readonly continueToken?: string;
  /** Ends the request in any phase (the list's stop signal and deadline). */
  readonly signal: AbortSignal;
  /** The page's own deadline, connect to last byte. */
  readonly timeoutMs: number;
}

export interface PodPageReader {
  read(request: PageRequest): Promise<PodPage>;
  /** Releases the reader's connections. */
  close(): void;
}

/** Bytes one pod may take in a page, for the page's byte cap (an EKS aws-node pod is about 10 KB). */
const MAX_BYTES_PER_POD = 64 * 1024;
const MIN_PAGE_BYTES = 16 * 1024 * 1024;

/** The raw reader when the kubeconfig allows it, else client-node's typed call. */
export function podPageReader(kc: KubeConfig): PodPageReader {
  let auth: ApiServerProxyAuth;
  try {
    auth = new ApiServerProxyAuth(kc, { maxSockets: 1, idleSocketTimeoutMs: 30_000 });
  } catch {
    return new TypedPodPageReader(kc.makeApiClient(CoreV1Api));
  }
  return new RawPodPageReader(auth);
}

class RawPodPageReader implements PodPageReader {
  constructor(private readonly auth: ApiServerProxyAuth) {}

  async read(request: PageRequest): Promise<PodPage> {
    const deadline = performance.now() + request.timeoutMs;
    const credentials = await this.auth.read(request.timeoutMs, request.signal);
    const query = new URLSearchParams({ labelSelector: request.labelSelector, limit: String(request.limit) });
    if (request.continueToken !== undefined) query.set('continue', request.continueToken);
    const url = new URL(`${this.auth.apiServer}/api/v1/namespaces/${encodeURIComponent(request.namespace)}/pods?${query}`);
    const maxBytes = Math.max(MIN_PAGE_BYTES, request.limit * MAX_BYTES_PER_POD);
    const text = await fetchText(
      { url, agent: credentials.agent, headers: { ...credentials.headers, accept: 'application/json' }, basicAuth: credentials.basicAuth },
      { timeoutMs: request.timeoutMs, maxBytes },
      deadline,
      request.signal,
    );
    let list: { items?: unknown; metadata?: { continue?: unknown; resourceVersion?: unknown } };
    try {
      list = JSON.parse(text) as typeof list;
    } catch (err) {
      throw new Error(`the pod list page is not JSON (${(err as Error).message})`);
    }
    if (!Array.isArray(list?.items)) throw new Error('the pod list page has no items array: not a PodList');
    const next = list.metadata?.continue;
    const version = list.metadata?.resourceVersion;
    return {
      items: list.items as V1Pod[],
      metadata: {
        ...(typeof next === 'string' && next !== '' ? { _continue: next } : {}),
        ...(typeof version === 'string' ? { resourceVersion: version } : {}),
      },
    };
  }

  close(): void {
    this.auth.close();
  }
}

class TypedPodPageReader implements PodPageReader {
  constructor(private readonly api: CoreV1Api) {}

  async read(request: PageRequest): Promise<PodPage> {
    const joined = joinAbort([request.signal], request.timeoutMs);
    try {
      return await this.api.listNamespacedPod(
        { namespace: request.namespace, labelSelector: request.labelSelector, limit: request.limit, _continue: request.continueToken },
        { middleware: [signalMiddleware(joined.signal)], middlewareMergeStrategy: 'append' },
      );
    } finally {
      joined.dispose();
    }
  }

  close(): void {}
}

/**
 * Hands the request its signal (the page deadline joined with the list's). node-fetch ends the
 * request on abort in any phase, the body included. The object-parameter API of client-node 1.4
 * takes Observable middleware (its own small stub, not rxjs).
 */
function signalMiddleware(signal: AbortSignal): ObservableMiddleware {
  return {
    pre: (context: RequestContext) => {
      context.setSignal(signal);
      return new Observable(Promise.resolve(context));
    },
    post: (context: ResponseContext) => new Observable(Promise.resolve(context)),
  };
}

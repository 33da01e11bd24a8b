/**
 * A loopback stand-in for the Kubernetes API server, speaking the two calls the collector makes:
 *
 * - `GET /api/v1/namespaces/{ns}/pods?labelSelector=&limit=&continue=`: a PodList sorted by name as
 *   etcd returns it, paginated with opaque continue tokens. A token names the resource version of
 *   the snapshot its list started from, so a list stays consistent while pods change; a token whose
 *   snapshot was dropped (`expireContinueTokens`, or more than `snapshotsKept` changes ago) gets
 *   410 Gone, as after etcd compaction.
 * - `GET /api/v1/namespaces/{ns}/pods?watch=true&resourceVersion=&allowWatchBookmarks=&timeoutSeconds=`:
 *   a watch, as chunked JSON lines (`{"type":"ADDED"|"MODIFIED"|"DELETED"|"BOOKMARK"|"ERROR","object":...}`).
 *   Every pod change (setPods diffs the old and new pods) gets its own resource version and event;
 *   a watch from version N first sends the kept events after N, then live ones. Without a version
 *   (or "0") it sends the current pods as ADDED. A version older than the kept event history
 *   (`eventsKept`, or `compactWatchHistory`) gets an ERROR event with a 410 Status, as the real
 *   server answers "too old resource version". Bookmarks only when asked (`allowWatchBookmarks`)
 *   and sent (`sendBookmarks`, or every `bookmarkIntervalMs`).
 * - `GET /api/v1/namespaces/{ns}/pods/{name}:{port}/proxy/{path}`: the pod proxy, with the colon
 *   literal or encoded as %3A (client-node's generated call encodes it, a raw request does not).
 *   It forwards over HTTP to the pod's podIP:port, or hands the request to `proxyHandler` (the
 *   ipamd fleet in-process, which needs no socket per node: the choice for 10,000-node benchmarks).
 *
 * Binds 127.0.0.1 on an ephemeral port; plain HTTP with an optional bearer token. Errors are
 * Kubernetes Status objects. Faults (429, 5xx, 410, delay) are injected on the next list calls;
 * a list override plays a hostile or broken server (looping continue tokens, endless pages, a page
 * that hangs or trickles).
 * No Kubernetes client import, so benchmarks can use it without the ESM-only client.
 */
import * as fs from 'node:fs';
import * as http from 'node:http';
import type { AddressInfo } from 'node:net';
import * as os from 'node:os';
import * as path from 'node:path';
import { trickleBody } from './trickle';

/** A pod as the API server serves it (JSON wire form), reduced to the fields the collector reads. */
export interface KubePod {
  readonly metadata: {
    readonly name: string;
    readonly namespace: string;
    readonly labels?: Readonly<Record<string, string>>;
    readonly uid?: string;
    readonly deletionTimestamp?: string;
  };
  readonly spec: {
    readonly nodeName?: string;
    readonly hostNetwork?: boolean;
    readonly containers: readonly { readonly name: string; readonly image?: string }[];
  };
  readonly status: {
    readonly phase?: 'Pending' | 'Running' | 'Succeeded' | 'Failed' | 'Unknown';
    readonly podIP?: string;
    readonly hostIP?: string;
    readonly startTime?: string;
    readonly containerStatuses?: readonly {
      readonly name: string;
      readonly ready?: boolean;
      readonly restartCount?: number;
      readonly containerID?: string;
      readonly state?: { readonly running?: { readonly startedAt?: string }; readonly waiting?: { readonly reason?: string } };
    }[];
  };
}

export interface KubePodFields {
  readonly name: string;
  readonly namespace?: string;
  readonly nodeName?: string;
  readonly podIP?: string;
  readonly labels?: Readonly<Record<string, string>>;
  readonly phase?: KubePod['status']['phase'];
  /** Pod start (status.startTime), ISO 8601. */
  readonly startTime?: string;
  /** The aws-node container's running.startedAt, ISO 8601; omitted means not running yet. */
  readonly containerStartedAt?: string;
  readonly deletionTimestamp?: string;
  /** @default true */
  readonly hostNetwork?: boolean;
  /** @default - the podIP */
  readonly hostIP?: string;
  /** The aws-node container's restartCount. @default 0 */
  readonly restartCount?: number;
  /** The aws-node container's containerID. @default - `containerd://<name>` while running, none before */
  readonly containerID?: string;
}

/** An aws-node DaemonSet pod as the API server would return it; defaults are a running pod. */
export function kubePod(fields: KubePodFields): KubePod {
  const phase = fields.phase ?? 'Running';
  const startTime = fields.startTime ?? '2026-01-01T00:00:00Z';
  const startedAt = fields.containerStartedAt ?? (phase === 'Running' ? startTime : undefined);
  return {
    metadata: {
      name: fields.name,
      namespace: fields.namespace ?? 'kube-system',
      labels: fields.labels ?? { 'k8s-app': 'aws-node' },
      uid: `uid-${fields.name}`,
      ...(fields.deletionTimestamp ? { deletionTimestamp: fields.deletionTimestamp } : {}),
    },
    spec: {
      ...(fields.nodeName ? { nodeName: fields.nodeName } : {}),
      hostNetwork: fields.hostNetwork ?? true,
      containers: [{ name: 'aws-node', image: 'amazon-k8s-cni' }],
    },
    status: {
      phase,
      ...(fields.podIP ? { podIP: fields.podIP } : {}),
      ...(fields.hostIP ?? fields.podIP ? { hostIP: fields.hostIP ?? fields.podIP } : {}),
      startTime,
      containerStatuses: [{
        name: 'aws-node',
        ready: phase === 'Running',
        restartCount: fields.restartCount ?? 0,
        ...(fields.containerID ?? startedAt ? { containerID: fields.containerID ?? `containerd://${fields.name}` } : {}),
        state: startedAt ? { running: { startedAt } } : { waiting: { reason: 'ContainerCreating' } },
      }],
    },
  };
}

/** What the pod proxy is asked for: the pod, the port and the path after `/proxy` (with its query). */
export interface ProxyTarget {
  readonly pod: KubePod;
  readonly port: number;
  readonly path: string;
}

/** Answers a pod proxy request in-process instead of forwarding it over HTTP. */
export type ProxyHandler = (target: ProxyTarget, req: http.IncomingMessage, res: http.ServerResponse) => void;

export interface KubeApiServerOptions {
  /** When set, every request must carry `Authorization: Bearer <token>`. */
  readonly token?: string;
  readonly pods?: readonly KubePod[];
  /** @default - forward over HTTP to the pod's podIP and the requested port */
  readonly proxyHandler?: ProxyHandler;
  /** Snapshots kept for continue tokens; a token older than this many pod changes expires. @default 8 */
  readonly snapshotsKept?: number;
  /** Most recent requests kept in `requests`. @default 10000 */
  readonly requestLogLimit?: number;
  /** Pod change events kept for watches that resume from a resource version. @default 1000 */
  readonly eventsKept?: number;
  /** Sends a BOOKMARK to watches that allow them this often (0: only on sendBookmarks()). @default 0 */
  readonly bookmarkIntervalMs?: number;
}

export type KubeApiRequestKind = 'list' | 'watch' | 'proxy' | 'other';

export interface KubeApiRequestRecord {
  readonly method: string;
  /** The request target exactly as sent (so tests can tell `:` from `%3A`). */
  readonly url: string;
  readonly kind: KubeApiRequestKind;
  /** Response status; 0 when the client went away before an answer. */
  status: number;
}

export interface ListFault {
  /** 429, 500, 503, 410, ... answered instead of the page. */
  readonly status: number;
  /** Sent as Retry-After (seconds). */
  readonly retryAfterSeconds?: number;
  /** Only list calls that carry a continue token take this fault. @default false */
  readonly onlyContinued?: boolean;
}

/** What a list call asked for, as the list override sees it. */
export interface ListCall {
  readonly namespace: string;
  /** The continue token sent, '' on a first page. */
  readonly continueToken: string;
  readonly limit: number;
  /** List calls served so far, this one included. */
  readonly count: number;
}

/** An answer a list override gives instead of the pod store's page. */
export type ListAnswer =
  /** A PodList page with these items and, when set, this continue token. */
  | { readonly kind: 'page'; readonly pods: readonly KubePod[]; readonly continue?: string }
  /** Accept the request and never answer (until the client or the server closes). */
  | { readonly kind: 'hang' }
  /** Send the status line and headers of a page, then its body one byte every `everyMs`. */
  | { readonly kind: 'trickle'; readonly pods: readonly KubePod[]; readonly everyMs: number };

/** A hostile or broken API server's list: return an answer, or undefined for the normal page. */
export type ListOverride = (call: ListCall) => ListAnswer | undefined;

export interface KubeApiServer {
  /** http://127.0.0.1:PORT */
  readonly url: string;
  /** A kubeconfig for this server (token user, insecure-skip-tls-verify for plain HTTP). */
  readonly kubeconfigYaml: string;
  /** Writes kubeconfigYaml to a temporary file (removed by close) and returns its path, for KUBECONFIG. */
  writeKubeconfig(): string;
  /** Replaces the pods; starts a new resource version. */
  setPods(pods: readonly KubePod[]): void;
  /** The next `count` list calls (that match) answer `fault.status` instead of a page. */
  failNextLists(count: number, fault: ListFault): void;
  /** Delays every list answer by `ms` (0 to stop). */
  setListDelay(ms: number): void;
  /** Answers list calls with `override` (undefined restores the normal pages). */
  setListOverride(override: ListOverride | undefined): void;
  /** Drops every snapshot: continue tokens issued so far get 410 Gone. */
  expireContinueTokens(): void;
  /** The current resource version (the last pod change's). */
  readonly resourceVersion: number;
  /** Forgets the event history: a watch from any earlier version gets a 410 ERROR event. */
  compactWatchHistory(): void;
  /** Sends an ERROR 410 event to every open watch and ends it, as when a watcher falls too far behind. */
  expireOpenWatches(): void;
  /** Destroys every open watch's connection without a word (a dropped connection, an LB timeout). */
  dropOpenWatches(): void;
  /** Sends a BOOKMARK at the current version to every open watch that allows bookmarks. */
  sendBookmarks(): void;
  /** Watches open now. */
  readonly openWatches: number;
  /** The most recent requests, oldest first. */
  readonly requests: readonly KubeApiRequestRecord[];
  /** Requests by kind, 401 answers, and TCP connections accepted (keep-alive reuse shows here). */
  readonly counters: {
    readonly lists: number; readonly watches: number; readonly proxies: number;
    readonly unauthorized: number; readonly connections: number;
    /** Watch events written (bookmarks and errors included). */
    readonly watchEvents: number;
  };
  close(): Promise<void>;
}

interface Snapshot {
  readonly resourceVersion: number;
  /** Sorted by namespace then name, with each pod's JSON written once. */
  readonly entries: readonly StoredPod[];
}

/** A pod as stored: its JSON carries metadata.resourceVersion, the version of its last change. */
interface StoredPod {
  readonly key: string;
  /** The version of the pod's last change. */
  readonly rv: number;
  readonly pod: KubePod;
  readonly json: string;
}

interface WatchEvent {
  readonly rv: number;
  readonly type: 'ADDED' | 'MODIFIED' | 'DELETED';
  readonly pod: KubePod;
  readonly json: string;
}

interface OpenWatch {
  readonly namespace: string;
  readonly selector: readonly LabelRequirement[];
  readonly bookmarks: boolean;
  readonly res: http.ServerResponse;
}

interface ContinueState {
  readonly rv: number;
  readonly ns: string;
  readonly sel: string;
  /** Key (namespace/name) of the last pod already returned. */
  readonly after: string;
}

const PODS_PATH = /^\/api\/v1\/namespaces\/([^/]+)\/pods$/;
const PROXY_PATH = /^\/api\/v1\/namespaces\/([^/]+)\/pods\/([^/]+)\/proxy(\/.*)?$/;

export async function startKubeApiServer(options: KubeApiServerOptions = {}): Promise<KubeApiServer> {
  const snapshotsKept = options.snapshotsKept ?? 8;
  const logLimit = options.requestLogLimit ?? 10_000;
  const snapshots = new Map<number, Snapshot>();
  let resourceVersion = 0;
  const faults: { remaining: number; fault: ListFault }[] = [];
  let listDelayMs = 0;
  let listOverride: ListOverride | undefined;
  const trickles = new Set<NodeJS.Timeout>();
  const requests: KubeApiRequestRecord[] = [];
  const counters = { lists: 0, watches: 0, proxies: 0, unauthorized: 0, connections: 0, watchEvents: 0 };
  const forwardAgent = new http.Agent({ keepAlive: true, maxFreeSockets: 1, timeout: 2000 });
  let tempDir: string | undefined;

  const current = (): Snapshot => snapshots.get(resourceVersion) as Snapshot;
  /** The current pods by namespace/name, for the pod proxy (a scan would cost O(pods) per request). */
  let index: { rv: number; byKey: Map<string, StoredPod> } | undefined;
  const currentPod = (key: string): StoredPod | undefined => {
    if (index?.rv !== resourceVersion) index = { rv: resourceVersion, byKey: new Map(current().entries.map((e) => [e.key, e])) };
    return index.byKey.get(key);
  };

  const eventsKept = options.eventsKept ?? 1000;
  const events: WatchEvent[] = [];
  /** Watches from a version below this cannot be served: the events after it are gone. */
  let oldestWatchableRv = 0;
  const watches = new Set<OpenWatch>();

  const stored = (pod: KubePod, rv: number): StoredPod => ({
    key: `${pod.metadata.namespace}/${pod.metadata.name}`,
    rv,
    pod,
    json: JSON.stringify({ ...pod, metadata: { ...pod.metadata, resourceVersion: String(rv) } }),
  });

  const writeEvent = (res: http.ServerResponse, type: string, objectJson: string): void => {
    counters.watchEvents++;
    res.write(`{"type":"${type}","object":${objectJson}}\n`);
  };

  const recordEvent = (event: WatchEvent): void => {
    events.push(event);
    // Trimmed in batches: a setPods of 100,000 new pods must not shift the array 100,000 times.
    if (events.length > 2 * eventsKept) {
      const dropped = events.splice(0, events.length - eventsKept);
      oldestWatchableRv = dropped[dropped.length - 1].rv;
    }
    for (const watch of watches) {
      if (watch.namespace === event.pod.metadata.namespace && matchesSelector(event.pod.metadata.labels ?? {}, watch.selector)) {
        writeEvent(watch.res, event.type, event.json);
      }
    }
  };

  // Each pod change gets its own resource version and watch event; a list snapshot is kept per call.
  const setPods = (pods: readonly KubePod[]): void => {
    const before = new Map((snapshots.get(resourceVersion)?.entries ?? []).map((e) => [e.key, e]));
    const after = new Map<string, StoredPod>();
    for (const pod of pods) {
      const key = `${pod.metadata.namespace}/${pod.metadata.name}`;
      const old = before.get(key);
      if (old && (old.pod === pod || old.json === stored(pod, old.rv).json)) {
        after.set(key, old);
        continue;
      }
      resourceVersion++;
      const entry = stored(pod, resourceVersion);
      after.set(key, entry);
      recordEvent({ rv: resourceVersion, type: old ? 'MODIFIED' : 'ADDED', pod, json: entry.json });
    }
    for (const [key, old] of before) {
      if (after.has(key)) continue;
      resourceVersion++;
      const gone = stored(old.pod, resourceVersion);
      recordEvent({ rv: resourceVersion, type: 'DELETED', pod: old.pod, json: gone.json });
    }
    // A call that changes nothing still starts a new snapshot, as before watches existed.
    if (snapshots.has(resourceVersion)) resourceVersion++;
    const entries = [...after.values()].sort((a, b) => (a.key < b.key ? -1 : a.key > b.key ? 1 : 0));
    snapshots.set(resourceVersion, { resourceVersion, entries });
    // The last `snapshotsKept` calls' snapshots stay, whatever their versions.
    const versions = [...snapshots.keys()].sort((a, b) => a - b);
    for (const rv of versions.slice(0, Math.max(0, versions.length - snapshotsKept))) snapshots.delete(rv);
  };
  setPods(options.pods ?? []);

  const record = (req: http.IncomingMessage, res: http.ServerResponse, kind: KubeApiRequestKind): void => {
    const entry: KubeApiRequestRecord = { method: req.method ?? 'GET', url: req.url ?? '', kind, status: 0 };
    requests.push(entry);
    if (requests.length > logLimit) requests.splice(0, requests.length - logLimit);
    res.on('finish', () => { entry.status = res.statusCode; });
  };

  const takeFault = (continued: boolean): ListFault | undefined => {
    const index = faults.findIndex((f) => !f.fault.onlyContinued || continued);
    if (index === -1) return undefined;
    const entry = faults[index];
    if (--entry.remaining <= 0) faults.splice(index, 1);
    return entry.fault;
  };

  const answerOverride = (answer: ListAnswer, res: http.ServerResponse): void => {
    if (answer.kind === 'hang') return;
    const metadata = answer.kind === 'page' && answer.continue !== undefined ? { continue: answer.continue } : {};
    const body = Buffer.from(JSON.stringify({ kind: 'PodList', apiVersion: 'v1', metadata, items: answer.pods }));
    res.writeHead(200, { 'content-type': 'application/json', 'content-length': body.length });
    if (answer.kind === 'page') {
      res.end(body);
      return;
    }
    trickleBody(res, body, answer.everyMs, trickles);
  };

  const handleList = (namespace: string, query: URLSearchParams, res: http.ServerResponse): void => {
    const continueToken = query.get('continue') ?? '';
    const overridden = listOverride?.({ namespace, continueToken, limit: Number(query.get('limit') ?? 0), count: counters.lists });
    if (overridden) {
      answerOverride(overridden, res);
      return;
    }
    const fault = takeFault(continueToken !== '');
    if (fault) {
      const headers = fault.retryAfterSeconds !== undefined ? { 'retry-after': String(fault.retryAfterSeconds) } : undefined;
      sendStatus(res, fault.status, faultReason(fault.status), `injected fault: HTTP ${fault.status}`, headers);
      return;
    }
    const selectorText = query.get('labelSelector') ?? '';
    let selector: LabelRequirement[];
    try {
      selector = parseLabelSelector(selectorText);
    } catch (err) {
      sendStatus(res, 400, 'BadRequest', (err as Error).message);
      return;
    }
    const limitText = query.get('limit');
    const limit = limitText ? Number(limitText) : 0;
    if (!Number.isInteger(limit) || limit < 0) {
      sendStatus(res, 400, 'BadRequest', `limit must be a non-negative integer, got '${limitText}'`);
      return;
    }

    let snapshot = current();
    let after = '';
    if (continueToken !== '') {
      const state = decodeContinue(continueToken);
      if (!state || state.ns !== namespace || state.sel !== selectorText) {
        sendStatus(res, 400, 'BadRequest', 'continue token is not valid for this query');
        return;
      }
      const kept = snapshots.get(state.rv);
      if (!kept) {
        sendStatus(res, 410, 'Expired', 'The provided continue parameter is too old to display a consistent list result. '
          + 'You can start a new list without the continue parameter.');
        return;
      }
      snapshot = kept;
      after = state.after;
    }

    const page: string[] = [];
    let lastKey = '';
    let remaining = 0;
    for (const entry of snapshot.entries) {
      if (entry.pod.metadata.namespace !== namespace || entry.key <= after) continue;
      if (!matchesSelector(entry.pod.metadata.labels ?? {}, selector)) continue;
      if (limit > 0 && page.length >= limit) {
        remaining++;
        continue;
      }
      page.push(entry.json);
      lastKey = entry.key;
    }
    const metadata: Record<string, unknown> = { resourceVersion: String(snapshot.resourceVersion) };
    if (remaining > 0) {
      metadata.continue = encodeContinue({ rv: snapshot.resourceVersion, ns: namespace, sel: selectorText, after: lastKey });
      metadata.remainingItemCount = remaining;
    }
    const body = `{"kind":"PodList","apiVersion":"v1","metadata":${JSON.stringify(metadata)},"items":[${page.join(',')}]}`;
    res.writeHead(200, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) });
    res.end(body);
  };

  const handleWatch = (namespace: string, query: URLSearchParams, req: http.IncomingMessage, res: http.ServerResponse): void => {
    let selector: LabelRequirement[];
    try {
      selector = parseLabelSelector(query.get('labelSelector') ?? '');
    } catch (err) {
      sendStatus(res, 400, 'BadRequest', (err as Error).message);
      return;
    }
    const rvText = query.get('resourceVersion') ?? '';
    const fromRv = rvText === '' || rvText === '0' ? undefined : Number(rvText);
    if (fromRv !== undefined && (!Number.isInteger(fromRv) || fromRv < 0)) {
      sendStatus(res, 400, 'BadRequest', `resourceVersion must be a non-negative integer in this test server, got '${rvText}'`);
      return;
    }
    const matches = (pod: KubePod): boolean => pod.metadata.namespace === namespace && matchesSelector(pod.metadata.labels ?? {}, selector);
    res.writeHead(200, { 'content-type': 'application/json', 'transfer-encoding': 'chunked' });
    res.flushHeaders();
    if (fromRv !== undefined && fromRv < oldestWatchableRv) {
      writeEvent(res, 'ERROR', JSON.stringify({ kind: 'Status', apiVersion: 'v1', metadata: {}, status: 'Failure',
        message: `too old resource version: ${fromRv} (${oldestWatchableRv})`, reason: 'Expired', code: 410 }));
      res.end();
      return;
    }
    if (fromRv === undefined) {
      for (const entry of current().entries) if (matches(entry.pod)) writeEvent(res, 'ADDED', entry.json);
    } else {
      for (const event of events) if (event.rv > fromRv && matches(event.pod)) writeEvent(res, event.type, event.json);
    }
    const watch: OpenWatch = { namespace, selector, bookmarks: query.get('allowWatchBookmarks') === 'true', res };
    watches.add(watch);
    const timeoutSeconds = Number(query.get('timeoutSeconds') ?? 0);
    const timer = timeoutSeconds > 0 ? setTimeout(() => res.end(), timeoutSeconds * 1000) : undefined;
    res.on('close', () => {
      clearTimeout(timer);
      watches.delete(watch);
    });
    req.on('close', () => { if (!res.writableEnded) res.end(); });
  };

  const bookmarkAll = (): void => {
    for (const watch of watches) {
      if (watch.bookmarks) writeEvent(watch.res, 'BOOKMARK', JSON.stringify({ kind: 'Pod', apiVersion: 'v1', metadata: { resourceVersion: String(resourceVersion) } }));
    }
  };
  const bookmarkTimer = options.bookmarkIntervalMs ? setInterval(bookmarkAll, options.bookmarkIntervalMs) : undefined;

  const handleProxy = (namespace: string, nameSegment: string, rest: string, search: string,
    req: http.IncomingMessage, res: http.ServerResponse): void => {
    counters.proxies++;
    let decoded: string;
    try {
      decoded = decodeURIComponent(nameSegment);
    } catch {
      sendStatus(res, 400, 'BadRequest', `malformed pod name segment '${nameSegment}'`);
      return;
    }
    const colon = decoded.lastIndexOf(':');
    const name = colon === -1 ? decoded : decoded.slice(0, colon);
    const port = colon === -1 ? NaN : Number(decoded.slice(colon + 1));
    if (!Number.isInteger(port) || port < 1 || port > 65535) {
      sendStatus(res, 400, 'BadRequest', `pod proxy needs '<name>:<port>' with a numeric port in this test server, got '${decoded}'`);
      return;
    }
    const entry = currentPod(`${namespace}/${name}`);
    if (!entry) {
      sendStatus(res, 404, 'NotFound', `pods "${name}" not found`);
      return;
    }
    const target: ProxyTarget = { pod: entry.pod, port, path: `${rest || '/'}${search}` };
    if (options.proxyHandler) {
      options.proxyHandler(target, req, res);
      return;
    }
    forward(target, req, res);
  };

  const forward = (target: ProxyTarget, req: http.IncomingMessage, res: http.ServerResponse): void => {
    const podIP = target.pod.status.podIP;
    if (!podIP) {
      sendStatus(res, 503, 'ServiceUnavailable', `pod ${target.pod.metadata.name} has no IP address`);
      return;
    }
    const headers: http.OutgoingHttpHeaders = {};
    if (req.headers.accept) headers.accept = req.headers.accept;
    if (req.headers['accept-encoding']) headers['accept-encoding'] = req.headers['accept-encoding'];
    const upstream = http.request({ host: podIP, port: target.port, path: target.path, method: 'GET', headers, agent: forwardAgent });
    // The collector gave up (its timeout): stop waiting on the pod too.
    res.on('close', () => { if (!res.writableFinished) upstream.destroy(); });
    upstream.on('response', (answer) => {
      const copied: http.OutgoingHttpHeaders = {};
      for (const name of ['content-type', 'content-encoding', 'content-length']) {
        if (answer.headers[name] !== undefined) copied[name] = answer.headers[name];
      }
      res.writeHead(answer.statusCode ?? 502, copied);
      answer.on('error', () => res.destroy());
      answer.on('close', () => { if (!answer.complete) res.destroy(); });
      answer.pipe(res);
    });
    upstream.on('error', (err) => {
      if (res.headersSent) res.destroy();
      else sendStatus(res, 503, 'ServiceUnavailable', `error trying to reach service: ${err.message}`);
    });
    upstream.end();
  };

  const server = http.createServer((req, res) => {
    const rawUrl = req.url ?? '/';
    const queryAt = rawUrl.indexOf('?');
    const pathname = queryAt === -1 ? rawUrl : rawUrl.slice(0, queryAt);
    const search = queryAt === -1 ? '' : rawUrl.slice(queryAt);
    const listMatch = PODS_PATH.exec(pathname);
    const proxyMatch = listMatch ? null : PROXY_PATH.exec(pathname);
    const watching = listMatch !== null && /^(true|1)$/.test(new URLSearchParams(search).get('watch') ?? '');
    record(req, res, watching ? 'watch' : listMatch ? 'list' : proxyMatch ? 'proxy' : 'other');

    if (options.token !== undefined && req.headers.authorization !== `Bearer ${options.token}`) {
      counters.unauthorized++;
      sendStatus(res, 401, 'Unauthorized', 'Unauthorized');
      return;
    }
    if (req.method !== 'GET') {
      sendStatus(res, 405, 'MethodNotAllowed', `${req.method} is not served by this test server`);
      return;
    }
    if (listMatch && watching) {
      counters.watches++;
      handleWatch(decodeURIComponent(listMatch[1]), new URLSearchParams(search), req, res);
      return;
    }
    if (listMatch) {
      counters.lists++;
      const namespace = decodeURIComponent(listMatch[1]);
      const query = new URLSearchParams(search);
      if (listDelayMs > 0) {
        const timer = setTimeout(() => handleList(namespace, query, res), listDelayMs);
        res.on('close', () => clearTimeout(timer));
      } else {
        handleList(namespace, query, res);
      }
      return;
    }
    if (proxyMatch) {
      handleProxy(decodeURIComponent(proxyMatch[1]), proxyMatch[2], proxyMatch[3] ?? '', search, req, res);
      return;
    }
    sendStatus(res, 404, 'NotFound', `the server could not find the requested resource (${pathname})`);
  });

  server.on('connection', () => { counters.connections++; });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      server.off('error', reject);
      resolve();
    });
  });
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  const kubeconfigYaml = loopbackKubeconfig(url, 'loopback', options.token);

  let closed = false;
  return {
    url,
    kubeconfigYaml,
    writeKubeconfig: () => {
      tempDir ??= fs.mkdtempSync(path.join(os.tmpdir(), 'kube-api-server-'));
      const file = path.join(tempDir, 'kubeconfig');
      fs.writeFileSync(file, kubeconfigYaml);
      return file;
    },
    setPods,
    failNextLists: (count, fault) => {
      if (count > 0) faults.push({ remaining: count, fault });
    },
    setListDelay: (ms) => { listDelayMs = ms; },
    setListOverride: (override) => { listOverride = override; },
    expireContinueTokens: () => {
      // Tokens name a resource version: the same pods under a fresh one leave every token unknown.
      const entries = current().entries;
      snapshots.clear();
      resourceVersion++;
      snapshots.set(resourceVersion, { resourceVersion, entries });
    },
    get resourceVersion() { return resourceVersion; },
    compactWatchHistory: () => {
      events.length = 0;
      oldestWatchableRv = resourceVersion;
    },
    expireOpenWatches: () => {
      for (const watch of [...watches]) {
        writeEvent(watch.res, 'ERROR', JSON.stringify({ kind: 'Status', apiVersion: 'v1', metadata: {}, status: 'Failure',
          message: 'too old resource version', reason: 'Expired', code: 410 }));
        watch.res.end();
        watches.delete(watch);
      }
    },
    dropOpenWatches: () => {
      for (const watch of [...watches]) {
        watch.res.socket?.destroy();
        watches.delete(watch);
      }
    },
    sendBookmarks: bookmarkAll,
    get openWatches() { return watches.size; },
    requests,
    counters,
    close: async () => {
      if (closed) return;
      closed = true;
      clearInterval(bookmarkTimer);
      forwardAgent.destroy();
      for (const timer of trickles) clearInterval(timer);
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
      if (tempDir) fs.rmSync(tempDir, { recursive: true, force: true });
    },
  };

}

function sendStatus(res: http.ServerResponse, code: number, reason: string, message: string,
  headers?: Record<string, string>): void {
  const body = JSON.stringify({ kind: 'Status', apiVersion: 'v1', metadata: {}, status: 'Failure', message, reason, code });
  res.writeHead(code, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body), ...headers });
  res.end(body);
}

function faultReason(status: number): string {
  if (status === 429) return 'TooManyRequests';
  if (status === 410) return 'Expired';
  if (status === 503) return 'ServiceUnavailable';
  if (status >= 500) return 'InternalError';
  return 'BadRequest';
}

/** One term of an equality-based selector: `k=v`, `k==v`, `k!=v`, `k` (exists) or `!k` (absent). */
interface LabelRequirement {
  readonly key: string;
  readonly op: 'eq' | 'neq' | 'exists' | 'absent';
  readonly value?: string;
}

function parseLabelSelector(text: string): LabelRequirement[] {
  const terms = text.split(',').map((t) => t.trim()).filter((t) => t.length > 0);
  return terms.map((term): LabelRequirement => {
    if (/\s(in|notin)\s*\(/.test(term)) {
      throw new Error(`set-based selector '${term}' is not supported by this test server; use k=v, k!=v, k or !k`);
    }
    const neq = term.indexOf('!=');
    if (neq > 0) return { key: term.slice(0, neq).trim(), op: 'neq', value: term.slice(neq + 2).trim() };
    const eq = term.indexOf('=');
    if (eq > 0) {
      const valueStart = term[eq + 1] === '=' ? eq + 2 : eq + 1;
      return { key: term.slice(0, eq).trim(), op: 'eq', value: term.slice(valueStart).trim() };
    }
    if (term.startsWith('!')) return { key: term.slice(1).trim(), op: 'absent' };
    if (/^[A-Za-z0-9][-A-Za-z0-9_./]*$/.test(term)) return { key: term, op: 'exists' };
    throw new Error(`unable to parse requirement '${term}' of labelSelector '${text}'`);
  });
}

function matchesSelector(labels: Readonly<Record<string, string>>, selector: readonly LabelRequirement[]): boolean {
  return selector.every((r) => {
    const has = Object.prototype.hasOwnProperty.call(labels, r.key);
    switch (r.op) {
      case 'eq': return has && labels[r.key] === r.value;
      case 'neq': return !has || labels[r.key] !== r.value;
      case 'exists': return has;
      case 'absent': return !has;
    }
  });
}

function encodeContinue(state: ContinueState): string {
  return Buffer.from(JSON.stringify(state)).toString('base64url');
}

function decodeContinue(token: string): ContinueState | undefined {
  try {
    const state = JSON.parse(Buffer.from(token, 'base64url').toString('utf8')) as Partial<ContinueState>;
    if (typeof state.rv !== 'number' || typeof state.ns !== 'string' || typeof state.sel !== 'string'
      || typeof state.after !== 'string') return undefined;
    return state as ContinueState;
  } catch {
    return undefined;
  }
}

/**
 * A kubeconfig for a loopback API server at `url`: user `user` with `token` (none: no credentials),
 * namespace kube-system. client-node 1.4 refuses an http:// server unless TLS verification is skipped.
 */
export function loopbackKubeconfig(url: string, user: string, token?: string): string {
  return [
    'apiVersion: v1',
    'kind: Config',
    'clusters:',
    '- name: loopback',
    '  cluster:',
    `    server: ${url}`,
    '    insecure-skip-tls-verify: true',
    'users:',
    `- name: ${user}`,
    `  user: ${token !== undefined ? `{ token: ${JSON.stringify(token)} }` : '{}'}`,
    'contexts:',
    '- name: loopback',
    `  context: { cluster: loopback, user: ${user}, namespace: kube-system }`,
    'current-context: loopback',
    '',
  ].join('\n');
}

/**
 * Many ipamd metrics endpoints on loopback, each one node, for scrape tests and benchmarks.
 *
 * Endpoint i listens on its own loopback address (127.0.0.2, 127.0.0.3, ... on through 127/8,
 * skipping .0 and .255), all on one shared port, because the collector scrapes every node at
 * podIP:61678 with a single port. Linux routes all of 127.0.0.0/8 to lo, so no setup is needed.
 *
 * Sockets: one listening socket per endpoint (a socket bound to 127.0.0.2 does not receive
 * connections for 127.0.0.3, and binding a wildcard address is not allowed here), all handing their
 * connections to one shared HTTP server. A scrape in flight holds two more descriptors (client and
 * server side), and keep-alive holds them until the idle timeout. Startup reads the soft open-file
 * limit (`ulimit -n`) and refuses a fleet that cannot fit, naming the two ways out:
 *   - `keepAlive: false` (answers carry `Connection: close`) keeps descriptors near count + 2 x concurrency;
 *   - `listen: false` opens no socket at all: the kube API server's pod proxy calls `fleet.serve`
 *     in-process, the way to benchmark proxy mode at 10,000 nodes.
 *
 * Slices: `firstIndex` (with `fleetSize`) makes a fleet serve endpoints firstIndex..firstIndex+count-1
 * of a fleet of fleetSize, with the addresses and names they have there, so that fleets in several
 * processes (each under its own open-file limit) together serve exactly one big fleet.
 *
 * Behaviours per endpoint: ok, hang (accepts, never answers), garbage (200 with a body that is not
 * exposition text; the bad line is GARBAGE_LINE), reset (headers and half the body, then a TCP
 * reset), slow-body (headers and half the body, then a comment line every 50 ms, never ending),
 * http500. Answers are gzipped when the client accepts it, as promhttp in ipamd does.
 */
import * as fs from 'node:fs';
import * as http from 'node:http';
import * as net from 'node:net';
import * as zlib from 'node:zlib';
import type { AwsNodePod } from '../../runtime/types';
import { kubePod, type KubePod } from './kube-api-server';

export type IpamdBehaviour = 'ok' | 'hang' | 'garbage' | 'reset' | 'slow-body' | 'http500';

export interface IpamdFleetOptions {
  /** Number of endpoints (nodes) this fleet serves. */
  readonly count: number;
  /**
   * Index of this fleet's first endpoint in the whole fleet it is a slice of: endpoint firstIndex + k
   * gets the address and names it has there, and `payload`, `behaviour`, `setPayload` and
   * `setBehaviour` take those whole-fleet indexes. @default 0
   */
  readonly firstIndex?: number;
  /** Endpoints of the whole fleet (names are zero-padded to its width). @default - firstIndex + count */
  readonly fleetSize?: number;
  /** Port shared by every endpoint. @default - a free port, found at start */
  readonly port?: number;
  /** The exposition text of endpoint i; called per request, so return a shared string for big fleets. */
  readonly payload: (index: number) => string;
  /** @default - 'ok' for every endpoint */
  readonly behaviour?: (index: number) => IpamdBehaviour;
  /** Delay before an endpoint answers (not for 'hang'). @default 0 */
  readonly latencyMs?: number;
  /** Gzip answers for clients that send Accept-Encoding: gzip. @default true */
  readonly gzip?: boolean;
  /** Keep connections open between requests; false answers with Connection: close. @default true */
  readonly keepAlive?: boolean;
  /** Open listening sockets; false serves only in-process through `serve`. @default true */
  readonly listen?: boolean;
}

export interface IpamdEndpoint {
  /** Index in the whole fleet (firstIndex + position in a slice). */
  readonly index: number;
  /** Loopback address of this endpoint: the pod's podIP. */
  readonly host: string;
  readonly port: number;
  readonly nodeName: string;
  readonly podName: string;
}

export interface IpamdFleetCounters {
  /** Requests received, all endpoints. */
  readonly requests: number;
  /** Requests received per endpoint, by position in `endpoints` (index - firstIndex). */
  readonly requestsPerEndpoint: Uint32Array;
  /** Requests received and not yet answered or abandoned. */
  readonly inFlight: number;
  readonly peakInFlight: number;
  /** TCP connections open now (idle keep-alive ones included). */
  readonly openConnections: number;
  readonly peakOpenConnections: number;
  readonly connectionsAccepted: number;
}

export interface IpamdFleet {
  readonly endpoints: readonly IpamdEndpoint[];
  readonly port: number;
  readonly counters: IpamdFleetCounters;
  /** Zeroes every counter (the open connections are still counted). */
  resetCounters(): void;
  /** Replaces endpoint i's payload until the next call; `undefined` returns to options.payload. */
  setPayload(index: number, text: string | undefined): void;
  setBehaviour(index: number, behaviour: IpamdBehaviour): void;
  /**
   * Answers in-process a request for `target` (path and query, e.g. '/metrics') of the endpoint at
   * `host`, with `req`'s headers; false when no endpoint has that address.
   */
  serve(host: string, target: string, req: http.IncomingMessage, res: http.ServerResponse): boolean;
  close(): Promise<void>;
}

/** Line of the garbage payload that is not exposition text (1-based). */
export const GARBAGE_LINE = 4;
export const GARBAGE_PAYLOAD = [
  '# HELP awscni_eni_allocated The number of ENIs allocated',
  '# TYPE awscni_eni_allocated gauge',
  'awscni_eni_allocated 2',
  '<html><body>502 Bad Gateway</body></html>',
  '',
].join('\n');

const SLOW_BODY_INTERVAL_MS = 50;
/** Descriptors left for everything else in the process (jest, clients, files). */
const FD_HEADROOM = 256;

export async function startIpamdFleet(options: IpamdFleetOptions): Promise<IpamdFleet> {
  const { count } = options;
  const firstIndex = options.firstIndex ?? 0;
  const slots = fleetEndpoints({ count, firstIndex, fleetSize: options.fleetSize, port: 0 });
  const listen = options.listen ?? true;
  const keepAlive = options.keepAlive ?? true;
  const gzip = options.gzip ?? true;
  const latencyMs = options.latencyMs ?? 0;
  if (listen) checkDescriptorBudget(count);

  const hosts = slots.map((e) => e.host);
  const indexByHost = new Map(hosts.map((h, k) => [h, firstIndex + k]));
  const payloadOverrides = new Map<number, string>();
  const behaviourOverrides = new Map<number, IpamdBehaviour>();
  const encoded = new EncodedPayloads();
  const sockets = new Set<net.Socket>();
  const stats = {
    requests: 0, requestsPerEndpoint: new Uint32Array(count), inFlight: 0, peakInFlight: 0,
    openConnections: 0, peakOpenConnections: 0, connectionsAccepted: 0,
  };

  const payloadOf = (i: number): string => payloadOverrides.get(i) ?? options.payload(i);
  const behaviourOf = (i: number): IpamdBehaviour => behaviourOverrides.get(i) ?? options.behaviour?.(i) ?? 'ok';

  const handle = (index: number, target: string, req: http.IncomingMessage, res: http.ServerResponse): void => {
    stats.requests++;
    stats.requestsPerEndpoint[index - firstIndex]++;
    stats.inFlight++;
    stats.peakInFlight = Math.max(stats.peakInFlight, stats.inFlight);
    res.on('close', () => { stats.inFlight--; });
    if (!keepAlive) res.setHeader('connection', 'close');

    const path = target.split('?')[0];
    if (path !== '/metrics') {
      res.writeHead(404, { 'content-type': 'text/plain' });
      res.end(`404 page not found: ipamd serves /metrics, not ${path}\n`);
      return;
    }
    const behaviour = behaviourOf(index);
    if (behaviour === 'hang') return; // closed when the client gives up or the fleet closes
    const acceptsGzip = gzip && /\bgzip\b/.test(String(req.headers['accept-encoding'] ?? ''));
    const answer = (): void => respond(behaviour, index, acceptsGzip, res);
    if (latencyMs > 0) {
      const timer = setTimeout(answer, latencyMs);
      res.on('close', () => clearTimeout(timer));
    } else {
      answer();
    }
  };

  const respond = (behaviour: IpamdBehaviour, index: number, acceptsGzip: boolean, res: http.ServerResponse): void => {
    const textHeaders = { 'content-type': 'text/plain; version=0.0.4; charset=utf-8' };
    switch (behaviour) {
      case 'ok':
      case 'garbage': {
        const body = encoded.get(behaviour === 'ok' ? payloadOf(index) : GARBAGE_PAYLOAD, acceptsGzip);
        res.writeHead(200, { ...textHeaders, ...(acceptsGzip ? { 'content-encoding': 'gzip' } : {}), 'content-length': body.length });
        res.end(body);
        return;
      }
      case 'http500':
        res.writeHead(500, { 'content-type': 'text/plain' });
        res.end('ipamd: internal error collecting metrics\n');
        return;
      case 'reset': {
        const body = encoded.get(payloadOf(index), false);
        res.writeHead(200, { ...textHeaders, 'content-length': body.length });
        res.write(body.subarray(0, Math.floor(body.length / 2)), () => res.socket?.resetAndDestroy());
        return;
      }
      case 'slow-body': {
        const body = encoded.get(payloadOf(index), false);
        res.writeHead(200, textHeaders);
        res.write(body.subarray(0, Math.floor(body.length / 2)));
        const timer = setInterval(() => res.write('# still writing\n'), SLOW_BODY_INTERVAL_MS);
        res.on('close', () => clearInterval(timer));
        return;
      }
      case 'hang':
        return;
    }
  };

  const httpServer = http.createServer((req, res) => {
    const index = indexByHost.get(req.socket.localAddress ?? '');
    if (index === undefined) {
      res.writeHead(421, { 'content-type': 'text/plain' });
      res.end(`no fleet endpoint at ${req.socket.localAddress}\n`);
      return;
    }
    handle(index, req.url ?? '/', req, res);
  });

  const listeners: net.Server[] = [];
  let port = options.port ?? 0;
  if (listen) port = await listenAll(hosts, options.port, listeners, (socket) => {
    sockets.add(socket);
    stats.connectionsAccepted++;
    stats.openConnections++;
    stats.peakOpenConnections = Math.max(stats.peakOpenConnections, stats.openConnections);
    socket.on('close', () => {
      sockets.delete(socket);
      stats.openConnections--;
    });
    httpServer.emit('connection', socket);
  });

  const endpoints = slots.map((e): IpamdEndpoint => ({ ...e, port }));

  let closed = false;
  return {
    endpoints,
    port,
    counters: stats,
    resetCounters: () => {
      stats.requests = 0;
      stats.requestsPerEndpoint.fill(0);
      stats.peakInFlight = stats.inFlight;
      stats.peakOpenConnections = stats.openConnections;
      stats.connectionsAccepted = 0;
    },
    setPayload: (index, text) => {
      if (text === undefined) payloadOverrides.delete(index);
      else payloadOverrides.set(index, text);
    },
    setBehaviour: (index, behaviour) => { behaviourOverrides.set(index, behaviour); },
    serve: (host, target, req, res) => {
      const index = indexByHost.get(host);
      if (index === undefined) return false;
      handle(index, target, req, res);
      return true;
    },
    close: async () => {
      if (closed) return;
      closed = true;
      await Promise.all(listeners.map((l) => new Promise<void>((resolve) => l.close(() => resolve()))));
      for (const socket of sockets) socket.destroy();
      httpServer.close();
    },
  };
}

export interface FleetSlice {
  readonly count: number;
  /** @default 0 */
  readonly firstIndex?: number;
  /** @default - firstIndex + count */
  readonly fleetSize?: number;
  readonly port: number;
}

/**
 * The endpoints a fleet (or a slice of one) has, without starting it: what the API server lists
 * when the fleet itself runs in other processes.
 */
export function fleetEndpoints(slice: FleetSlice): IpamdEndpoint[] {
  const { count, port } = slice;
  const firstIndex = slice.firstIndex ?? 0;
  const fleetSize = slice.fleetSize ?? firstIndex + count;
  if (!Number.isInteger(count) || count < 1) throw new Error(`count must be a positive integer, got ${count}`);
  if (!Number.isInteger(firstIndex) || firstIndex < 0) throw new Error(`firstIndex must be a whole number of 0 or more, got ${firstIndex}`);
  if (!Number.isInteger(fleetSize) || fleetSize < firstIndex + count) {
    throw new Error(`fleetSize (${fleetSize}) must be a whole number of at least firstIndex + count (${firstIndex + count})`);
  }
  const width = String(fleetSize - 1).length;
  return loopbackAddresses(count, firstIndex).map((host, k): IpamdEndpoint => {
    const index = firstIndex + k;
    const padded = String(index).padStart(width, '0');
    return { index, host, port, nodeName: `node-${padded}`, podName: `aws-node-${padded}` };
  });
}

/** The fleet as discovery would report it: one aws-node pod per endpoint. */
export function fleetAwsNodePods(fleet: { readonly endpoints: readonly IpamdEndpoint[] }, namespace = 'kube-system'): AwsNodePod[] {
  return fleet.endpoints.map((e) => ({ podName: e.podName, namespace, nodeName: e.nodeName, podIP: e.host }));
}

/**
 * The fleet as the API server would list it, for KubeApiServer.setPods: a started fleet, or
 * `{ endpoints: fleetEndpoints(...) }` for one served by other processes.
 */
export function fleetKubePods(fleet: { readonly endpoints: readonly IpamdEndpoint[] }, namespace = 'kube-system',
  startTime = '2026-01-01T00:00:00Z'): KubePod[] {
  return fleet.endpoints.map((e) => kubePod({ name: e.podName, namespace, nodeName: e.nodeName, podIP: e.host, startTime }));
}

/** Usable loopback addresses per /24: .1 to .254. */
const HOSTS_PER_BLOCK = 254;

/**
 * Addresses of endpoints firstIndex..firstIndex+count-1: 127.0.0.2 onwards through 127/8, skipping
 * addresses ending in .0 or .255 (endpoint 0 is 127.0.0.2, 252 is 127.0.0.254, 253 is 127.0.1.1).
 */
export function loopbackAddresses(count: number, firstIndex = 0): string[] {
  const hosts: string[] = [];
  for (let index = firstIndex; index < firstIndex + count; index++) {
    // The (index + 1)-th usable address counting 127.0.0.1 as the 0th: 127.0.0.1 is left out.
    const usable = index + 1;
    const n = Math.floor(usable / HOSTS_PER_BLOCK) * 256 + (usable % HOSTS_PER_BLOCK) + 1;
    if (n > 0xfffffe) throw new Error(`127.0.0.0/8 has no room for endpoint ${index} (${firstIndex + count} endpoints)`);
    hosts.push(`127.${(n >> 16) & 0xff}.${(n >> 8) & 0xff}.${n & 0xff}`);
  }
  return hosts;
}

/** Listens on every host at one port; a port taken on some address makes it try another. */
async function listenAll(hosts: readonly string[], fixedPort: number | undefined, listeners: net.Server[],
  onConnection: (socket: net.Socket) => void): Promise<number> {
  const attempts = fixedPort === undefined ? 5 : 1;
  for (let attempt = 1; ; attempt++) {
    const port = fixedPort ?? 0;
    const first = await listenOne(hosts[0], port, onConnection);
    const chosen = (first.address() as net.AddressInfo).port;
    const opened: net.Server[] = [first];
    try {
      // Batches keep a 10,000-endpoint start from queuing 10,000 binds at once.
      for (let start = 1; start < hosts.length; start += 500) {
        const batch = hosts.slice(start, start + 500);
        const servers = await Promise.allSettled(batch.map((h) => listenOne(h, chosen, onConnection)));
        for (const s of servers) if (s.status === 'fulfilled') opened.push(s.value);
        const failed = servers.find((s): s is PromiseRejectedResult => s.status === 'rejected');
        if (failed) throw failed.reason;
      }
      listeners.push(...opened);
      return chosen;
    } catch (err) {
      await Promise.all(opened.map((s) => new Promise<void>((resolve) => s.close(() => resolve()))));
      if (attempt >= attempts || (err as NodeJS.ErrnoException).code !== 'EADDRINUSE') {
        throw new Error(`ipamd fleet cannot listen on port ${chosen} of ${hosts.length} loopback addresses: ${(err as Error).message}`);
      }
    }
  }
}

function listenOne(host: string, port: number, onConnection: (socket: net.Socket) => void): Promise<net.Server> {
  return new Promise((resolve, reject) => {
    const server = net.createServer(onConnection);
    server.once('error', reject);
    server.listen({ host, port, exclusive: true }, () => {
      server.off('error', reject);
      resolve(server);
    });
  });
}

/** Refuses, with the way out, a fleet whose listening sockets alone would exhaust `ulimit -n`. */
function checkDescriptorBudget(count: number): void {
  const limit = softOpenFileLimit();
  if (limit !== undefined && count + FD_HEADROOM > limit) {
    throw new Error(`An ipamd fleet of ${count} listening endpoints needs more than the open-file limit of ${limit} `
      + `(ulimit -n) allows with ${FD_HEADROOM} to spare: raise it (ulimit -n ${count * 3 + FD_HEADROOM}), `
      + 'split it into slices (firstIndex, fleetSize) served by several processes, '
      + 'or start the fleet with listen: false and serve it through the kube API server\'s proxyHandler.');
  }
}

/** The soft open-file limit (`ulimit -n`) of this process; undefined where /proc is not there. */
export function softOpenFileLimit(): number | undefined {
  try {
    const line = fs.readFileSync('/proc/self/limits', 'utf8').split('\n').find((l) => l.startsWith('Max open files'));
    const soft = line?.split(/\s{2,}/)[1];
    return soft && /^\d+$/.test(soft) ? Number(soft) : undefined;
  } catch {
    return undefined; // not Linux: no check
  }
}

/** Payload bodies by text, plain and gzipped, for the few distinct texts a fleet usually serves. */
class EncodedPayloads {
  private readonly cache = new Map<string, { plain: Buffer; gzipped?: Buffer }>();

  get(text: string, gzipped: boolean): Buffer {
    let entry = this.cache.get(text);
    if (!entry) {
      if (this.cache.size >= 64) this.cache.delete(this.cache.keys().next().value as string);
      entry = { plain: Buffer.from(text, 'utf8') };
      this.cache.set(text, entry);
    }
    if (!gzipped) return entry.plain;
    entry.gzipped ??= zlib.gzipSync(entry.plain);
    return entry.gzipped;
  }
}

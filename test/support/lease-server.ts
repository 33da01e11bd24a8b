/**
 * A loopback Kubernetes API server for coordination.k8s.io/v1 Leases: get, create and replace
 * (update), with the API server's optimistic concurrency, so leader election can be tested with
 * the real @kubernetes/client-node against real HTTP.
 *
 * - `GET    /apis/coordination.k8s.io/v1/namespaces/{ns}/leases/{name}`: 200 Lease, or 404 Status NotFound.
 * - `POST   /apis/coordination.k8s.io/v1/namespaces/{ns}/leases`: 201, or 409 Status AlreadyExists.
 * - `PUT    /apis/coordination.k8s.io/v1/namespaces/{ns}/leases/{name}`: 200 when the body's
 *   metadata.resourceVersion is the stored one; 409 Status Conflict ("the object has been
 *   modified") when it is not; 422 Invalid when it is missing (Leases allow no unconditional update);
 *   404 when there is no Lease.
 * - Every write gets a new resourceVersion from one counter, as etcd's revision.
 * - renewTime and acquireTime must be MicroTime (RFC 3339 with exactly six fractional digits), as
 *   the API server's decoder requires; anything else is 400 BadRequest.
 * - Requests need `Authorization: Bearer <token>` of a known client (401 otherwise); a client can be
 *   cut off (`partition`): its requests get no answer until `heal` or close, as behind a broken network.
 *
 * The server keeps a log of every write with its server time, so a test can check holder changes
 * against the clock. Binds 127.0.0.1 on an ephemeral port.
 */
import * as http from 'node:http';
import type { AddressInfo } from 'node:net';
import { KubeConfig } from '@kubernetes/client-node';

export interface StoredLease {
  readonly apiVersion: 'coordination.k8s.io/v1';
  readonly kind: 'Lease';
  readonly metadata: {
    readonly name: string;
    readonly namespace: string;
    readonly resourceVersion: string;
    readonly uid: string;
    readonly creationTimestamp: string;
    readonly annotations?: Readonly<Record<string, string>>;
  };
  readonly spec: {
    readonly holderIdentity?: string;
    readonly leaseDurationSeconds?: number;
    readonly acquireTime?: string;
    readonly renewTime?: string;
    readonly leaseTransitions?: number;
  };
}

/** One write as the server applied or refused it. */
export interface LeaseWrite {
  /** Server clock (Date.now()) when the answer was decided. */
  readonly atMs: number;
  /** The client, by its token's name. */
  readonly client: string;
  readonly verb: 'create' | 'replace' | 'touch';
  readonly status: number;
  /** The Lease after the write, when it was applied. */
  readonly lease?: StoredLease;
}

export interface LeaseServer {
  readonly url: string;
  /** Every write, applied or refused, in order. */
  readonly writes: readonly LeaseWrite[];
  /** Requests served, by client and method. */
  readonly requestCounts: ReadonlyMap<string, number>;
  /** The stored Lease, if any. */
  lease(namespace: string, name: string): StoredLease | undefined;
  /** A kubeconfig for client `name` (its own bearer token). */
  kubeConfig(client: string): KubeConfig;
  /** A change by someone else (an annotation, as `kubectl annotate`): a new resourceVersion, same spec. */
  touch(namespace: string, name: string): void;
  /** Client `name` gets no answers until heal(name). */
  partition(client: string): void;
  heal(client: string): void;
  close(): Promise<void>;
}

const PREFIX = '/apis/coordination.k8s.io/v1/namespaces/';
const MICRO_TIME = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{6}(Z|[+-]\d{2}:\d{2})$/;

class StatusError extends Error {
  constructor(readonly code: number, readonly reason: string, message: string) {
    super(message);
  }
}

export async function startLeaseServer(clients: readonly string[]): Promise<LeaseServer> {
  const tokens = new Map(clients.map((c) => [`token-${c}`, c]));
  const leases = new Map<string, StoredLease>();
  const writes: LeaseWrite[] = [];
  const requestCounts = new Map<string, number>();
  const partitioned = new Set<string>();
  const held = new Set<http.ServerResponse>();
  let revision = 100;
  let uidCounter = 0;

  const server = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const token = /^Bearer (.+)$/.exec(req.headers.authorization ?? '')?.[1];
      const client = token === undefined ? undefined : tokens.get(token);
      if (client === undefined) return send(res, 401, status(401, 'Unauthorized', 'Unauthorized'));
      const key = `${client} ${req.method}`;
      requestCounts.set(key, (requestCounts.get(key) ?? 0) + 1);
      if (partitioned.has(client)) {
        held.add(res);
        res.on('close', () => held.delete(res));
        return;
      }
      let verb: LeaseWrite['verb'] | undefined;
      try {
        const route = parseRoute(req.method ?? '', new URL(req.url ?? '/', 'http://x').pathname);
        if (route.verb === 'get') {
          const lease = leases.get(`${route.namespace}/${route.name}`);
          if (!lease) throw notFound(route.name as string);
          return send(res, 200, lease);
        }
        verb = route.verb;
        const body = parseBody(Buffer.concat(chunks).toString('utf8'));
        const name = body.metadata?.name;
        if (route.verb === 'replace' && name !== route.name) {
          throw new StatusError(400, 'BadRequest', `the name of the object (${name}) does not match the name on the URL (${route.name})`);
        }
        if (body.metadata?.namespace !== undefined && body.metadata.namespace !== route.namespace) {
          throw new StatusError(400, 'BadRequest', 'the namespace of the provided object does not match the namespace sent on the request');
        }
        if (!name) throw new StatusError(422, 'Invalid', 'Lease.coordination.k8s.io "" is invalid: metadata.name: Required value');
        const id = `${route.namespace}/${name}`;
        const existing = leases.get(id);
        if (route.verb === 'create') {
          if (existing) throw new StatusError(409, 'AlreadyExists', `leases.coordination.k8s.io "${name}" already exists`);
        } else {
          if (!existing) throw notFound(name);
          const rv = body.metadata?.resourceVersion;
          if (!rv) {
            throw new StatusError(422, 'Invalid', `Lease.coordination.k8s.io "${name}" is invalid: metadata.resourceVersion: Invalid value: 0x0: must be specified for an update`);
          }
          if (rv !== existing.metadata.resourceVersion) {
            throw new StatusError(409, 'Conflict', `Operation cannot be fulfilled on leases.coordination.k8s.io "${name}": the object has been modified; please apply your changes to the latest version and try again`);
          }
        }
        const stored: StoredLease = {
          apiVersion: 'coordination.k8s.io/v1',
          kind: 'Lease',
          metadata: {
            name,
            namespace: route.namespace,
            resourceVersion: String(++revision),
            uid: existing?.metadata.uid ?? `lease-uid-${++uidCounter}`,
            creationTimestamp: existing?.metadata.creationTimestamp ?? new Date().toISOString().replace(/\.\d{3}Z$/, 'Z'),
            ...(body.metadata?.annotations ? { annotations: body.metadata.annotations } : {}),
          },
          spec: body.spec ?? {},
        };
        leases.set(id, stored);
        writes.push({ atMs: Date.now(), client, verb: route.verb, status: route.verb === 'create' ? 201 : 200, lease: stored });
        return send(res, route.verb === 'create' ? 201 : 200, stored);
      } catch (err) {
        const e = err instanceof StatusError ? err : new StatusError(500, 'InternalError', String(err));
        if (verb !== undefined) writes.push({ atMs: Date.now(), client, verb, status: e.code });
        return send(res, e.code, status(e.code, e.reason, e.message));
      }
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;

  return {
    url,
    writes,
    requestCounts,
    lease: (namespace, name) => leases.get(`${namespace}/${name}`),
    kubeConfig: (client) => {
      const kc = new KubeConfig();
      kc.loadFromClusterAndUser({ name: 'loopback', server: url, skipTLSVerify: true }, { name: client, token: `token-${client}` });
      return kc;
    },
    touch: (namespace, name) => {
      const existing = leases.get(`${namespace}/${name}`);
      if (!existing) throw new Error(`no Lease ${namespace}/${name} to touch`);
      const stored: StoredLease = {
        ...existing,
        metadata: { ...existing.metadata, resourceVersion: String(++revision), annotations: { touchedAt: String(Date.now()) } },
      };
      leases.set(`${namespace}/${name}`, stored);
      writes.push({ atMs: Date.now(), client: 'test', verb: 'touch', status: 200, lease: stored });
    },
    partition: (client) => void partitioned.add(client),
    heal: (client) => {
      partitioned.delete(client);
      // What was sent into the partition is lost, as on a broken connection.
      for (const res of held) res.destroy();
    },
    close: async () => {
      for (const res of held) res.destroy();
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

interface Route {
  readonly verb: 'get' | 'create' | 'replace';
  readonly namespace: string;
  readonly name?: string;
}

function parseRoute(method: string, pathname: string): Route {
  if (!pathname.startsWith(PREFIX)) throw new StatusError(404, 'NotFound', `the server could not find the requested resource (${method} ${pathname})`);
  const parts = pathname.slice(PREFIX.length).split('/').map(decodeURIComponent);
  if (parts.length === 2 && parts[1] === 'leases' && method === 'POST') return { verb: 'create', namespace: parts[0] };
  if (parts.length === 3 && parts[1] === 'leases') {
    if (method === 'GET') return { verb: 'get', namespace: parts[0], name: parts[2] };
    if (method === 'PUT') return { verb: 'replace', namespace: parts[0], name: parts[2] };
  }
  throw new StatusError(405, 'MethodNotAllowed', `${method} ${pathname} is not served by this loopback server`);
}

interface LeaseBody {
  apiVersion?: string;
  kind?: string;
  metadata?: { name?: string; namespace?: string; resourceVersion?: string; annotations?: Record<string, string> };
  spec?: StoredLease['spec'];
}

function parseBody(text: string): LeaseBody {
  let body: LeaseBody;
  try {
    body = JSON.parse(text) as LeaseBody;
  } catch {
    throw new StatusError(400, 'BadRequest', 'the body is not JSON');
  }
  if (body.apiVersion !== 'coordination.k8s.io/v1' || body.kind !== 'Lease') {
    throw new StatusError(400, 'BadRequest', `expected coordination.k8s.io/v1 Lease, got ${body.apiVersion} ${body.kind}`);
  }
  for (const field of ['renewTime', 'acquireTime'] as const) {
    const value = body.spec?.[field];
    if (value !== undefined && (typeof value !== 'string' || !MICRO_TIME.test(value))) {
      throw new StatusError(400, 'BadRequest', `Lease in version "v1" cannot be handled as a Lease: spec.${field}: parsing time ${JSON.stringify(value)} as MicroTime (RFC 3339 with microseconds) failed`);
    }
  }
  const n = body.spec?.leaseDurationSeconds;
  if (n !== undefined && !(Number.isInteger(n) && n > 0)) {
    throw new StatusError(422, 'Invalid', `Lease.coordination.k8s.io is invalid: spec.leaseDurationSeconds: Invalid value: ${n}: must be greater than 0`);
  }
  return body;
}

function notFound(name: string): StatusError {
  return new StatusError(404, 'NotFound', `leases.coordination.k8s.io "${name}" not found`);
}

function status(code: number, reason: string, message: string): object {
  return { kind: 'Status', apiVersion: 'v1', metadata: {}, status: 'Failure', message, reason, code };
}

function send(res: http.ServerResponse, code: number, body: object): void {
  const text = JSON.stringify(body);
  res.writeHead(code, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(text) });
  res.end(text);
}

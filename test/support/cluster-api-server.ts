/**
 * One loopback Kubernetes API endpoint made of two: the pod API server (kube-api-server.ts: pod
 * list and pod proxy) and the Lease server (lease-server.ts: coordination.k8s.io/v1 Leases with
 * resourceVersion conflicts), behind one URL, as a collector with one kubeconfig sees a real API
 * server.
 *
 * Each client (a collector replica) gets its own bearer token, so the Lease server can tell
 * replicas apart; requests for Leases go to the Lease server as they came, every other request goes
 * to the pod API server with its one token instead. An unknown token is refused with 401 here.
 * Binds 127.0.0.1 on an ephemeral port.
 */
import * as fs from 'node:fs';
import * as http from 'node:http';
import type { AddressInfo } from 'node:net';
import * as os from 'node:os';
import * as path from 'node:path';
import { loopbackKubeconfig, type KubeApiServer } from './kube-api-server';
import type { LeaseServer } from './lease-server';

const LEASE_PREFIX = '/apis/coordination.k8s.io/';

export interface ClusterApiServer {
  readonly url: string;
  /** Writes a kubeconfig for client `name` (its own token) and returns its path, for KUBECONFIG. */
  writeKubeconfig(client: string): string;
  /** Requests routed, by backend. */
  readonly routed: { readonly lease: number; readonly pods: number };
  close(): Promise<void>;
}

/**
 * Fronts `kube` (which must require `kubeToken`) and `leases` (which knows `clients`) at one URL.
 * Closing it closes the front only; the two servers are the caller's.
 */
export async function startClusterApiServer(
  kube: KubeApiServer, kubeToken: string, leases: LeaseServer, clients: readonly string[],
): Promise<ClusterApiServer> {
  const tokens = new Set(clients.map((c) => `token-${c}`));
  const routed = { lease: 0, pods: 0 };
  const server = http.createServer((req, res) => {
    const token = /^Bearer (.+)$/.exec(req.headers.authorization ?? '')?.[1];
    if (token === undefined || !tokens.has(token)) {
      res.writeHead(401, { 'content-type': 'application/json' });
      res.end(JSON.stringify({ kind: 'Status', apiVersion: 'v1', status: 'Failure', reason: 'Unauthorized', code: 401 }));
      return;
    }
    const toLease = (req.url ?? '').startsWith(LEASE_PREFIX);
    if (toLease) routed.lease++;
    else routed.pods++;
    const target = new URL(req.url ?? '/', toLease ? leases.url : kube.url);
    const headers = { ...req.headers, host: target.host, ...(toLease ? {} : { authorization: `Bearer ${kubeToken}` }) };
    const upstream = http.request(target, { method: req.method, headers }, (answer) => {
      res.writeHead(answer.statusCode ?? 502, answer.headers);
      answer.pipe(res);
    });
    upstream.on('error', () => {
      if (!res.headersSent) res.writeHead(502);
      res.end();
    });
    // A client that gives up (its deadline) ends the upstream request too.
    res.on('close', () => upstream.destroy());
    req.pipe(upstream);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  const tempDir = fs.mkdtempSync(path.join(os.tmpdir(), 'cluster-api-server-'));

  return {
    url,
    routed,
    writeKubeconfig: (client) => {
      const file = path.join(tempDir, `kubeconfig-${client}`);
      fs.writeFileSync(file, loopbackKubeconfig(url, client, `token-${client}`));
      return file;
    },
    close: async () => {
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
      fs.rmSync(tempDir, { recursive: true, force: true });
    },
  };
}

/**
 * The simulated cluster, in its own process so that the measured collector's CPU and memory are
 * its own: N ipamd endpoints, a kube API server listing their aws-node pods, and a CloudWatch
 * endpoint counting requests and datums. All on loopback. In direct mode a fleet bigger than one
 * process's open-file limit allows is served by fleet-shard processes (bench/fleet-shards.ts), whose
 * requests and CPU are counted as the cluster's. Driven over the fork IPC channel
 * (bench/cluster-protocol.ts); the harness lowers this process's priority (nice) so the measured
 * process gets the CPU first.
 *
 * The process exits on its own when the harness goes away (IPC disconnect) or after LIFETIME_MS.
 */
import * as fs from 'node:fs';
import { startCloudWatchServer, type CloudWatchServer } from '../test/support/cloudwatch-server';
import { fleetEndpoints, fleetKubePods, startIpamdFleet, type IpamdFleet } from '../test/support/ipamd-fleet';
import { startKubeApiServer, type KubeApiServer, type KubePod } from '../test/support/kube-api-server';
import { serveParent } from './ipc-child';
import { realisticAwsNodePod } from './realistic-pod';
import {
  hangingIndexes, type ClusterCounters, type ClusterInfo, type ClusterReply, type ClusterRequest, type ClusterSpec, type FleetShardCounters,
} from './cluster-protocol';
import { FleetShards, maxEndpointsPerProcess } from './fleet-shards';

/** No benchmark stage lasts this long; a forgotten cluster process ends itself. */
const LIFETIME_MS = 40 * 60 * 1000;

/** The ipamd fleet, served in this process or by shard processes. */
interface ServedFleet {
  readonly port: number;
  readonly processes: number;
  /** Counters since the last reset; cpuMs is the shards' CPU (0 in this process: counted as ours). */
  counters(reset: boolean): Promise<FleetShardCounters>;
  close(): Promise<void>;
}

function inProcess(fleet: IpamdFleet): ServedFleet {
  return {
    port: fleet.port,
    processes: 1,
    counters: async (reset) => {
      const { requests, peakInFlight, connectionsAccepted } = fleet.counters;
      if (reset) fleet.resetCounters();
      return { requests, peakInFlight, connectionsAccepted, cpuMs: 0 };
    },
    close: () => fleet.close(),
  };
}

interface Cluster {
  readonly fleet: ServedFleet;
  readonly kube: KubeApiServer;
  readonly cloudWatch: CloudWatchServer;
  /** Index into cloudWatch.requests where the current counting window starts. */
  cloudWatchFrom: number;
  /** The kube server's counters only grow: their values at the window's start. */
  kubeFrom: { lists: number; proxies: number };
  cpuFrom: NodeJS.CpuUsage;
  /** The pods served now, and how many churns each has had (restartCount). */
  readonly pods: KubePod[];
  churned: number;
  /** Watch counters at the window's start. */
  watchFrom: { watches: number; events: number };
}

let cluster: Cluster | undefined;

async function start(spec: ClusterSpec): Promise<ClusterInfo> {
  if (cluster) await stop();
  const payloads = spec.payloadFiles.map((file) => fs.readFileSync(file, 'utf8'));
  if (payloads.length === 0) throw new Error('ClusterSpec.payloadFiles is empty: name at least one exposition file');
  const hanging = hangingIndexes(spec.count, spec.hangEvery);
  const hangingSet = new Set(hanging);
  // Direct: one connection per scrape, since 10,000 listening sockets plus 10,000 idle keep-alive
  // ones would not fit this machine's open-file limit (20,000); the collector's --once cycle and a
  // Prometheus scrape both open a connection per node anyway. Proxy: the answer goes through the
  // API server's connection, which stays open as a real API server's does.
  const keepAlive = spec.mode === 'proxy';
  const perProcess = spec.maxEndpointsPerProcess ?? maxEndpointsPerProcess();
  const sharded = spec.mode === 'direct' && spec.count > perProcess;
  // Proxy mode needs the fleet here: the API server's pod proxy calls fleet.serve.
  const local = sharded ? undefined : await startIpamdFleet({
    count: spec.count,
    payload: (i) => payloads[i % payloads.length],
    behaviour: (i) => (hangingSet.has(i) ? 'hang' : 'ok'),
    latencyMs: spec.latencyMs,
    keepAlive,
    listen: spec.mode === 'direct',
  });
  let fleet: ServedFleet | undefined;
  let kube: KubeApiServer | undefined;
  try {
    fleet = local ? inProcess(local) : await FleetShards.start({
      fleetSize: spec.count, latencyMs: spec.latencyMs, hangEvery: spec.hangEvery, payloadFiles: spec.payloadFiles, keepAlive,
    }, perProcess);
    const endpoints = local?.endpoints ?? fleetEndpoints({ count: spec.count, port: fleet.port });
    const plain = fleetKubePods({ endpoints });
    const pods = spec.realisticPods ? plain.map((p, i) => realisticAwsNodePod(p, i)) : plain;
    kube = await startKubeApiServer({
      pods,
      // A bookmark a minute, as the real API server sends to watches that allow them.
      bookmarkIntervalMs: 60_000,
      proxyHandler: spec.mode === 'proxy'
        ? (target, req, res) => {
          const host = target.pod.status.podIP ?? '';
          if (!local?.serve(host, target.path, req, res)) {
            res.writeHead(503, { 'content-type': 'text/plain' });
            res.end(`no ipamd endpoint at ${host}\n`);
          }
        }
        : undefined,
    });
    const cloudWatch = await startCloudWatchServer();
    cluster = {
      fleet, kube, cloudWatch, cloudWatchFrom: 0, kubeFrom: { lists: 0, proxies: 0 }, cpuFrom: process.cpuUsage(),
      pods, churned: 0, watchFrom: { watches: 0, events: 0 },
    };
    return {
      kubeconfigPath: kube.writeKubeconfig(),
      kubeApiUrl: kube.url,
      cloudWatchUrl: cloudWatch.url,
      // Proxy mode has no ipamd socket; any port works in the proxy path, so use the real one.
      ipamdPort: spec.mode === 'direct' ? fleet.port : 61678,
      hosts: endpoints.map((e) => e.host),
      hanging,
      fleetProcesses: fleet.processes,
      startMs: Date.now(),
    };
  } catch (err) {
    await kube?.close();
    if (fleet) await fleet.close();
    else await local?.close();
    throw err;
  }
}

async function counters(reset: boolean): Promise<ClusterCounters> {
  const current = cluster;
  if (!current) throw new Error('no cluster is running: send start first');
  const { kube, cloudWatch } = current;
  const fleet = await current.fleet.counters(reset);
  const requests = cloudWatch.requests.slice(current.cloudWatchFrom);
  const cpu = process.cpuUsage(current.cpuFrom);
  const result: ClusterCounters = {
    ipamdRequests: fleet.requests,
    ipamdPeakInFlight: fleet.peakInFlight,
    ipamdConnectionsAccepted: fleet.connectionsAccepted,
    kubeLists: kube.counters.lists - current.kubeFrom.lists,
    kubeWatches: kube.counters.watches - current.watchFrom.watches,
    kubeWatchEvents: kube.counters.watchEvents - current.watchFrom.events,
    kubeProxies: kube.counters.proxies - current.kubeFrom.proxies,
    cloudWatchRequests: requests.length,
    cloudWatchDatums: requests.reduce((n, r) => n + r.input.MetricData.length, 0),
    cloudWatchBodyBytes: requests.reduce((n, r) => n + r.bodyBytes, 0),
    cloudWatchWireBytes: requests.reduce((n, r) => n + Number(r.headers['content-length'] ?? 0), 0),
    cloudWatchGzipped: requests.filter((r) => r.gzipped).length,
    cloudWatchProtocolErrors: cloudWatch.protocolErrors.slice(),
    clusterCpuMs: (cpu.user + cpu.system) / 1000 + fleet.cpuMs,
  };
  if (reset) {
    current.kubeFrom = { lists: kube.counters.lists, proxies: kube.counters.proxies };
    current.watchFrom = { watches: kube.counters.watches, events: kube.counters.watchEvents };
    current.cloudWatchFrom = cloudWatch.requests.length;
    cloudWatch.protocolErrors.length = 0;
    current.cpuFrom = process.cpuUsage();
  }
  return result;
}

/** The next `count` pods, round-robin, get one more container restart: one MODIFIED event each. */
function churn(count: number): number {
  if (!cluster) throw new Error('no cluster is running: send start first');
  const { pods } = cluster;
  for (let k = 0; k < count; k++) {
    const i = cluster.churned++ % pods.length;
    const pod = pods[i];
    const statuses = (pod.status.containerStatuses ?? []).map((c) => (c.name === 'aws-node' ? { ...c, restartCount: (c.restartCount ?? 0) + 1 } : c));
    pods[i] = { ...pod, status: { ...pod.status, containerStatuses: statuses } };
  }
  // Unchanged pods are the same objects, so the server diffs them by identity, not by JSON.
  cluster.kube.setPods(pods);
  return cluster.kube.resourceVersion;
}

async function stop(): Promise<void> {
  const current = cluster;
  cluster = undefined;
  if (!current) return;
  await Promise.allSettled([current.fleet.close(), current.kube.close(), current.cloudWatch.close()]);
}

async function handle(request: ClusterRequest): Promise<ClusterReply> {
  switch (request.type) {
    case 'start':
      return { type: 'started', id: request.id, info: await start(request.spec) };
    case 'counters':
      return { type: 'counters', id: request.id, counters: await counters(request.reset) };
    case 'churn':
      return { type: 'churned', id: request.id, resourceVersion: churn(request.count) };
    case 'stop':
      await stop();
      return { type: 'stopped', id: request.id };
  }
}

// The harness is gone (or LIFETIME_MS passed): close everything and leave.
serveParent({ file: 'bench/cluster-process.ts', parent: 'the benchmark harness', handle, stop, lifetimeMs: LIFETIME_MS });

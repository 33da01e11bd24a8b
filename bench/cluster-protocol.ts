/**
 * Messages between the harness and the simulated-cluster process (bench/cluster-process.ts),
 * sent over the IPC channel of child_process.fork as JSON.
 */

/** How the collector reaches ipamd in this cluster. */
export type ClusterMode =
  /** Every endpoint listens on its own 127.x address at one shared port (SCRAPE_MODE=direct, Prometheus). */
  | 'direct'
  /** No ipamd socket: the kube API server's pod proxy serves the fleet in-process (SCRAPE_MODE=proxy). */
  | 'proxy';

export interface ClusterSpec {
  /** Nodes: ipamd endpoints and aws-node pods. */
  readonly count: number;
  readonly mode: ClusterMode;
  /** Delay of every ipamd answer. */
  readonly latencyMs: number;
  /** Endpoint i never answers when i % hangEvery === hangEvery / 2 (rounded down); 0 for none. */
  readonly hangEvery: number;
  /** Exposition files served round-robin: endpoint i serves payloadFiles[i % length]. */
  readonly payloadFiles: readonly string[];
  /**
   * aws-node pods as EKS returns them (about 9 KB of JSON each, bench/realistic-pod.ts) rather
   * than the bare test pods (about 0.5 KB). @default false
   */
  readonly realisticPods?: boolean;
  /**
   * Direct mode: at most this many listening endpoints per process; a bigger fleet is served by
   * fleet-shard processes (bench/fleet-shard-process.ts). @default - from the soft open-file limit
   * (bench/fleet-shards.ts)
   */
  readonly maxEndpointsPerProcess?: number;
}

export interface ClusterInfo {
  /** Kubeconfig of the loopback kube API server, for KUBECONFIG. */
  readonly kubeconfigPath: string;
  readonly kubeApiUrl: string;
  /** For AWS_ENDPOINT_URL_CLOUDWATCH. */
  readonly cloudWatchUrl: string;
  /** Port every ipamd endpoint shares (IPAMD_METRICS_PORT); in proxy mode the port named in the pod proxy path. */
  readonly ipamdPort: number;
  /** Loopback address of every endpoint, in index order (Prometheus targets). */
  readonly hosts: readonly string[];
  /** Indexes of the endpoints that never answer. */
  readonly hanging: readonly number[];
  /** Processes serving the ipamd endpoints: 1 for the cluster process itself, more when sharded. */
  readonly fleetProcesses: number;
  readonly startMs: number;
}

/** What the cluster saw since the last reset. */
export interface ClusterCounters {
  readonly ipamdRequests: number;
  /** With fleet shards, the sum of each shard's peak: an upper bound of the fleet's peak. */
  readonly ipamdPeakInFlight: number;
  readonly ipamdConnectionsAccepted: number;
  readonly kubeLists: number;
  /** Watch requests opened. */
  readonly kubeWatches: number;
  /** Watch events written (bookmarks included). */
  readonly kubeWatchEvents: number;
  readonly kubeProxies: number;
  readonly cloudWatchRequests: number;
  readonly cloudWatchDatums: number;
  /** JSON body bytes after decompression, all requests. */
  readonly cloudWatchBodyBytes: number;
  /** Bytes on the wire (Content-Length), all requests. */
  readonly cloudWatchWireBytes: number;
  readonly cloudWatchGzipped: number;
  readonly cloudWatchProtocolErrors: readonly string[];
  /**
   * CPU the simulated cluster used (user + system), in ms, its fleet-shard processes included: it
   * competes with the measured process.
   */
  readonly clusterCpuMs: number;
}

export type ClusterRequest =
  | { readonly type: 'start'; readonly id: number; readonly spec: ClusterSpec }
  | { readonly type: 'counters'; readonly id: number; readonly reset: boolean }
  | { readonly type: 'stop'; readonly id: number }
  /** Changes `count` pods (their aws-node container restarts once more), as one pod update each. */
  | { readonly type: 'churn'; readonly id: number; readonly count: number };

export type ClusterReply =
  | { readonly type: 'started'; readonly id: number; readonly info: ClusterInfo }
  | { readonly type: 'counters'; readonly id: number; readonly counters: ClusterCounters }
  | { readonly type: 'stopped'; readonly id: number }
  | { readonly type: 'churned'; readonly id: number; readonly resourceVersion: number }
  | { readonly type: 'error'; readonly id: number; readonly message: string };

/** Index of the endpoints that hang, for a count and a spacing. */
export function hangingIndexes(count: number, hangEvery: number): number[] {
  if (hangEvery <= 0) return [];
  const offset = Math.floor(hangEvery / 2);
  const indexes: number[] = [];
  for (let i = offset; i < count; i += hangEvery) indexes.push(i);
  return indexes;
}

/** What one fleet-shard process serves: endpoints firstIndex..firstIndex+count-1 of the cluster's fleet. */
export interface FleetShardSpec {
  readonly firstIndex: number;
  readonly count: number;
  /** Endpoints of the whole fleet (ClusterSpec.count). */
  readonly fleetSize: number;
  /** The port every endpoint shares; undefined for the first shard, which finds a free one. */
  readonly port?: number;
  readonly latencyMs: number;
  /** As ClusterSpec.hangEvery, on whole-fleet indexes. */
  readonly hangEvery: number;
  readonly payloadFiles: readonly string[];
  readonly keepAlive: boolean;
}

/** One shard's counters since its last reset; cpuMs is its own process's CPU. */
export interface FleetShardCounters {
  readonly requests: number;
  readonly peakInFlight: number;
  readonly connectionsAccepted: number;
  readonly cpuMs: number;
}

export type FleetShardRequest =
  | { readonly type: 'start'; readonly id: number; readonly spec: FleetShardSpec }
  | { readonly type: 'counters'; readonly id: number; readonly reset: boolean }
  | { readonly type: 'stop'; readonly id: number };

export type FleetShardReply =
  | { readonly type: 'started'; readonly id: number; readonly port: number }
  | { readonly type: 'counters'; readonly id: number; readonly counters: FleetShardCounters }
  | { readonly type: 'stopped'; readonly id: number }
  | { readonly type: 'error'; readonly id: number; readonly message: string };

/** Endpoint i of the fleet never answers (ClusterSpec.hangEvery). */
export function isHanging(index: number, hangEvery: number): boolean {
  return hangEvery > 0 && index % hangEvery === Math.floor(hangEvery / 2);
}

/**
 * Shared set-up of the integration tests (test/integration): a loopback cluster (ipamd fleet, Kubernetes
 * API server, CloudWatch) for the bundled collector, and readers of what the collector printed
 * (`--print`), logged and CloudWatch stored.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { CloudWatchServer, ReceivedDatum, startCloudWatchServer } from './cloudwatch-server';
import { CollectorRun, loopbackCollectorEnv } from './collector-process';
import { IpamdBehaviour, IpamdFleet, fleetKubePods, startIpamdFleet } from './ipamd-fleet';
import { KubeApiServer, startKubeApiServer } from './kube-api-server';

const FIXTURES = path.resolve(__dirname, '..', 'fixtures', 'ipamd');
export const NODE_A = fs.readFileSync(path.join(FIXTURES, 'node-a.prom'), 'utf8');
export const NODE_B = fs.readFileSync(path.join(FIXTURES, 'node-b.prom'), 'utf8');
export const TOKEN = 'loopback-token';
export const CLUSTER_ID = 'faults-cluster';
export const SCRAPE_TIMEOUT_MS = 2000;

/** Cluster gauges of node-a + node-b (test/fixtures/ipamd/README.md). */
export const GAUGES_A_PLUS_B = {
  eniMaxAvailable: 7,
  maxIPAddresses: 83,
  eniAllocated: 5,
  totalIPAddresses: 55,
  assignIPAddresses: 41,
  totalIPv4Prefixes: 0,
  totalAssignedIPv4sPerCidr: 41,
  ipamdActionInProgress: 1,
  minAvailableIPsPerNode: 3,
  // both fixtures serve awscni_build_info{version="v1.20.1"}
  cniVersionCount: 1,
  // The worst node: a holds 17 of 56 IPs, b 24 of 27; b is the fullest (100 × 24 / 27) with 27 − 24 = 3 left.
  maxNodeIPUtilization: (100 * 24) / 27,
  nodesAtIPCapacity: 0,
  minFreeIPCapacityPerNode: 3,
};
/** awscni_assigned_ip_addresses of each fixture node. */
export const ASSIGNED = { a: 17, b: 24 };
/** awscni_add_ip_req_count of each fixture node. */
export const ADD_REQ = { a: 1342, b: 2187 };

/** A fixture payload with its add-IP request counter set to `value`. */
export function withAddReq(payload: string, value: number): string {
  const changed = payload.replace(/^awscni_add_ip_req_count \d+$/m, `awscni_add_ip_req_count ${value}`);
  if (changed === payload && !payload.includes(`awscni_add_ip_req_count ${value}\n`)) {
    throw new Error('payload has no awscni_add_ip_req_count line to change');
  }
  return changed;
}

export interface LoopbackCluster {
  readonly fleet: IpamdFleet;
  readonly kube: KubeApiServer;
  cloudWatch: CloudWatchServer;
  /** Environment of a collector scraping the fleet directly, every second, publishing to cloudWatch. */
  readonly env: Record<string, string>;
  stop(): Promise<void>;
}

export async function startLoopbackCluster(
  payloads: readonly string[],
  behaviours: readonly IpamdBehaviour[] = [],
  extraEnv: Record<string, string> = {},
): Promise<LoopbackCluster> {
  const fleet = await startIpamdFleet({ count: payloads.length, payload: (i) => payloads[i], behaviour: (i) => behaviours[i] ?? 'ok' });
  const kube = await startKubeApiServer({ token: TOKEN, pods: fleetKubePods(fleet) });
  const cloudWatch = await startCloudWatchServer();
  const cluster: LoopbackCluster = {
    fleet,
    kube,
    cloudWatch,
    env: loopbackCollectorEnv({
      KUBECONFIG: kube.writeKubeconfig(),
      AWS_CLUSTER_ID: CLUSTER_ID,
      AWS_ENDPOINT_URL_CLOUDWATCH: cloudWatch.url,
      IPAMD_METRICS_PORT: String(fleet.port),
      SCRAPE_MODE: 'direct',
      // Long enough that a healthy node never times out on a loaded machine; hanging nodes cost it once a cycle.
      SCRAPE_TIMEOUT_MS: String(SCRAPE_TIMEOUT_MS),
      METRIC_UPDATE_INTERVAL: '1',
      ...extraEnv,
    }),
    // cloudWatch is read at stop time: a test may have replaced it by one restarted on the same port.
    stop: () => Promise.all([fleet.close(), kube.close(), cluster.cloudWatch.close()]).then(() => undefined),
  };
  return cluster;
}

/** One datum as `--print` writes it. */
export interface PrintedDatum {
  readonly timestamp: string;
  readonly cluster: string;
  readonly metric: string;
  readonly value: number;
  readonly unit: string;
  /** Dimensions after CLUSTER_ID, when the datum has any. */
  readonly dimensions?: Readonly<Record<string, string>>;
}

/** One cycle's printed datums (they share the cycle's timestamp), in print order. */
export interface PrintedCycle {
  readonly timestampMs: number;
  readonly datums: readonly PrintedDatum[];
  /** metric name → value. */
  readonly values: Readonly<Record<string, number>>;
}

/** Every complete JSON line the collector printed, in order. */
export function printedDatums(run: CollectorRun): PrintedDatum[] {
  const text = run.stdout();
  const complete = text.slice(0, text.lastIndexOf('\n') + 1);
  return complete.split('\n').filter((l) => l !== '').map((l) => JSON.parse(l) as PrintedDatum);
}

/**
 * The printed cycles, oldest first. A cycle that scraped counts as printed once its
 * collectorCycleDuration line (written after the ipamd datums) is in.
 */
export function printedCycles(run: CollectorRun): PrintedCycle[] {
  const byTime = new Map<string, PrintedDatum[]>();
  for (const d of printedDatums(run)) {
    const list = byTime.get(d.timestamp) ?? [];
    list.push(d);
    byTime.set(d.timestamp, list);
  }
  return [...byTime.entries()].map(([timestamp, datums]) => ({
    timestampMs: Date.parse(timestamp),
    datums,
    values: Object.fromEntries(datums.map((d) => [d.metric, d.value])),
  }));
}

/** Waits until `count` cycles that scraped have been printed completely, and returns them all. */
export async function waitForPrintedCycles(run: CollectorRun, count: number, timeoutMs = 10_000): Promise<PrintedCycle[]> {
  let cycles: PrintedCycle[] = [];
  await waitFor(() => {
    cycles = printedCycles(run).filter((c) => 'collectorCycleDuration' in c.values);
    return cycles.length >= count;
  }, timeoutMs, `${count} printed cycles`, () => run.stdout());
  return cycles;
}

/** A reader of `run`'s printed cycles one at a time: each call waits for the next one and returns it. */
export function nextPrintedCycle(run: CollectorRun): () => Promise<PrintedCycle> {
  let seen = 0;
  return async () => {
    const all = await waitForPrintedCycles(run, seen + 1);
    return all[seen++];
  };
}

/** Log lines whose msg is `msg`. */
export function logsNamed(run: CollectorRun, msg: string): Array<Record<string, unknown>> {
  return run.logs().filter((l) => l.msg === msg);
}

/** Waits until the collector has logged `msg` at least `count` times. */
export function waitForLogCount(run: CollectorRun, msg: string, count: number, timeoutMs = 10_000): Promise<unknown> {
  return waitFor(() => logsNamed(run, msg).length >= count, timeoutMs, `${count} log lines '${msg}'`,
    () => run.logs().map((l) => JSON.stringify(l)).join('\n'));
}

/** metricName → value of the datums CloudWatch stored for one cycle timestamp. */
export function storedValuesAt(datums: readonly ReceivedDatum[], timestampMs: number): Record<string, number> {
  return Object.fromEntries(datums
    .filter((d) => d.Timestamp?.getTime() === timestampMs)
    .map((d) => [d.MetricName, d.Value as number]));
}

/** The distinct cycle timestamps CloudWatch stored, oldest first. */
export function storedCycleTimestamps(datums: readonly ReceivedDatum[]): number[] {
  return [...new Set(datums.map((d) => d.Timestamp!.getTime()))].sort((a, b) => a - b);
}

/** A printed datum in the shape CloudWatch stores it, to compare the two exactly. */
export function asStored(d: PrintedDatum): ReceivedDatum {
  return {
    Namespace: 'Kubernetes',
    MetricName: d.metric,
    Unit: d.unit,
    Value: d.value,
    Timestamp: new Date(d.timestamp),
    Dimensions: [
      { Name: 'CLUSTER_ID', Value: d.cluster },
      ...Object.entries(d.dimensions ?? {}).map(([Name, Value]) => ({ Name, Value })),
    ],
  };
}

/** Polls `condition` every 10 ms; the error names what was awaited and, if given, what was seen. */
export async function waitFor(condition: () => boolean, timeoutMs: number, what: string, seen?: () => string): Promise<void> {
  const giveUpAt = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > giveUpAt) throw new Error(`waited ${timeoutMs} ms for ${what}${seen ? `; seen:\n${seen()}` : ''}`);
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}

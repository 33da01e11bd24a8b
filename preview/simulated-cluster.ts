/**
 * A simulated cluster run through the real collector: three ipamd endpoints on 127.0.0.x serving the
 * project's fixture payloads (test/fixtures/ipamd: node-a, node-b, node-prefix), a loopback Kubernetes
 * API server listing their aws-node pods, and a loopback CloudWatch decoding the SDK's PutMetricData.
 * The bundle (dist/collector.js) runs with a one-second interval; between cycles the payloads change as
 * pods come and go (SCENARIO), so gauges move and counters count. What CloudWatch stored is the result.
 */
import type { ReceivedDatum } from '../test/support/cloudwatch-server';
import { startCollector } from '../test/support/collector-process';
import { startLoopbackCluster, waitFor } from '../test/support/loopback-cluster';
import * as fs from 'node:fs';
import * as path from 'node:path';

const FIXTURES = path.resolve(__dirname, '..', 'test', 'fixtures', 'ipamd');

/**
 * Per node, per cycle, the value of a sample line (named as it appears in the payload, labels included).
 * Cycle 0 is the fixture as it is. Pods are added and deleted so that on every node the change in
 * assigned IPs equals add requests minus PodDeleted requests; node-a attaches a third ENI in cycle 2
 * and releases it in cycle 5; node-b, full, fails to get IPs from its subnet in cycles 3 and 4.
 */
export const SCENARIO: ReadonlyArray<{ readonly fixture: string; readonly samples: Readonly<Record<string, readonly number[]>> }> = [
  {
    fixture: 'node-a.prom',
    samples: {
      'awscni_assigned_ip_addresses': [17, 21, 25, 27, 23, 20],
      'awscni_total_ip_addresses': [28, 28, 42, 42, 42, 28],
      'awscni_eni_allocated': [2, 2, 3, 3, 3, 2],
      'awscni_add_ip_req_count': [1342, 1348, 1354, 1357, 1358, 1359],
      'awscni_del_ip_req_count{reason="PodDeleted"}': [1323, 1325, 1327, 1328, 1333, 1337],
      'awscni_aws_api_latency_ms_count{api="GetMetadata",error="false",status="200"}': [15408, 15438, 15468, 15498, 15528, 15558],
      'awscni_aws_api_latency_ms_sum{api="GetMetadata",error="false",status="200"}': [3311.905627, 3319.4, 3329.9, 3337.1, 3349.6, 3356.2],
    },
  },
  {
    fixture: 'node-b.prom',
    samples: {
      'awscni_assigned_ip_addresses': [24, 25, 26, 27, 27, 26],
      'awscni_add_ip_req_count': [2187, 2188, 2189, 2190, 2190, 2190],
      'awscni_del_ip_req_count{reason="PodDeleted"}': [2158, 2158, 2158, 2158, 2158, 2159],
      'awscni_aws_api_error_count{api="AssignPrivateIpAddresses",error="InsufficientFreeAddressesInSubnet"}': [2, 2, 2, 5, 6, 6],
      'awscni_ipamd_error_count{fn="increaseIPPoolAllocIPAddressesFailed"}': [2, 2, 2, 4, 5, 7],
      'awscni_no_available_ip_addresses': [4, 4, 4, 7, 9, 9],
    },
  },
  {
    fixture: 'node-prefix.prom',
    samples: {
      'awscni_assigned_ip_addresses': [23, 30, 38, 41, 36, 33],
      'awscni_add_ip_req_count': [318, 325, 333, 336, 337, 337],
      'awscni_del_ip_req_count{reason="PodDeleted"}': [295, 295, 295, 295, 301, 304],
      // Its pods' IPs come from three /28 prefixes (16 IPs each), filled in order.
      'awscni_assigned_ip_per_cidr{cidr="10.0.96.16/28"}': [14, 16, 16, 16, 16, 16],
      'awscni_assigned_ip_per_cidr{cidr="10.0.96.48/28"}': [9, 14, 16, 16, 16, 16],
      'awscni_assigned_ip_per_cidr{cidr="10.0.97.128/28"}': [0, 0, 6, 9, 4, 1],
      'awscni_assigned_ip_per_eni{eni="eni-0b2c3d4e5f6a7b8c9"}': [23, 30, 38, 41, 36, 33],
    },
  },
];
export const SCENARIO_CYCLES = 6;

export interface SimulatedRun {
  /** What CloudWatch stored, in arrival order. */
  readonly datums: readonly ReceivedDatum[];
  /** The timestamps of the collector's cycles, oldest first. */
  readonly cycleTimestamps: readonly number[];
}

export interface SimulatedRunOptions {
  /** The CLUSTER_ID the collector publishes with (the dashboard's). */
  readonly clusterId: string;
  /** CloudWatch namespace the collector publishes to (the dashboard's). */
  readonly namespace: string;
  /** Gives up after this long. @default 40000 */
  readonly timeoutMs?: number;
}

/** The fixture `file` with each sample of `samples` set to its value in `cycle`. */
export function scenarioPayload(file: string, samples: Readonly<Record<string, readonly number[]>>, cycle: number): string {
  let payload = fs.readFileSync(path.join(FIXTURES, file), 'utf8');
  for (const [sample, values] of Object.entries(samples)) {
    const line = new RegExp(`^${escapeRegExp(sample)} \\S+$`, 'm');
    if (!line.test(payload)) throw new Error(`scenario: ${file} has no sample line '${sample}' to change`);
    payload = payload.replace(line, `${sample} ${values[cycle]}`);
  }
  return payload;
}

/** Runs the scenario through dist/collector.js and returns what CloudWatch stored. */
export async function runSimulatedCluster(options: SimulatedRunOptions): Promise<SimulatedRun> {
  const timeoutMs = options.timeoutMs ?? 40_000;
  const payloadsAt = (cycle: number): string[] => SCENARIO.map((node) => scenarioPayload(node.fixture, node.samples, cycle));
  const cluster = await startLoopbackCluster(payloadsAt(0), [], {
    AWS_CLUSTER_ID: options.clusterId,
    CLOUDWATCH_NAMESPACE: options.namespace,
    METRIC_UPDATE_INTERVAL: '1',
  });
  const collector = startCollector([], cluster.env, timeoutMs);
  try {
    const scrapedEveryNode = (cycles: number): boolean =>
      Array.from(cluster.fleet.counters.requestsPerEndpoint).every((requests) => requests >= cycles);
    for (let cycle = 1; cycle < SCENARIO_CYCLES; cycle++) {
      // The payloads of the next cycle go up once every node has been read in this one.
      await waitFor(() => scrapedEveryNode(cycle) || collector.child.exitCode !== null, timeoutMs, `cycle ${cycle} to scrape every node`);
      if (collector.child.exitCode !== null) throw new Error(`the collector exited early; its log:\n${JSON.stringify(collector.logs())}`);
      payloadsAt(cycle).forEach((payload, node) => cluster.fleet.setPayload(node, payload));
    }
    const cyclesStored = (): number => cluster.cloudWatch.datums.filter((d) => d.MetricName === 'collectorCycleDuration').length;
    await waitFor(() => cyclesStored() >= SCENARIO_CYCLES, timeoutMs, `${SCENARIO_CYCLES} cycles in CloudWatch`,
      () => JSON.stringify(collector.logs().slice(-5)));
    collector.child.kill('SIGTERM');
    await collector.exited;
    if (cluster.cloudWatch.protocolErrors.length > 0) {
      throw new Error(`the collector broke CloudWatch's protocol: ${cluster.cloudWatch.protocolErrors.join('; ')}`);
    }
    const datums = [...cluster.cloudWatch.datums];
    const cycleTimestamps = [...new Set(datums
      .filter((d) => d.MetricName === 'collectorCycleDuration')
      .map((d) => d.Timestamp!.getTime()))].sort((a, b) => a - b);
    return { datums, cycleTimestamps: cycleTimestamps.slice(0, SCENARIO_CYCLES) };
  } finally {
    if (collector.child.exitCode === null) collector.child.kill('SIGKILL');
    await cluster.stop();
  }
}

function escapeRegExp(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}

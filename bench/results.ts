/**
 * The shape of one benchmark run's results (written as bench/results.json), and the figures
 * derived from them: per-scenario medians, ratios to the baselines, and the targets.
 */
import type { ClusterMode } from './cluster-protocol';
import type { MachineInfo } from './machine';
import type { ParserBench } from './parser-bench';
import type { PrometheusBaseline } from './prometheus-baseline';
import { median } from './stats';
import type { CommandTiming } from './tooling-times';
import type { UpstreamModelResult } from './upstream-model';
import { UPSTREAM_BURST, UPSTREAM_QPS } from './upstream-model';

export interface CollectorRunFigures {
  readonly exitCode?: number;
  readonly signal?: string;
  readonly timedOut: boolean;
  /** The collector's own cycle figure: discovery through aggregation. */
  readonly cycleMs?: number;
  /** Spawn to exit: Node start, bundle load, cycle, publish, exit. */
  readonly processWallMs: number;
  readonly cpuMs?: number;
  readonly maxRssMiB?: number;
  readonly nodesOk?: number;
  readonly nodesFailed?: number;
  readonly datums?: number;
  readonly cloudWatchRequests: number;
  readonly cloudWatchWireBytes: number;
  readonly cloudWatchBodyBytes: number;
  readonly ipamdRequests: number;
  readonly ipamdPeakInFlight: number;
  /** CPU of the simulated cluster process during the run (it shares the 2 cores). */
  readonly clusterCpuMs: number;
  /** 1-minute load average when the run started (other jobs on the machine slow it down). */
  readonly load1: number;
  readonly warnings: readonly string[];
  readonly failure?: string;
}

export interface CollectorScenario {
  readonly nodes: number;
  readonly mode: ClusterMode;
  readonly concurrency: number;
  readonly hanging: number;
  readonly runs: readonly CollectorRunFigures[];
}

/** A long-running collector (a cycle every interval) measured after warm-up. */
export interface SteadyScenario {
  readonly nodes: number;
  readonly mode: ClusterMode;
  readonly concurrency: number;
  readonly hanging: number;
  readonly intervalSeconds: number;
  readonly cycles: number;
  readonly cpuMsPerCycle: number;
  readonly cpuMsPerNodePerCycle: number;
  readonly cycleMs: readonly number[];
  readonly peakRssMiB?: number;
  /** PutMetricData requests over the whole run (warm-up included) per cycle. */
  readonly cloudWatchRequestsPerCycle: number;
  readonly clusterCpuMs: number;
  readonly load1: number;
  readonly error?: string;
}

export interface UpstreamScenario {
  readonly nodes: number;
  readonly hanging: number;
  readonly boundMs: number;
  readonly timedOut: boolean;
  readonly processWallMs: number;
  readonly result?: UpstreamModelResult;
  /** Proxy requests the API server received before the end (or the bound). */
  readonly nodesRequested: number;
  readonly cpuMs?: number;
  readonly maxRssMiB?: number;
  readonly cloudWatchRequests: number;
  readonly error?: string;
}

export interface ProfileFigures {
  readonly scenario: string;
  readonly text: string;
}

export interface BenchResults {
  readonly command: string;
  readonly startedAt: string;
  readonly durationMs: number;
  readonly machine: MachineInfo;
  readonly options: Record<string, unknown>;
  readonly bundle?: { readonly path: string; readonly sha256: string; readonly bytes: number };
  readonly payloadFiles: readonly string[];
  /** Set when ../shared fixtures were missing and test/fixtures were used instead. */
  readonly payloadFallback: boolean;
  readonly clusterNiceness: number;
  readonly collector: readonly CollectorScenario[];
  readonly steady: readonly SteadyScenario[];
  readonly profile?: ProfileFigures;
  readonly upstream: readonly UpstreamScenario[];
  readonly prometheusVersion?: string;
  readonly prometheus: readonly PrometheusBaseline[];
  readonly parser?: ParserBench;
  readonly synth?: CommandTiming;
  readonly npmTest?: CommandTiming;
  /** Stages that failed, with the reason; the other stages still ran. */
  readonly errors: readonly string[];
}

/** Medians over a scenario's successful runs. */
export interface ScenarioSummary {
  readonly scenario: CollectorScenario;
  readonly ok: number;
  readonly cycleMs: number;
  readonly processWallMs: number;
  readonly cpuMs: number;
  readonly cpuMsPerNode: number;
  readonly maxRssMiB: number;
  readonly cloudWatchRequests: number;
  readonly cloudWatchWireBytes: number;
  readonly clusterCpuMs: number;
  readonly load1: number;
  readonly cycleRange: readonly [number, number];
}

export function summarize(scenario: CollectorScenario): ScenarioSummary {
  const ok = scenario.runs.filter((r) => r.exitCode === 0 && r.cycleMs !== undefined);
  const pick = (f: (r: CollectorRunFigures) => number | undefined): number => median(ok.map(f).filter((v): v is number => v !== undefined));
  const cycles = ok.map((r) => r.cycleMs as number);
  return {
    scenario,
    ok: ok.length,
    cycleMs: pick((r) => r.cycleMs),
    processWallMs: pick((r) => r.processWallMs),
    cpuMs: pick((r) => r.cpuMs),
    cpuMsPerNode: pick((r) => (r.cpuMs === undefined ? undefined : r.cpuMs / scenario.nodes)),
    maxRssMiB: pick((r) => r.maxRssMiB),
    cloudWatchRequests: pick((r) => r.cloudWatchRequests),
    cloudWatchWireBytes: pick((r) => r.cloudWatchWireBytes),
    clusterCpuMs: pick((r) => r.clusterCpuMs),
    load1: median(scenario.runs.map((r) => r.load1)),
    cycleRange: [cycles.length ? Math.min(...cycles) : NaN, cycles.length ? Math.max(...cycles) : NaN],
  };
}

/**
 * CPU per node that grows with the cluster: the CPU difference between two sizes over the node
 * difference, which leaves out Node's start and the bundle's load (paid once per process).
 */
export function marginalCpuMsPerNode(small: ScenarioSummary, large: ScenarioSummary): number {
  return (large.cpuMs - small.cpuMs) / (large.scenario.nodes - small.scenario.nodes);
}

/**
 * The upstream model's cycle time, extrapolated: the list and N proxy requests pass a token bucket
 * of UPSTREAM_QPS/s that starts with UPSTREAM_BURST tokens, and each request takes `requestMs` in
 * sequence; whichever is slower sets the pace. Each node that never answers adds `deadNodeMs`.
 */
export function upstreamCycleSeconds(nodes: number, requestMs: number, deadNodes = 0, deadNodeMs = 0): number {
  const requests = nodes + 1;
  const rateLimited = Math.max(0, requests - UPSTREAM_BURST) / UPSTREAM_QPS;
  const sequential = (nodes * requestMs) / 1000;
  return Math.max(rateLimited, sequential) + (deadNodes * deadNodeMs) / 1000;
}

/** Unreachable-node stall of upstream's cycle reported in aws/amazon-vpc-cni-k8s #2091 and #1912. */
export const UPSTREAM_DEAD_NODE_MS = 130_000;

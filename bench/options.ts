/**
 * Command-line options of `npm run bench`, with the scenario as the defaults.
 *
 *   npm run bench -- --sizes 100,1000 --modes proxy --skip npm-test
 */
import type { ClusterMode } from './cluster-protocol';

export const STAGES = ['collector', 'steady', 'profile', 'upstream', 'prometheus', 'parser', 'synth', 'npm-test'] as const;
export type Stage = (typeof STAGES)[number];

export interface BenchOptions {
  /** Cluster sizes (nodes) the collector runs against. */
  readonly sizes: readonly number[];
  readonly modes: readonly ClusterMode[];
  /** SCRAPE_CONCURRENCY values to run; 64 is the collector's default. */
  readonly concurrency: readonly number[];
  /** Collector runs per scenario (a fresh process each). */
  readonly repeats: number;
  readonly latencyMs: number;
  /** Share of endpoints that never answer, in percent (e.g. 1). */
  readonly hangPercent: number;
  /** SCRAPE_TIMEOUT_MS of the collector and scrape_timeout of Prometheus. */
  readonly timeoutMs: number;
  /** Long-running collector (no --once): seconds between cycles, warm-up and measured cycles. */
  readonly steadyIntervalSeconds: number;
  readonly steadyWarmupCycles: number;
  readonly steadyCycles: number;
  /** Sizes the upstream model runs at (it takes about N / 20 seconds). */
  readonly upstreamSizes: readonly number[];
  /** Bound of the upstream model's stall demonstration (one hanging node, no timeout). */
  readonly upstreamStallBoundMs: number;
  readonly prometheusSizes: readonly number[];
  readonly prometheusIntervalSeconds: number;
  readonly prometheusWarmupRounds: number;
  readonly prometheusRounds: number;
  /** Keep every family in Prometheus instead of the catalog's (metric_relabel_configs). */
  readonly prometheusKeepAll: boolean;
  /** aws-node pods as EKS returns them (about 9 KB each); false for the bare test pods. */
  readonly realisticPods: boolean;
  /**
   * Direct mode: listening endpoints per process of the simulated cluster; a bigger fleet is served
   * by fleet-shard processes. Undefined: as many as the soft open-file limit leaves room for.
   */
  readonly fleetMaxPerProcess?: number;
  readonly stages: ReadonlySet<Stage>;
  /** Build the collector bundle first (npm run build:collector); off to measure dist/collector.js as it is. */
  readonly build: boolean;
  /** Measure this bundle instead of dist/collector.js (e.g. a proposed change, for a before/after). */
  readonly bundle?: string;
  /** Extra `node` flags for every collector run, e.g. --max-old-space-size=128 to stand in for a container's memory limit. */
  readonly collectorNodeFlags: readonly string[];
  /** Markdown results, relative to the repository root. */
  readonly out: string;
  /** Raw results as JSON, relative to the repository root. */
  readonly json: string;
}

export const DEFAULT_OPTIONS: BenchOptions = {
  sizes: [100, 1000, 10000],
  modes: ['direct', 'proxy'],
  concurrency: [64, 256],
  repeats: 3,
  latencyMs: 20,
  hangPercent: 1,
  timeoutMs: 2000,
  steadyIntervalSeconds: 5,
  steadyWarmupCycles: 2,
  steadyCycles: 3,
  upstreamSizes: [100, 1000],
  upstreamStallBoundMs: 20_000,
  prometheusSizes: [100, 1000, 10000],
  prometheusIntervalSeconds: 5,
  prometheusWarmupRounds: 2,
  prometheusRounds: 4,
  prometheusKeepAll: false,
  realisticPods: true,
  stages: new Set(STAGES),
  build: true,
  collectorNodeFlags: [],
  out: 'bench/RESULTS.md',
  json: 'bench/results.json',
};

export const USAGE = `usage: npm run bench -- [options]
  --sizes 100,1000,10000        nodes in the simulated cluster for the collector runs
  --modes direct,proxy          SCRAPE_MODE values to run
  --concurrency 64,256          SCRAPE_CONCURRENCY values to run (64 is the default)
  --repeats 3                   collector runs per scenario
  --latency-ms 20               ipamd answer delay
  --hang-percent 1              share of endpoints that never answer
  --timeout-ms 2000             per-node scrape timeout (collector and Prometheus)
  --steady-interval 5           METRIC_UPDATE_INTERVAL of the long-running (steady) collector runs
  --steady-warmup-cycles 2      cycles before its CPU window opens
  --steady-cycles 3             cycles in its CPU window
  --upstream-sizes 100,1000     sizes for the upstream MODEL (about N/20 s each); empty to skip
  --upstream-stall-bound-ms 20000
  --prometheus-sizes 100,1000,10000
  --prometheus-interval 5       seconds between Prometheus scrape rounds
  --prometheus-warmup-rounds 2
  --prometheus-rounds 4         rounds in the measured window
  --prometheus-keep-all         do not drop non-catalog families in Prometheus
  --fleet-max-per-process N     direct mode: ipamd endpoints per process before the fleet is split over
                                shard processes (default: the soft open-file limit less 2,048)
  --plain-pods                  serve bare test pods (about 0.5 KB) instead of realistic aws-node pods (about 9 KB)
  --only a,b / --skip a,b       stages: ${STAGES.join(', ')}
  --no-build                    measure dist/collector.js as it is (default: npm run build:collector first)
  --bundle <file.js>            measure this collector bundle instead (implies --no-build)
  --collector-node-flags "<f>"  extra node flags for the collector, e.g. "--max-old-space-size=128"
  --out bench/RESULTS.md        --json bench/results.json`;

export class OptionsError extends Error {}

export function parseOptions(argv: readonly string[]): BenchOptions | 'help' {
  const o: { -readonly [K in keyof BenchOptions]: BenchOptions[K] } = { ...DEFAULT_OPTIONS };
  let stages = new Set<Stage>(DEFAULT_OPTIONS.stages);
  for (let i = 0; i < argv.length; i++) {
    const flag = argv[i];
    if (flag === '--help' || flag === '-h') return 'help';
    if (flag === '--no-build') {
      o.build = false;
      continue;
    }
    if (flag === '--plain-pods') {
      o.realisticPods = false;
      continue;
    }
    if (flag === '--prometheus-keep-all') {
      o.prometheusKeepAll = true;
      continue;
    }
    const value = argv[i + 1];
    // Node flags start with '--' themselves; every other value that does is a forgotten value.
    if (value === undefined || (value.startsWith('--') && flag !== '--collector-node-flags')) {
      throw new OptionsError(`${flag} needs a value\n${USAGE}`);
    }
    i++;
    switch (flag) {
      case '--sizes': o.sizes = positiveList(flag, value); break;
      case '--modes': o.modes = modeList(flag, value); break;
      case '--concurrency': o.concurrency = positiveList(flag, value); break;
      case '--repeats': o.repeats = positive(flag, value); break;
      case '--latency-ms': o.latencyMs = nonNegative(flag, value); break;
      case '--hang-percent': o.hangPercent = percent(flag, value); break;
      case '--timeout-ms': o.timeoutMs = positive(flag, value); break;
      case '--steady-interval': o.steadyIntervalSeconds = positive(flag, value); break;
      case '--steady-warmup-cycles': o.steadyWarmupCycles = positive(flag, value); break;
      case '--steady-cycles': o.steadyCycles = positive(flag, value); break;
      case '--upstream-sizes': o.upstreamSizes = value === '' ? [] : positiveList(flag, value); break;
      case '--upstream-stall-bound-ms': o.upstreamStallBoundMs = positive(flag, value); break;
      case '--prometheus-sizes': o.prometheusSizes = value === '' ? [] : positiveList(flag, value); break;
      case '--prometheus-interval': o.prometheusIntervalSeconds = positive(flag, value); break;
      case '--prometheus-warmup-rounds': o.prometheusWarmupRounds = positive(flag, value); break;
      case '--prometheus-rounds': o.prometheusRounds = positive(flag, value); break;
      case '--fleet-max-per-process': o.fleetMaxPerProcess = positive(flag, value); break;
      case '--only': stages = new Set(stageList(flag, value)); break;
      case '--skip': for (const s of stageList(flag, value)) stages.delete(s); break;
      case '--bundle': o.bundle = value; o.build = false; break;
      case '--collector-node-flags': o.collectorNodeFlags = value.split(' ').filter((f) => f !== ''); break;
      case '--out': o.out = value; break;
      case '--json': o.json = value; break;
      default: throw new OptionsError(`unknown option ${flag}\n${USAGE}`);
    }
  }
  return { ...o, stages };
}

function positive(flag: string, value: string): number {
  const n = Number(value);
  if (!Number.isInteger(n) || n < 1) throw new OptionsError(`${flag} must be a positive integer, got '${value}'`);
  return n;
}

function nonNegative(flag: string, value: string): number {
  const n = Number(value);
  if (!Number.isInteger(n) || n < 0) throw new OptionsError(`${flag} must be a whole number of 0 or more, got '${value}'`);
  return n;
}

function percent(flag: string, value: string): number {
  const n = Number(value);
  if (!Number.isFinite(n) || n < 0 || n > 50) throw new OptionsError(`${flag} must be a percentage from 0 to 50, got '${value}'`);
  return n;
}

function positiveList(flag: string, value: string): number[] {
  return value.split(',').map((v) => positive(flag, v.trim()));
}

function modeList(flag: string, value: string): ClusterMode[] {
  return value.split(',').map((v) => {
    const mode = v.trim();
    if (mode !== 'direct' && mode !== 'proxy') throw new OptionsError(`${flag} takes direct and/or proxy, got '${mode}'`);
    return mode;
  });
}

function stageList(flag: string, value: string): Stage[] {
  return value.split(',').map((v) => {
    const stage = v.trim() as Stage;
    if (!STAGES.includes(stage)) throw new OptionsError(`${flag}: unknown stage '${v}'; stages are ${STAGES.join(', ')}`);
    return stage;
  });
}

/**
 * The collector's size for a cluster of a given number of nodes: how many scrapes it keeps in flight,
 * the CPU and memory its container requests and is limited to, and the V8 heap cap under that limit.
 * One rule: the chart (lib/) fills the Deployment from it, and the bench can run the collector as
 * deployed from it. Pure arithmetic on the figures below; no imports but types.
 *
 * Every per-node figure was measured on the project's 2-core machine against the simulated cluster
 * (realistic 9.7 KB aws-node pods, ipamd answering after 20 ms, 1% of nodes never answering), in
 * 2026-11-29's runs: bench/FINDINGS.md "Issue 12", bench/RESULTS.md "Issue 12 additions", and the
 * runs named at each figure, e.g. `npm run bench -- --only steady --sizes 10000 --modes proxy
 * --concurrency 64 --timeout-ms 3000 --steady-interval 15 --collector-node-flags "--max-old-space-size=332"`.
 */
import type { IntegerRange } from './limits';
import type { ScrapeMode } from './settings';

/** Cluster sizes the rule is stated for: EKS's largest supported cluster (100,000 nodes) and a margin. */
export const EXPECTED_NODE_COUNT_RANGE: IntegerRange = { min: 1, max: 110_000, unit: 'nodes' };

/**
 * The cluster size assumed when none is given: EKS's largest. Limits and concurrency derived from it
 * hold any supported cluster; requests stay at their floors (see the chart's `expectedNodeCount`).
 */
export const DEFAULT_EXPECTED_NODE_COUNT = 100_000;

/** The measured figures the rule is derived from. */
export const SIZING_FIGURES = {
  /** How long ipamd takes to answer one scrape: the simulated cluster's 20 ms, the latency the bench runs with. */
  ipamdLatencyMs: 20,
  /** Share of nodes that time out each cycle: the 1% the bench and issue 12 assume. */
  deadNodeShare: 0.01,
  /**
   * Collector CPU per node per cycle, proxy mode, under the heap cap this rule sets: 0.34-0.36 ms
   * long-running at 10,000 nodes with `--max-old-space-size=332` (concurrency 64; 3,410 and 3,557 ms a
   * cycle in two runs, 2026-11-29 20:02-20:10, load 2.5-5). With no cap the same run took 0.23 ms,
   * with a 2 GB cap 0.19: under a cap below 2 GB V8 grows its old generation by a smaller factor and collects more often.
   */
  proxyCpuMsPerNode: 0.35,
  /**
   * Direct mode, the same way: 0.47 ms at 10,000 nodes with the 332 MB cap (4,743 ms a cycle); 0.40
   * without it. The connects and the kept-alive sockets cost more than the proxy's few connections.
   */
  directCpuMsPerNode: 0.48,
  /**
   * Peak RSS of the long-running collector at 100 nodes (proxy, concurrency 64): Node, the bundle and
   * its clients before any cluster-sized state. Measured 140 MiB (148 direct), 2026-11-29 19:41.
   */
  baseMemoryMiB: 140,
  /**
   * Memory per node: peak RSS grew 5.7 KiB a node from 1,000 to 10,000 nodes (171 MiB at 19:41 → 221
   * MiB, `--once`, c=64) and 1.5 KiB a node from 10,000 to 100,000 (221 → 353 MiB). The steeper slope, rounded up, so
   * that at 100,000 nodes the heap cap is about twice the 256 MB under which the collector spent half
   * its CPU in garbage collection (100,000 nodes, c=256: 361 MiB RSS but 0.54 ms of CPU a node, not 0.27).
   */
  memoryKiBPerNode: 6,
  /**
   * Memory per scrape in flight (response buffer, gunzip, parse): peak RSS at 10,000 nodes rose from
   * 221-225 MiB at concurrency 64 to 254-262 MiB at 256, about 0.17-0.19 MiB per extra scrape. Rounded up.
   */
  memoryMiBPerScrape: 0.2,
  /**
   * Direct mode keeps a connection to each node between cycles up to 10,000 nodes
   * (runtime/scrape.ts DIRECT_KEEP_ALIVE_MAX_NODES); an idle kept-alive socket measured 8.5 KiB of RSS
   * (bench/idle-socket-cost.ts, 5,000 sockets).
   */
  directKeptAliveNodes: 10_000,
  memoryKiBPerKeptAliveSocket: 8.5,
  /**
   * A scrape worker's memory at the sizes that get workers: each isolate grows its own young
   * generation (3 × the 32 MiB semi-space) and old generation. At 100,000 nodes, proxy, the chart's
   * heap settings: peak RSS 516 MiB on one thread, 741 MiB with 3 workers, 75 MiB a worker
   * (bench/runs/100k-proxy-w0-semi32.md, 100k-proxy-chart-default.md, 2026-11-29 21:07-21:12). An
   * idle worker costs 13-16.5 MiB (100 nodes). Rounded up.
   */
  memoryMiBPerWorker: 80,
} as const;

/** Bounds and rounding of what the rule derives. */
export const SIZING_BOUNDS = {
  /** The collector's own default concurrency: no cluster gets less than it always had. */
  minScrapeConcurrency: 64,
  /**
   * In proxy mode each scrape in flight is an API server request; the collector halves its concurrency
   * on 429 (API priority and fairness), but more than 512 buys no cycle that fits and only crowds the
   * API server's seats (its default is 400 read requests in flight per instance).
   */
  maxScrapeConcurrency: 512,
  /** Share of the interval a cycle may take: the other half is slack for slow nodes, GC and publishing. */
  cycleShareOfInterval: 0.5,
  /** The chart's requests before sizing, kept as floors: a small cluster requests what it always did. */
  minCpuRequestMillicores: 50,
  minMemoryRequestMiB: 64,
  /** The chart's limits before sizing, kept as floors: one CPU and 512 MiB measured enough for 10,000 nodes. */
  minCpuLimitMillicores: 1000,
  minMemoryLimitMiB: 512,
  /**
   * One thread scrapes unless SCRAPE_WORKERS spreads the nodes over worker threads, one a CPU; beyond
   * 4 CPUs the pod proxy (in proxy mode) or the nodes' latency bound a cycle, not CPU.
   */
  maxCpuLimitMillicores: 4000,
  /** Scrape workers: one per CPU of the limit, so at most 4. */
  maxScrapeWorkers: 4,
  cpuStepMillicores: 10,
  memoryRequestStepMiB: 16,
  memoryLimitStepMiB: 64,
  /**
   * The V8 heap's share of the memory limit (`--max-old-space-size`): the rest is for what lives
   * outside the heap (socket and zlib buffers, code, the runtime), about 105 MiB at 100,000 nodes
   * (361 MiB RSS with a 256 MB heap). The cap costs CPU (see proxyCpuMsPerNode): V8 grows a capped
   * heap by a smaller factor. It is kept because without it V8 may size its heap up to about the
   * container's limit (reported in nodejs/node#64646), leaving no room for what lives outside it.
   */
  heapShareOfMemoryLimit: 0.65,
  /**
   * `--max-semi-space-size` beside the heap cap. Under a cap V8 also sizes its young generation
   * small, and the collector's short-lived garbage (a payload's text and samples per scrape) then
   * costs scavenges and promotions: long-running, 10,000 nodes, proxy, c=64, cap 332 (bench/runs/
   * 10k-c64-*.md, 2026-11-29 20:53-20:56): V8's own 16 MiB 0.323-0.327 ms of CPU a node and
   * 178-179 MiB; 32 MiB 0.242 ms and 203 MiB; no cap at all 0.195 ms and 250 MiB.
   */
  semiSpaceMiB: 32,
} as const;

/** What the rule needs to know about the deployment. */
export interface SizingInput {
  /** Nodes in the cluster (aws-node pods the collector scrapes). */
  readonly nodes: number;
  readonly intervalSeconds: number;
  readonly scrapeTimeoutMs: number;
  readonly scrapeMode: ScrapeMode;
  /** Scrapes in flight when fixed by the user; otherwise the rule derives them. */
  readonly scrapeConcurrency?: number;
  /** Scrape worker threads when fixed by the user; otherwise the rule derives them. */
  readonly scrapeWorkers?: number;
}

/** The collector's size. CPU in millicores, memory in MiB (Kubernetes `m` and `Mi`), heap in MB as V8 counts it. */
export interface CollectorSizing {
  readonly scrapeConcurrency: number;
  /** SCRAPE_WORKERS: 0 while one thread does a cycle's CPU in its share of the interval, else one per CPU needed. */
  readonly scrapeWorkers: number;
  readonly cpuRequestMillicores: number;
  readonly cpuLimitMillicores: number;
  readonly memoryRequestMiB: number;
  readonly memoryLimitMiB: number;
  /** `--max-old-space-size`: V8 counts it in MiB too (its "MB" is 2^20 bytes). */
  readonly maxOldSpaceSizeMiB: number;
}

/**
 * Scrapes in flight so that a cycle's waiting fits its share of the interval: each node costs one
 * ipamd answer and each dead node one timeout, spread over the scrapes in flight.
 */
export function scrapeConcurrencyFor(nodes: number, intervalSeconds: number, scrapeTimeoutMs: number): number {
  const waitMs = nodes * SIZING_FIGURES.ipamdLatencyMs + nodes * SIZING_FIGURES.deadNodeShare * scrapeTimeoutMs;
  const budgetMs = intervalSeconds * 1000 * SIZING_BOUNDS.cycleShareOfInterval;
  return clamp(Math.ceil(waitMs / budgetMs), SIZING_BOUNDS.minScrapeConcurrency, SIZING_BOUNDS.maxScrapeConcurrency);
}

/** The heap cap for a memory limit: the heap's share of it, in whole MiB. */
export function maxOldSpaceSizeFor(memoryLimitMiB: number): number {
  return Math.floor(memoryLimitMiB * SIZING_BOUNDS.heapShareOfMemoryLimit);
}

/**
 * The collector's size for `input.nodes` nodes:
 * - concurrency: see scrapeConcurrencyFor;
 * - CPU request: the average use, nodes × CPU per node spread over the interval; CPU limit: enough to
 *   do a cycle's CPU in half the interval (twice the request), never below one CPU;
 * - scrape workers: none while that fits one CPU, else one per CPU it needs (at most 4);
 * - memory limit: base + nodes × memory per node + scrapes in flight × memory per scrape (+ kept-alive
 *   sockets in direct mode), never below 512 MiB; memory request: the part that grows with the
 *   cluster (everything but the base), never below 64 MiB, so small clusters keep today's request;
 *   each scrape worker adds its own memory to both;
 * - heap cap: 65% of the memory limit.
 */
export function sizeCollector(input: SizingInput): CollectorSizing {
  const { nodes, intervalSeconds, scrapeTimeoutMs, scrapeMode } = input;
  const bounds = SIZING_BOUNDS;
  const figures = SIZING_FIGURES;
  const scrapeConcurrency = input.scrapeConcurrency ?? scrapeConcurrencyFor(nodes, intervalSeconds, scrapeTimeoutMs);

  // CPU: millicores are milliseconds of CPU per second.
  const cpuMsPerCycle = nodes * (scrapeMode === 'direct' ? figures.directCpuMsPerNode : figures.proxyCpuMsPerNode);
  const averageMillicores = cpuMsPerCycle / intervalSeconds;
  const cycleMillicores = cpuMsPerCycle / (intervalSeconds * bounds.cycleShareOfInterval);
  const cpuLimitMillicores = clamp(roundUp(cycleMillicores, bounds.cpuStepMillicores), bounds.minCpuLimitMillicores, bounds.maxCpuLimitMillicores);
  const cpuRequestMillicores = clamp(roundUp(averageMillicores, bounds.cpuStepMillicores), bounds.minCpuRequestMillicores, cpuLimitMillicores);
  const scrapeWorkers = input.scrapeWorkers
    ?? (cycleMillicores <= 1000 ? 0 : Math.min(Math.ceil(cycleMillicores / 1000 - 1e-9), bounds.maxScrapeWorkers));

  // Memory.
  const keptAliveSockets = scrapeMode === 'direct' ? Math.min(nodes, figures.directKeptAliveNodes) : 0;
  const growingMiB = (nodes * figures.memoryKiBPerNode + keptAliveSockets * figures.memoryKiBPerKeptAliveSocket) / 1024
    + scrapeConcurrency * figures.memoryMiBPerScrape + scrapeWorkers * figures.memoryMiBPerWorker;
  const memoryLimitMiB = Math.max(roundUp(figures.baseMemoryMiB + growingMiB, bounds.memoryLimitStepMiB), bounds.minMemoryLimitMiB);
  const memoryRequestMiB = clamp(roundUp(growingMiB, bounds.memoryRequestStepMiB), bounds.minMemoryRequestMiB, memoryLimitMiB);

  return {
    scrapeConcurrency,
    scrapeWorkers,
    cpuRequestMillicores,
    cpuLimitMillicores,
    memoryRequestMiB,
    memoryLimitMiB,
    maxOldSpaceSizeMiB: maxOldSpaceSizeFor(memoryLimitMiB),
  };
}

/** Up to the next multiple of `step` (a value already on a multiple stays). */
function roundUp(value: number, step: number): number {
  // The epsilon keeps 0.2 × 320 = 64.00000000000001 from rounding a whole step up.
  return Math.ceil(value / step - 1e-9) * step;
}

function clamp(value: number, min: number, max: number): number {
  return Math.min(Math.max(value, min), max);
}

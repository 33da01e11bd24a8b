/**
 * Memory under a label-churning node (issue 11): every cycle, `NODES` ordinary nodes serve
 * node-a.prom and one hostile node serves a payload (about 3 MB, inside the 4 MiB scrape cap) whose
 * counter series all carry labels never seen before. Each payload is parsed as the collector does,
 * then added to the aggregator. Heap (after a full GC) and RSS are printed every 10 cycles.
 *
 *   node --expose-gc --require tsx/cjs bench/aggregator-churn.ts [cycles] [--old=path/to/aggregate.ts]
 *
 * `--old` loads another aggregator module with the former batch API (`aggregate(results, time)`),
 * for a before/after comparison, e.g. `git show 724516f:runtime/aggregate.ts` saved under bench/work
 * (with its imports pointed at ../../common and ../../runtime).
 *
 * Recorded 2026-11-29 on the 2-core machine shared with other jobs, 201 nodes, 40,000 churning series:
 * - this aggregator, 200 cycles: heap after GC 7.2-7.4 MB from cycle 10 to 200, RSS 109-153 MB,
 *   peak RSS 188.6 and 193.7 MB in two runs (the parser's 3 MB payloads in flight); 40,000 series dropped
 *   and counted a cycle.
 * - the former one (724516f), 60 cycles: heap after GC 206 MB at cycle 10, 414 at 20, 623 at 30,
 *   644 MB from 40 on (its 32 cached layouts of 40,000 series); RSS 1,200-1,230 MB.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { SCRAPED_FAMILIES } from '../common/catalog';
import { ClusterAggregator } from '../runtime/aggregate';
import { parseExposition } from '../runtime/parse';
import type { AwsNodePod, ClusterDatum, NodeScrapeResult } from '../runtime/types';

const NODES = 200;
const CHURN_SERIES = 40_000;
const cycles = Number(process.argv.slice(2).find((a) => /^\d+$/.test(a)) ?? 200);
const oldPath = process.argv.slice(2).find((a) => a.startsWith('--old='))?.slice(6);

const NODE_A = fs.readFileSync(path.resolve(__dirname, '..', 'test', 'fixtures', 'ipamd', 'node-a.prom'), 'utf8');

function churnPayload(cycle: number): string {
  const lines = ['# TYPE awscni_eni_max gauge', 'awscni_eni_max 4', '# TYPE awscni_aws_utils_error_count counter'];
  for (let i = 0; i < CHURN_SERIES; i++) {
    lines.push(`awscni_aws_utils_error_count{error="operation error EC2: cycle ${cycle} series ${i}",fn="AllocENIDeleteErr"} ${i}`);
  }
  return lines.join('\n') + '\n';
}

const pods: AwsNodePod[] = Array.from({ length: NODES + 1 }, (_, i) => ({
  podName: `aws-node-${i}`, namespace: 'kube-system', nodeName: `node-${i}`, startTimeMs: Date.UTC(2026, 0, 1),
}));

type RunCycle = (results: () => Iterable<NodeScrapeResult>, cycleTime: Date) => ClusterDatum[];

function runner(): RunCycle {
  if (oldPath) {
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    const { ClusterAggregator: Old } = require(path.resolve(oldPath)) as { ClusterAggregator: new () => { aggregate(r: NodeScrapeResult[], t: Date): ClusterDatum[] } };
    const old = new Old();
    return (results, cycleTime) => old.aggregate([...results()], cycleTime);
  }
  const aggregator = new ClusterAggregator();
  return (results, cycleTime) => {
    const cycle = aggregator.startCycle(pods, cycleTime);
    for (const r of results()) cycle.add(r);
    return cycle.finish();
  };
}

function* results(cycle: number): Iterable<NodeScrapeResult> {
  for (let i = 0; i < NODES; i++) yield { ok: true, pod: pods[i], metrics: parseExposition(NODE_A, SCRAPED_FAMILIES), durationMs: 1 };
  yield { ok: true, pod: pods[NODES], metrics: parseExposition(churnPayload(cycle), SCRAPED_FAMILIES), durationMs: 1 };
}

const gc = (globalThis as { gc?: () => void }).gc;
if (!gc) throw new Error('run with node --expose-gc (see the header)');
const run = runner();
const mb = (bytes: number): number => Math.round((bytes / 1024 / 1024) * 10) / 10;
let peakRss = 0;
const started = Date.now();
for (let cycle = 0; cycle < cycles; cycle++) {
  const datums = run(() => results(cycle), new Date(Date.UTC(2026, 0, 1, 1, 0, cycle)));
  peakRss = Math.max(peakRss, process.memoryUsage().rss);
  if (cycle % 10 === 9 || cycle === 0) {
    gc();
    const memory = process.memoryUsage();
    const dropped = datums.find((d) => d.metricName === 'collectorSeriesDropped')?.value ?? 0;
    console.log(JSON.stringify({ cycle: cycle + 1, heapUsedMb: mb(memory.heapUsed), rssMb: mb(memory.rss), peakRssMb: mb(peakRss), seriesDropped: dropped }));
  }
}
console.log(JSON.stringify({ aggregator: oldPath ?? 'runtime/aggregate.ts', cycles, nodes: NODES + 1, churnSeries: CHURN_SERIES, seconds: (Date.now() - started) / 1000, peakRssMb: mb(peakRss) }));

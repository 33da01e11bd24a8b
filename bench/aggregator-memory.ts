/**
 * Heap the aggregator holds per node between cycles: N nodes (alternating the two upstream ipamd
 * fixtures) folded for three cycles, then the heap that clearing the nodes' states releases.
 *
 *   node --expose-gc --import tsx bench/aggregator-memory.ts [nodes] [--module=path/to/aggregate.ts]
 *
 * `--module` measures another aggregator with the same API (e.g. `git show a55a38c:runtime/aggregate.ts`
 * saved under bench/work with its imports pointed at ../../common and ../../runtime), for a before/after.
 * Recorded 2026-11-29 at 100,000 nodes: a55a38c (a map and an array per family) 1,716 B of heap and
 * 352 B outside it per node (197 MiB in all); packed states (one array per node, layouts-by-slot
 * shared) 541 + 240 B per node (74.5 MiB).
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { SCRAPED_FAMILIES } from '../common/catalog';
import { parseExposition } from '../runtime/parse';
import type { AwsNodePod, NodeScrapeResult } from '../runtime/types';

const args = process.argv.slice(2);
const nodes = Number(args.find((a) => !a.startsWith('--')) ?? 100_000);
const modulePath = args.find((a) => a.startsWith('--module='))?.slice('--module='.length) ?? path.join(__dirname, '../runtime/aggregate.ts');
const gc = (globalThis as { gc?: () => void }).gc;
if (!gc) throw new Error('run with node --expose-gc (see the header)');
if (!Number.isInteger(nodes) || nodes < 1) throw new Error(`nodes must be a positive integer, got ${args[0]}`);

// eslint-disable-next-line @typescript-eslint/no-require-imports
const { ClusterAggregator } = require(path.resolve(modulePath));
const fixtures = ['upstream-cni_test1.prom', 'upstream-cni_test2.prom']
  .map((f) => fs.readFileSync(path.resolve(__dirname, '../../shared/fixtures/ipamd', f), 'utf8'));
const pods: AwsNodePod[] = Array.from({ length: nodes }, (_, i) => ({
  podName: `aws-node-${i}`, namespace: 'kube-system', nodeName: `ip-10-${i >> 16}-${(i >> 8) & 255}-${i & 255}.ec2.internal`,
  startTimeMs: 1, podUid: `uid-${i}`,
}));
const aggregator = new ClusterAggregator();
for (let cycle = 0; cycle < 3; cycle++) {
  const open = aggregator.startCycle(pods, new Date(Date.UTC(2026, 0, 1, 0, cycle)));
  for (let i = 0; i < nodes; i++) {
    const result: NodeScrapeResult = { ok: true, pod: pods[i], metrics: parseExposition(fixtures[i % 2], SCRAPED_FAMILIES), durationMs: 1 };
    open.add(result);
  }
  open.finish();
}
gc();
const held = process.memoryUsage();
(aggregator as unknown as { nodes: Map<string, unknown> }).nodes.clear();
gc();
const released = process.memoryUsage();
const heap = held.heapUsed - released.heapUsed;
const external = held.external - released.external;
console.log(JSON.stringify({
  module: path.relative(process.cwd(), path.resolve(modulePath)), nodes,
  heapMiB: +(heap / 1048576).toFixed(1), heapBytesPerNode: Math.round(heap / nodes),
  externalMiB: +(external / 1048576).toFixed(1), externalBytesPerNode: Math.round(external / nodes),
}));

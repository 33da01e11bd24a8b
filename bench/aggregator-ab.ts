/**
 * Aggregation cost per cycle at 10,000 nodes, this aggregator against a former one in the same
 * process, cycles alternating so that both see the same machine load. Payloads: node-a and node-b,
 * their add-request counter moving each cycle. Prints the median of cycles 3 to 30 of each.
 *
 *   node --require tsx/cjs bench/aggregator-ab.ts --old=bench/work/old-aggregate.ts
 *
 * The former module has the batch API (`aggregate(results, time)`), e.g. `git show
 * 724516f:runtime/aggregate.ts` saved under bench/work with its imports pointed at ../../common and
 * ../../runtime. Recorded 2026-11-29, shared 2-core machine, 4 runs: former 490-725 ms, this one
 * 357-597 ms, the new one faster in every run (by 17-27%).
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { SCRAPED_FAMILIES } from '../common/catalog';
import { parseExposition } from '../runtime/parse';
import { ClusterAggregator as New } from '../runtime/aggregate';
import type { AwsNodePod, NodeScrapeResult } from '../runtime/types';
const oldPath = process.argv.slice(2).find((a) => a.startsWith('--old='))?.slice(6);
if (!oldPath) throw new Error('pass --old=path/to/former/aggregate.ts (see the header)');
// eslint-disable-next-line @typescript-eslint/no-require-imports
const { ClusterAggregator: Old } = require(path.resolve(oldPath));
const N = 10_000;
const A = fs.readFileSync(path.resolve(__dirname, '../test/fixtures/ipamd/node-a.prom'), 'utf8');
const B = fs.readFileSync(path.resolve(__dirname, '../test/fixtures/ipamd/node-b.prom'), 'utf8');
const pods: AwsNodePod[] = Array.from({ length: N }, (_, i) => ({ podName: `p${i}`, namespace: 'kube-system', nodeName: `n${i}`, startTimeMs: 1 }));
const parsed = (c: number) => [A, B].map((t) => parseExposition(t.replace(/^awscni_add_ip_req_count (\d+)$/m, (_m, v) => `awscni_add_ip_req_count ${Number(v) + c}`), SCRAPED_FAMILIES));
const results = (c: number): NodeScrapeResult[] => { const p = parsed(c); return pods.map((pod, i) => ({ ok: true, pod, metrics: p[i % 2], durationMs: 1 })); };
const old = new Old();
const neu = new New();
const t = { old: [] as number[], neu: [] as number[] };
const time = (f: () => void): number => { const t0 = process.hrtime.bigint(); f(); return Number(process.hrtime.bigint() - t0) / 1e6; };
for (let c = 0; c < 30; c++) {
  const r = results(c);
  const when = new Date(Date.UTC(2026, 0, 1, 0, c));
  const runOld = () => old.aggregate(r, when);
  const runNew = () => { const cy = neu.startCycle(pods, when); for (const x of r) cy.add(x); cy.finish(); };
  if (c % 2) { t.old.push(time(runOld)); t.neu.push(time(runNew)); } else { t.neu.push(time(runNew)); t.old.push(time(runOld)); }
}
const med = (a: number[]) => { const s = a.slice(2).sort((x, y) => x - y); return Math.round(s[Math.floor(s.length / 2)]); };
console.log(JSON.stringify({ nodes: N, cycles: 30, oldMedianMs: med(t.old), newMedianMs: med(t.neu) }));

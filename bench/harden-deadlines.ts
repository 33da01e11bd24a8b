/**
 * Figures for the deadline and bound work (issue 11): how long after the stop signal a hanging
 * outside call lets go, how far past its deadline a trickling one ends, and what an API server
 * paging without end costs. Real clients (client-node, the AWS SDK) against the loopback doubles
 * of test/support. Not part of `npm run bench`.
 *
 *   node --expose-gc --import tsx bench/harden-deadlines.ts [runs]
 */
import { KubeConfig } from '@kubernetes/client-node';
import { CloudWatchSink } from '../runtime/cloudwatch-sink';
import { discoverNodes } from '../runtime/discover';
import type { ClusterDatum } from '../runtime/types';
import { createTestCloudWatchClient, startCloudWatchServer } from '../test/support/cloudwatch-server';
import { kubePod, startKubeApiServer } from '../test/support/kube-api-server';

const RUNS = Number(process.argv[2] ?? 20);
const ABORT_AFTER_MS = 200;

function summary(label: string, values: number[]): void {
  const sorted = [...values].sort((a, b) => a - b);
  const at = (q: number): number => sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))];
  process.stdout.write(`${label.padEnd(64)} median ${at(0.5).toFixed(1)} ms, max ${sorted[sorted.length - 1].toFixed(1)} ms (${values.length} runs)\n`);
}

function datums(n: number): ClusterDatum[] {
  const timestamp = new Date();
  return Array.from({ length: n }, (_, i) => ({ metricName: 'eniAllocated', unit: 'Count', value: i, timestamp }));
}

/** Milliseconds from `abortAt` to when `work` settles. */
async function lateness(work: (signal: AbortSignal) => Promise<unknown>, abortAfterMs: number): Promise<number> {
  const controller = new AbortController();
  let abortedAt = 0;
  setTimeout(() => { abortedAt = performance.now(); controller.abort(new Error('stop')); }, abortAfterMs);
  await work(controller.signal).catch(() => undefined);
  return performance.now() - abortedAt;
}

async function cloudWatchFigures(): Promise<void> {
  const server = await startCloudWatchServer({ trickleMs: 2000 });
  const { client } = createTestCloudWatchClient(server.url, { maxAttempts: 1 });
  const sink = new CloudWatchSink({
    clusterId: 'bench', namespace: 'Kubernetes', bufferMaxDatums: 10_000, client, requestTimeoutMs: 10_000,
    baseBackoffMs: 600_000, maxBackoffMs: 600_000,
  });
  const hanging: number[] = [];
  for (let i = 0; i < RUNS; i++) {
    server.faults.push('hang');
    hanging.push(await lateness((signal) => sink.publish(datums(30), signal), ABORT_AFTER_MS));
  }
  summary('PutMetricData that never answers: publish returns after the abort', hanging);
  await sink.stop();

  const trickling: number[] = [];
  for (let i = 0; i < Math.min(RUNS, 5); i++) {
    const timed = new CloudWatchSink({
      clusterId: 'bench', namespace: 'Kubernetes', bufferMaxDatums: 10_000, client, requestTimeoutMs: 1000,
      baseBackoffMs: 600_000, maxBackoffMs: 600_000,
    });
    server.faults.push('trickle');
    const started = performance.now();
    await timed.publish(datums(30));
    trickling.push(performance.now() - started - 1000);
    await timed.stop();
  }
  summary('PutMetricData answering a byte every 2 s: past its 1 s deadline', trickling);
  client.destroy();
  await server.close();
}

async function listFigures(): Promise<void> {
  const api = await startKubeApiServer();
  const kc = new KubeConfig();
  kc.loadFromString(api.kubeconfigYaml);
  const base = { namespace: 'kube-system', labelSelector: 'k8s-app=aws-node', pageSize: 500 };

  api.setListOverride(() => ({ kind: 'hang' }));
  const hanging: number[] = [];
  for (let i = 0; i < RUNS; i++) hanging.push(await lateness((signal) => discoverNodes(kc, { ...base, signal }), ABORT_AFTER_MS));
  summary('pod list page that never answers: discovery rejects after the abort', hanging);

  api.setListOverride(() => ({ kind: 'trickle', pods: [kubePod({ name: 'p', nodeName: 'n', podIP: '10.0.0.1' })], everyMs: 50 }));
  const trickling: number[] = [];
  for (let i = 0; i < Math.min(RUNS, 5); i++) {
    const deadlineMs = Date.now() + 500;
    await discoverNodes(kc, { ...base, deadlineMs }).catch(() => undefined);
    trickling.push(Date.now() - deadlineMs);
  }
  summary('pod list page trickling a byte every 50 ms: past the 500 ms list deadline', trickling);

  const before = api.counters.lists;
  api.setListOverride((call) => ({ kind: 'page', pods: [], continue: call.count % 2 === 0 ? 'A' : 'B' }));
  await discoverNodes(kc, base).catch(() => undefined);
  process.stdout.write(`continue tokens A, B, A, ...: ${api.counters.lists - before} list calls before the list ends\n`);

  // Endless pages of 500 new pods each: the list stops at the pod cap (110,000).
  const gc = (globalThis as { gc?: () => void }).gc;
  gc?.();
  const heapBefore = process.memoryUsage().heapUsed;
  let peakHeap = heapBefore;
  const sampler = setInterval(() => { peakHeap = Math.max(peakHeap, process.memoryUsage().heapUsed); }, 20);
  const listsBefore = api.counters.lists;
  api.setListOverride((call) => ({
    kind: 'page',
    pods: Array.from({ length: 500 }, (_, i) => kubePod({ name: `p-${call.count}-${i}`, nodeName: `n-${call.count}-${i}`, podIP: '10.0.0.1' })),
    continue: `t${call.count}`,
  }));
  const started = performance.now();
  const outcome = await discoverNodes(kc, base).then(() => 'listed', (err: Error) => err.message.slice(0, 80));
  clearInterval(sampler);
  gc?.();
  process.stdout.write(`endless pages of 500 new pods: ${api.counters.lists - listsBefore} list calls in ${(performance.now() - started).toFixed(0)} ms; `
    + `'${outcome}...'; heap peak +${((peakHeap - heapBefore) / 2 ** 20).toFixed(1)} MiB, after +${((process.memoryUsage().heapUsed - heapBefore) / 2 ** 20).toFixed(1)} MiB`
    + `${gc ? '' : ' (run with --expose-gc for the after figure)'}\n`);
  await api.close();
}

async function main(): Promise<void> {
  await cloudWatchFigures();
  await listFigures();
}

main().then(() => process.exit(0), (err: unknown) => {
  process.stderr.write(`${err instanceof Error ? err.stack : String(err)}\n`);
  process.exit(1);
});

/**
 * What discovery costs the collector per cycle: a full paginated pod list every cycle (what the
 * collector does today, discoverNodes) against the watch cache (runtime/pod-cache.ts: one list,
 * then only the changes), against the same simulated cluster of realistic aws-node pods.
 *
 *   node --import tsx bench/discovery-cost.ts [--nodes 10000] [--cycles 5] [--churn 100] [--page-size 500] [--plain-pods]
 *
 * The cluster runs in its own process (bench/cluster-process.ts, nice 10); CPU and heap here are
 * this process's own, that is the collector side only. "churn" pods change between two cycles
 * (their aws-node container restarts once more: one MODIFIED event each), so the cache's cost per
 * cycle is the events it applies plus one snapshot. Run with --expose-gc for the heap figures.
 */
import * as path from 'node:path';
import { KubeConfig } from '@kubernetes/client-node';
import { discoverNodes } from '../runtime/discover';
import { PodCache } from '../runtime/pod-cache';
import { ClusterProcess } from './cluster-client';

const REPO_ROOT = path.resolve(__dirname, '..');

interface Args { nodes: number; cycles: number; churn: number; pageSize: number; realisticPods: boolean }

function parseArgs(argv: readonly string[]): Args {
  const args: Args = { nodes: 10_000, cycles: 5, churn: 100, pageSize: 500, realisticPods: true };
  for (let i = 0; i < argv.length; i++) {
    const flag = argv[i];
    if (flag === '--plain-pods') { args.realisticPods = false; continue; }
    const value = Number(argv[++i]);
    if (!Number.isInteger(value) || value < 0) throw new Error(`${flag} needs a non-negative integer, got '${argv[i]}'`);
    if (flag === '--nodes') args.nodes = value;
    else if (flag === '--cycles') args.cycles = value;
    else if (flag === '--churn') args.churn = value;
    else if (flag === '--page-size') args.pageSize = value;
    else throw new Error(`unknown option ${flag}`);
  }
  return args;
}

const cpuMs = (from: NodeJS.CpuUsage): number => {
  const used = process.cpuUsage(from);
  return (used.user + used.system) / 1000;
};

function heapMiB(): number {
  (globalThis as { gc?: () => void }).gc?.();
  return process.memoryUsage().heapUsed / 2 ** 20;
}

async function until(what: string, condition: () => boolean, timeoutMs: number): Promise<void> {
  const end = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 2));
  }
}

async function main(): Promise<void> {
  const args = parseArgs(process.argv.slice(2));
  const cluster = ClusterProcess.spawn(REPO_ROOT);
  try {
    const info = await cluster.start({
      count: args.nodes, mode: 'proxy', latencyMs: 20, hangEvery: 0,
      payloadFiles: [path.join(REPO_ROOT, 'test/fixtures/ipamd/node-a.prom')], realisticPods: args.realisticPods,
    });
    const kc = new KubeConfig();
    kc.loadFromFile(info.kubeconfigPath);
    const discover = { namespace: 'kube-system', labelSelector: 'k8s-app=aws-node', pageSize: args.pageSize, maxPods: 110_000 };
    const out: string[] = [];
    const line = (text: string): void => {
      out.push(text);
      process.stderr.write(`${text}\n`);
    };
    line(`discovery cost: ${args.nodes} nodes, ${args.realisticPods ? 'realistic (~9 KB)' : 'plain'} pods, page size ${args.pageSize}, ${args.churn} pods changed per cycle, ${args.cycles} cycles`);

    // Today's way: a full list every cycle.
    await discoverNodes(kc, discover); // warm-up: JIT and connections
    await cluster.counters(true);
    const listCycles: { wallMs: number; cpuMs: number; pods: number }[] = [];
    for (let c = 0; c < args.cycles; c++) {
      await cluster.churn(args.churn);
      const cpu = process.cpuUsage();
      const t = performance.now();
      const result = await discoverNodes(kc, discover);
      listCycles.push({ wallMs: performance.now() - t, cpuMs: cpuMs(cpu), pods: result.pods.length });
    }
    const listCounters = await cluster.counters(true);
    const median = (xs: number[]): number => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
    line(`| per-cycle list | wall ms ${median(listCycles.map((c) => c.wallMs)).toFixed(0)} | CPU ms ${median(listCycles.map((c) => c.cpuMs)).toFixed(0)} `
      + `| CPU ms/node ${(median(listCycles.map((c) => c.cpuMs)) / args.nodes).toFixed(4)} | list requests/cycle ${(listCounters.kubeLists / args.cycles).toFixed(1)} `
      + `| API server CPU ms/cycle ${(listCounters.clusterCpuMs / args.cycles).toFixed(0)} (incl. churn) | pods ${listCycles[0]?.pods} |`);

    // The watch cache: one list, then the changes.
    const heapBefore = heapMiB();
    const cache = new PodCache(kc, { ...discover });
    let cpu = process.cpuUsage();
    let t = performance.now();
    cache.start();
    await until('the cache to sync', () => cache.synced && cache.counters.watches >= 1, 300_000);
    line(`| cache: first list + watch | wall ms ${(performance.now() - t).toFixed(0)} | CPU ms ${cpuMs(cpu).toFixed(0)} | cache heap MiB ${(heapMiB() - heapBefore).toFixed(1)} (${cache.size} pods held) |`);
    await cluster.counters(true);
    const cacheCycles: { wallMs: number; cpuMs: number; snapshotMs: number }[] = [];
    for (let c = 0; c < args.cycles; c++) {
      const target = cache.counters.modified + args.churn;
      cpu = process.cpuUsage();
      t = performance.now();
      await cluster.churn(args.churn);
      await until('the churn events', () => cache.counters.modified >= target, 60_000);
      const s = performance.now();
      const pods = cache.snapshot();
      const snapshotMs = performance.now() - s;
      if (pods.length !== args.nodes) throw new Error(`snapshot has ${pods.length} pods, expected ${args.nodes}`);
      cacheCycles.push({ wallMs: performance.now() - t, cpuMs: cpuMs(cpu), snapshotMs });
    }
    const cacheCounters = await cluster.counters(true);
    line(`| cache: per cycle (${args.churn} events + snapshot) | CPU ms ${median(cacheCycles.map((c) => c.cpuMs)).toFixed(1)} `
      + `| CPU ms/node ${(median(cacheCycles.map((c) => c.cpuMs)) / args.nodes).toFixed(5)} | snapshot ms ${median(cacheCycles.map((c) => c.snapshotMs)).toFixed(1)} `
      + `| list requests/cycle ${(cacheCounters.kubeLists / args.cycles).toFixed(1)} | watch events/cycle ${(cacheCounters.kubeWatchEvents / args.cycles).toFixed(0)} `
      + `| API server CPU ms/cycle ${(cacheCounters.clusterCpuMs / args.cycles).toFixed(0)} (incl. churn) |`);
    line(`cache counters: ${JSON.stringify(cache.counters)}`);
    await cache.stop();
    process.stdout.write(`${out.join('\n')}\n`);
  } finally {
    await cluster.close();
  }
}

main().catch((err: unknown) => {
  process.stderr.write(`discovery-cost: ${err instanceof Error ? err.stack : String(err)}\n`);
  process.exit(1);
});

/**
 * The scrape path in one process (fetchText over a keep-alive agent, then parse and aggregate),
 * against a keep-alive server in another process answering the shared ipamd payloads gzipped after
 * 20 ms: CPU per node and what survives the young generation's collections, for each variant.
 * Isolates what the collector's own GC trace shows (bench/gc-ab.ts) from discovery, sinks and the
 * simulated cluster.
 *
 *   node --import tsx bench/scrape-gc-survival.ts [--nodes 10000] [--concurrency 64] [--cycles 5]
 *
 * Each variant runs in a child process under `--max-semi-space-size=32 --max-old-space-size=332
 * --trace-gc-nvp` (the chart's settings at 10,000 nodes); figures are those of the last cycle.
 * The surviving MiB of one variant can differ between runs (collectShare over the Scraper: 7.05 in
 * one run, 1.35 in the next): a run falls into one of two garbage-collector states and stays there
 * (bench/FINDINGS.md); run it twice.
 */
import { spawn, spawnSync } from 'node:child_process';
import * as http from 'node:http';
import { SCRAPED_FAMILIES } from '../common/catalog';
import { ClusterAggregator } from '../runtime/aggregate';
import { collectShare } from '../runtime/collect-share';
import { fetchText } from '../runtime/fetch-text';
import { parseExposition } from '../runtime/parse';
import type { ProxyAuthSource } from '../runtime/proxy-auth';
import { Scraper } from '../runtime/scrape';
import { runPool } from '../runtime/scrape-pool';
import type { AwsNodePod } from '../runtime/types';
import { gcWindow } from './gc-ab';
import { argOption, payloadFiles } from './payload-files';

const SERVER = `
const http = require('http'); const zlib = require('zlib'); const fs = require('fs');
const bodies = process.argv.slice(1).map((f) => zlib.gzipSync(fs.readFileSync(f))); let n = 0;
const server = http.createServer((req, res) => setTimeout(() => {
  const body = bodies[n++ % bodies.length];
  res.writeHead(200, { 'content-type': 'text/plain; version=0.0.4', 'content-encoding': 'gzip', 'content-length': body.length });
  res.end(body);
}, 20));
server.keepAliveTimeout = 60000;
server.listen(0, '127.0.0.1', () => process.stdout.write(String(server.address().port) + '\\n'));
process.stdin.on('end', () => process.exit(0)); process.stdin.resume();`;

const VARIANTS = {
  'fetch, the cycle signal passed': { signal: true, parse: false },
  'fetch, no signal': { signal: false, parse: false },
  'fetch + parse + aggregate, the cycle signal passed': { signal: true, parse: true },
  // The collector's own scrape stage (runtime/collect-share.ts over a proxy-mode Scraper).
  'collectShare over a proxy-mode Scraper': { signal: true, parse: true, scraper: true },
} as const satisfies Record<string, { signal: boolean; parse: boolean; scraper?: boolean }>;
type Variant = keyof typeof VARIANTS;

const option = (name: string, fallback: string): string => argOption(process.argv, name, fallback);

/** Child: the cycles of one variant; prints the last cycle's figures as JSON on stderr. */
async function runVariant(variant: Variant, nodes: number, concurrency: number, cycles: number): Promise<void> {
  const chosen: { signal: boolean; parse: boolean; scraper?: boolean } = VARIANTS[variant];
  const { signal: withSignal, parse } = chosen;
  const { files } = payloadFiles();
  const server = spawn(process.execPath, ['-e', SERVER, ...files], { stdio: ['pipe', 'pipe', 'inherit'] });
  const port = await new Promise<number>((resolve) => server.stdout.once('data', (d: Buffer) => resolve(Number(String(d).trim()))));
  const url = new URL(`http://127.0.0.1:${port}/metrics`);
  // As the scraper's proxy-mode agent: every scrape goes to one host over kept-alive connections.
  const agent = new http.Agent({ keepAlive: true, maxFreeSockets: concurrency, scheduling: 'lifo' });
  const pods: AwsNodePod[] = Array.from({ length: nodes }, (_, i) => ({
    podName: `aws-node-${i}`, namespace: 'kube-system', nodeName: `ip-10-0-${i}.ec2.internal`, startTimeMs: 1,
  }));
  const aggregator = new ClusterAggregator();
  // The API server's pod proxy, played by the server: it answers every path.
  const proxy: ProxyAuthSource = { apiServer: url.origin, read: async () => ({ agent, headers: { authorization: 'Bearer bench' } }), close: () => undefined };
  const scraper = new Scraper(proxy, { mode: 'proxy', port: 61678, timeoutMs: 3000, concurrency, maxBytes: 1 << 22, keep: SCRAPED_FAMILIES });
  let last = { cpuUsPerNode: 0, wallMs: 0 };
  for (let c = 0; c < cycles; c++) {
    const controller = new AbortController();
    const cpu = process.cpuUsage();
    const started = performance.now();
    if (chosen.scraper) {
      await collectShare(scraper, aggregator, pods, new Date(), controller.signal);
      const used = process.cpuUsage(cpu);
      last = { cpuUsPerNode: (used.user + used.system) / nodes, wallMs: performance.now() - started };
      continue;
    }
    const cycle = aggregator.startCycle(pods, new Date());
    await runPool(pods.map((_, i) => i), concurrency, async (i) => {
      const text = await fetchText({ url, agent, headers: {} }, { timeoutMs: 3000, maxBytes: 1 << 22 }, performance.now() + 3000,
        withSignal ? controller.signal : undefined);
      if (parse) cycle.add({ ok: true, pod: pods[i], metrics: parseExposition(text, SCRAPED_FAMILIES), durationMs: 1 });
    });
    cycle.finishPart();
    const used = process.cpuUsage(cpu);
    last = { cpuUsPerNode: (used.user + used.system) / nodes, wallMs: performance.now() - started };
  }
  process.stderr.write(`${JSON.stringify(last)}\n`);
  server.stdin?.end();
  agent.destroy();
}

function main(): void {
  const nodes = Number(option('--nodes', '10000'));
  const concurrency = Number(option('--concurrency', '64'));
  const cycles = Number(option('--cycles', '5'));
  const rows = [
    `${nodes.toLocaleString('en-US')} nodes, concurrency ${concurrency}, ${cycles} cycles, figures of the last one; Node ${process.version}`,
    '| variant | CPU µs per node | scavenges | mean scavenge pause ms | mean MiB surviving a scavenge | mark-compacts |',
    '|---|---:|---:|---:|---:|---:|',
  ];
  for (const variant of Object.keys(VARIANTS) as Variant[]) {
    const child = spawnSync(process.execPath, [
      '--max-semi-space-size=32', '--max-old-space-size=332', '--trace-gc-nvp', '--import', 'tsx', __filename,
      '--child', variant, '--nodes', String(nodes), '--concurrency', String(concurrency), '--cycles', String(cycles),
    ], { encoding: 'utf8', maxBuffer: 1 << 28, timeout: 600_000 });
    const figures = JSON.parse(child.stderr.trim().split('\n').pop() ?? '{}') as { cpuUsPerNode?: number; wallMs?: number };
    if (child.status !== 0 || figures.wallMs === undefined) throw new Error(`variant '${variant}' failed (exit ${child.status}): ${child.stderr.slice(-500)}`);
    const gc = gcWindow(child.stdout, figures.wallMs);
    rows.push(`| ${variant} | ${figures.cpuUsPerNode?.toFixed(1)} | ${gc.scavenges} | ${gc.meanScavengePauseMs.toFixed(2)} | ${gc.meanSurvivedMiB.toFixed(2)} | ${gc.markCompacts} |`);
  }
  process.stdout.write(`${rows.join('\n')}\n`);
}

const childAt = process.argv.indexOf('--child');
if (childAt !== -1) {
  runVariant(process.argv[childAt + 1] as Variant, Number(option('--nodes', '10000')), Number(option('--concurrency', '64')), Number(option('--cycles', '5')))
    .then(() => process.exit(0), (err: unknown) => {
      process.stderr.write(`${err instanceof Error ? err.stack : String(err)}\n`);
      process.exit(1);
    });
} else {
  main();
}

/**
 * Would worker threads take scrape work off the main thread, where the aggregator folds results?
 * Measures the main thread's busy time (event loop utilization) per scrape for:
 *   main:     fetchText + parseExposition on the main thread (the collector today);
 *   workers:  W worker threads each fetching and parsing a share, posting the ParsedMetrics Map
 *             to the main thread (structured clone), which receives it as the aggregator would;
 *   compact:  the same, but posting only the kept samples' values in a transferred Float64Array
 *             plus their series keys as one string (what a compact protocol would cost at best).
 * Against one keep-alive server in another process answering a gzipped ipamd payload.
 *
 *   node --import tsx bench/worker-offload-cost.ts [--requests 20000] [--workers 2] [--concurrency 64]
 */
import { spawn } from 'node:child_process';
import * as fs from 'node:fs';
import * as http from 'node:http';
import * as path from 'node:path';
import { isMainThread, parentPort, Worker, workerData } from 'node:worker_threads';
import { SCRAPED_FAMILIES } from '../common/catalog';
import { fetchText } from '../runtime/fetch-text';
import { parseExposition } from '../runtime/parse';
import { runPool } from '../runtime/scrape-pool';
import type { ParsedMetrics } from '../runtime/types';

const REPO_ROOT = path.resolve(__dirname, '..');

interface Job { port: number; requests: number; concurrency: number; compact: boolean }

async function scrapeShare(job: Job, post: (m: ParsedMetrics) => void): Promise<void> {
  const url = new URL(`http://127.0.0.1:${job.port}/metrics`);
  const agent = new http.Agent({ keepAlive: true, maxSockets: job.concurrency, maxFreeSockets: job.concurrency });
  await runPool(Array.from({ length: job.requests }, (_, i) => i), job.concurrency, async () => {
    const text = await fetchText({ url, agent, headers: {} }, { timeoutMs: 2000, maxBytes: 4 << 20 }, performance.now() + 2000, undefined);
    post(parseExposition(text, SCRAPED_FAMILIES));
  });
  agent.destroy();
}

if (!isMainThread) {
  const job = workerData as Job;
  void scrapeShare(job, (metrics) => {
    if (!job.compact) {
      parentPort?.postMessage(metrics);
      return;
    }
    const keys: string[] = [];
    const values: number[] = [];
    for (const family of metrics.values()) {
      for (const s of family.samples) {
        keys.push(`${s.name}${JSON.stringify(s.labels)}`);
        values.push(s.value);
      }
    }
    const array = Float64Array.from(values);
    parentPort?.postMessage({ keys: keys.join('\n'), values: array }, [array.buffer]);
  }).then(() => parentPort?.postMessage('done'));
}

function argValue(name: string, fallback: string): string {
  const i = process.argv.indexOf(name);
  return i === -1 ? fallback : process.argv[i + 1];
}

async function measure(label: string, requests: number, run: () => Promise<number>): Promise<string> {
  const elu = performance.eventLoopUtilization();
  const cpu = process.cpuUsage();
  const t = performance.now();
  const received = await run();
  const busy = performance.eventLoopUtilization(elu);
  const used = process.cpuUsage(cpu);
  const cpuMs = (used.user + used.system) / 1000;
  if (received !== requests) throw new Error(`${label}: ${received} results for ${requests} requests`);
  return `| ${label} | ${requests} | ${(performance.now() - t).toFixed(0)} | ${busy.active.toFixed(0)} | ${(busy.active / requests).toFixed(4)} | ${cpuMs.toFixed(0)} | ${(cpuMs / requests).toFixed(4)} |`;
}

async function main(): Promise<void> {
  const requests = Number(argValue('--requests', '20000'));
  const workers = Number(argValue('--workers', '2'));
  const concurrency = Number(argValue('--concurrency', '64'));
  const shared = path.join(REPO_ROOT, '../shared/fixtures/ipamd/upstream-cni_test1.prom');
  const file = fs.existsSync(shared) ? shared : path.join(REPO_ROOT, 'test/fixtures/ipamd/node-a.prom');
  const serverCode = `
const http = require('http'); const zlib = require('zlib'); const fs = require('fs');
const body = zlib.gzipSync(fs.readFileSync(process.argv[1]));
const server = http.createServer((req, res) => { res.writeHead(200, { 'content-encoding': 'gzip', 'content-length': body.length }); res.end(body); });
server.keepAliveTimeout = 60000;
server.listen(0, '127.0.0.1', () => process.stdout.write(String(server.address().port) + '\\n'));
process.stdin.on('end', () => process.exit(0)); process.stdin.resume();`;
  const server = spawn(process.execPath, ['-e', serverCode, file], { stdio: ['pipe', 'pipe', 'inherit'] });
  try {
    const port = await new Promise<number>((resolve) => server.stdout.once('data', (d: Buffer) => resolve(Number(String(d).trim()))));
    const inWorkers = (compact: boolean) => async (): Promise<number> => {
      let received = 0;
      await Promise.all(Array.from({ length: workers }, (_, w) => new Promise<void>((resolve, reject) => {
        const share = Math.floor(requests / workers) + (w < requests % workers ? 1 : 0);
        // Node 20 does not pass --import hooks to workers: register tsx in the worker itself.
        const worker = new Worker(`require('tsx/cjs'); require(${JSON.stringify(__filename)});`, {
          eval: true,
          workerData: { port, requests: share, concurrency: Math.ceil(concurrency / workers), compact } satisfies Job,
        });
        worker.on('message', (m: unknown) => {
          if (m === 'done') {
            void worker.terminate().then(() => resolve());
            return;
          }
          received++;
        });
        worker.on('error', reject);
      })));
      return received;
    };
    const rows = [
      `payload ${path.basename(file)}, ${workers} workers, concurrency ${concurrency} in all`,
      '| where | requests | wall ms | main thread busy ms | main busy ms per scrape | process CPU ms | CPU ms per scrape |',
      '|---|---:|---:|---:|---:|---:|---:|',
    ];
    const onMain = async (): Promise<number> => {
      let received = 0;
      await scrapeShare({ port, requests, concurrency, compact: false }, () => { received++; });
      return received;
    };
    await onMain(); // warm-up
    rows.push(await measure('main thread (today)', requests, onMain));
    rows.push(await measure(`${workers} workers, ParsedMetrics posted`, requests, inWorkers(false)));
    rows.push(await measure(`${workers} workers, compact values posted`, requests, inWorkers(true)));
    process.stdout.write(`${rows.join('\n')}\n`);
  } finally {
    server.stdin?.end();
    server.kill();
  }
}

if (isMainThread) {
  main().catch((err: unknown) => {
    process.stderr.write(`worker-offload-cost: ${err instanceof Error ? err.stack : String(err)}\n`);
    process.exit(1);
  });
}

/**
 * The CPU floor of one scrape's HTTP exchange on the collector's side: the collector's own
 * fetchText (node:http, keep-alive agent, gunzip inline) against undici's Pool (if installed), both
 * against one keep-alive server in another process answering a gzipped ipamd payload, as the
 * API server's pod proxy does in proxy mode. Also fetchText + parseExposition, so the parse
 * share shows.
 *
 *   node --import tsx bench/http-client-cost.ts [--requests 20000] [--concurrency 64] [--undici <path to undici>]
 *
 * CPU is this process's (getrusage), so the server's work is not in it. The server gzips only when
 * asked, as promhttp does: the "identity" rows ask for the plain text.
 */
import { spawn } from 'node:child_process';
import * as fs from 'node:fs';
import * as http from 'node:http';
import * as path from 'node:path';
import * as zlib from 'node:zlib';
import { SCRAPED_FAMILIES } from '../common/catalog';
import { fetchText } from '../runtime/fetch-text';
import { parseExposition } from '../runtime/parse';
import { runPool } from '../runtime/scrape-pool';

const REPO_ROOT = path.resolve(__dirname, '..');
const SERVER = `
const http = require('http'); const zlib = require('zlib'); const fs = require('fs');
const plain = fs.readFileSync(process.argv[1]);
const gzipped = zlib.gzipSync(plain);
const server = http.createServer((req, res) => {
  // As promhttp: gzip only when the client accepts it.
  const gzip = /\bgzip\b/.test(String(req.headers['accept-encoding'] || ''));
  const body = gzip ? gzipped : plain;
  res.writeHead(200, { 'content-type': 'text/plain; version=0.0.4', ...(gzip ? { 'content-encoding': 'gzip' } : {}), 'content-length': body.length });
  res.end(body);
});
server.keepAliveTimeout = 60000;
server.listen(0, '127.0.0.1', () => process.stdout.write(String(server.address().port) + '\\n'));
process.stdin.on('end', () => process.exit(0)); process.stdin.resume();
`;

function argValue(name: string, fallback: string): string {
  const i = process.argv.indexOf(name);
  return i === -1 ? fallback : process.argv[i + 1];
}

async function measure(label: string, requests: number, concurrency: number, one: () => Promise<void>): Promise<string> {
  // Warm-up: JIT and connections.
  await runPool(Array.from({ length: Math.min(2000, requests) }, (_, i) => i), concurrency, one);
  const cpu = process.cpuUsage();
  const t = performance.now();
  await runPool(Array.from({ length: requests }, (_, i) => i), concurrency, one);
  const used = process.cpuUsage(cpu);
  const cpuMs = (used.user + used.system) / 1000;
  return `| ${label} | ${requests} | ${(performance.now() - t).toFixed(0)} | ${cpuMs.toFixed(0)} | ${(cpuMs / requests).toFixed(4)} |`;
}

async function main(): Promise<void> {
  const requests = Number(argValue('--requests', '20000'));
  const concurrency = Number(argValue('--concurrency', '64'));
  const undiciPath = argValue('--undici', '');
  const payloadFile = path.join(REPO_ROOT, '../shared/fixtures/ipamd/upstream-cni_test1.prom');
  const file = fs.existsSync(payloadFile) ? payloadFile : path.join(REPO_ROOT, 'test/fixtures/ipamd/node-a.prom');
  const server = spawn(process.execPath, ['-e', SERVER, file], { stdio: ['pipe', 'pipe', 'inherit'] });
  try {
    const port = await new Promise<number>((resolve, reject) => {
      server.stdout.once('data', (d: Buffer) => resolve(Number(String(d).trim())));
      server.once('exit', () => reject(new Error('server exited')));
    });
    const url = new URL(`http://127.0.0.1:${port}/metrics`);
    const agent = new http.Agent({ keepAlive: true, maxSockets: concurrency, maxFreeSockets: concurrency, scheduling: 'lifo' });
    const limits = { timeoutMs: 2000, maxBytes: 4 << 20 };
    const rows = [
      `payload ${path.basename(file)} (${fs.statSync(file).size} bytes, gzipped), concurrency ${concurrency}`,
      '| client | requests | wall ms | CPU ms | CPU ms per request |',
      '|---|---:|---:|---:|---:|',
    ];
    rows.push(await measure('fetchText (node:http, keep-alive)', requests, concurrency, async () => {
      await fetchText({ url, agent, headers: {} }, limits, performance.now() + 2000, undefined);
    }));
    rows.push(await measure('fetchText + parseExposition (catalog families)', requests, concurrency, async () => {
      parseExposition(await fetchText({ url, agent, headers: {} }, limits, performance.now() + 2000, undefined), SCRAPED_FAMILIES);
    }));
    const identity = { 'accept-encoding': 'identity' };
    rows.push(await measure('fetchText, identity (plain text asked)', requests, concurrency, async () => {
      await fetchText({ url, agent, headers: identity }, limits, performance.now() + 2000, undefined);
    }));
    rows.push(await measure('fetchText, identity + parseExposition', requests, concurrency, async () => {
      parseExposition(await fetchText({ url, agent, headers: identity }, limits, performance.now() + 2000, undefined), SCRAPED_FAMILIES);
    }));
    if (undiciPath) {
      // eslint-disable-next-line @typescript-eslint/no-require-imports
      const undici = require(undiciPath) as typeof import('undici-types') & { Pool: new (origin: string, o: object) => { request(o: object): Promise<{ statusCode: number; body: { arrayBuffer(): Promise<ArrayBuffer> } }>; close(): Promise<void> } };
      const pool = new undici.Pool(url.origin, { connections: concurrency, pipelining: 1 });
      rows.push(await measure('undici Pool.request + gunzipSync', requests, concurrency, async () => {
        const res = await pool.request({ path: '/metrics', method: 'GET', headers: { 'accept-encoding': 'gzip' } });
        zlib.gunzipSync(Buffer.from(await res.body.arrayBuffer())).toString('utf8');
      }));
      rows.push(await measure('undici + parseExposition', requests, concurrency, async () => {
        const res = await pool.request({ path: '/metrics', method: 'GET', headers: { 'accept-encoding': 'gzip' } });
        parseExposition(zlib.gunzipSync(Buffer.from(await res.body.arrayBuffer())).toString('utf8'), SCRAPED_FAMILIES);
      }));
      await pool.close();
    }
    agent.destroy();
    process.stdout.write(`${rows.join('\n')}\n`);
  } finally {
    server.stdin?.end();
    server.kill();
  }
}

main().catch((err: unknown) => {
  process.stderr.write(`http-client-cost: ${err instanceof Error ? err.stack : String(err)}\n`);
  process.exit(1);
});

/**
 * What decoding one gzipped ipamd payload costs the main thread, three ways: zlib.gunzipSync,
 * zlib.gunzip (thread pool, 64 in flight as the scraper has them) and no gzip at all (the body
 * as text). Evidence for bench/FINDINGS.md; not part of `npm run bench`.
 *
 *   npx tsx bench/gunzip-cost.ts [fixture.prom]
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { performance } from 'node:perf_hooks';
import * as zlib from 'node:zlib';

const RUNS = 10_000;
const IN_FLIGHT = 64;

function cpuMs(): number {
  const u = process.cpuUsage();
  return (u.user + u.system) / 1000;
}

async function main(): Promise<void> {
  const file = process.argv[2] ?? path.resolve(__dirname, '..', '..', 'shared', 'fixtures', 'ipamd', 'upstream-cni_test1.prom');
  const text = fs.readFileSync(file);
  const gzipped = zlib.gzipSync(text);
  const line = (what: string, perRunUs: number, note = ''): void => {
    process.stdout.write(`${what.padEnd(44)} ${perRunUs.toFixed(1).padStart(6)} µs per payload${note}\n`);
  };
  process.stdout.write(`${path.basename(file)}: ${text.length} bytes, ${gzipped.length} gzipped; ${RUNS} runs each\n`);

  for (let i = 0; i < 1000; i++) zlib.gunzipSync(gzipped); // warm-up
  let cpu = cpuMs();
  for (let i = 0; i < RUNS; i++) zlib.gunzipSync(gzipped).toString('utf8');
  line('gunzipSync + toString (main thread CPU)', ((cpuMs() - cpu) * 1000) / RUNS);

  cpu = cpuMs();
  for (let i = 0; i < RUNS; i++) text.toString('utf8');
  line('no gzip: toString only (main thread CPU)', ((cpuMs() - cpu) * 1000) / RUNS);

  const elu = performance.eventLoopUtilization();
  cpu = cpuMs();
  let started = 0;
  let done = 0;
  await new Promise<void>((resolve, reject) => {
    const next = (): void => {
      while (started - done < IN_FLIGHT && started < RUNS) {
        started++;
        zlib.gunzip(gzipped, (err, out) => {
          if (err) {
            reject(err);
            return;
          }
          out.toString('utf8');
          done++;
          if (done === RUNS) resolve();
          else next();
        });
      }
    };
    next();
  });
  const busy = performance.eventLoopUtilization(elu);
  line(`gunzip, ${IN_FLIGHT} in flight (main thread busy)`, (busy.active * 1000) / RUNS,
    ` (all threads: ${(((cpuMs() - cpu) * 1000) / RUNS).toFixed(1)} µs)`);
}

void main();

/**
 * ScrapeShards, the main thread's side of the scrape workers: which worker a node goes to, and what
 * a cycle gets when a worker dies or hangs. The workers here are small real worker scripts that
 * misbehave on purpose; the collector's own worker is tested end to end in
 * test/integration/scrape-workers.test.ts.
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { ScrapeShards } from '../../runtime/shards';
import { silentLogger } from '../../runtime/log';
import type { AwsNodePod } from '../../runtime/types';

const pods: AwsNodePod[] = ['n1', 'n2', 'n3', 'n4'].map((nodeName) => ({ podName: `aws-node-${nodeName}`, namespace: 'kube-system', nodeName }));
const workerData = {
  logLevel: 'error' as const,
  scrape: { mode: 'direct' as const, port: 61678, timeoutMs: 1000, concurrency: 4, maxBytes: 1 << 20 },
};

let dir: string;
beforeAll(() => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'shards-test-'));
});
afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

/** A worker script of `body`, which sees `parentPort`, `workerData`, `fs` and `startsFile` (one line per start). */
function workerScript(name: string, body: string): { script: string; startsFile: string } {
  const script = path.join(dir, `${name}.js`);
  const startsFile = path.join(dir, `${name}.starts`);
  fs.writeFileSync(script, [
    "const { parentPort, workerData } = require('node:worker_threads');",
    "const fs = require('node:fs');",
    `const startsFile = ${JSON.stringify(startsFile)};`,
    "fs.appendFileSync(startsFile, 'start\\n');",
    body,
  ].join('\n'));
  return { script, startsFile };
}

const emptyPart = '{ rollup: { totals: new Map(), latencySum: new Map(), latencyCount: new Map(), minimums: new Map(), maximums: new Map(), distinct: new Map(), comparedNodes: 0, seriesDropped: 0, nodesOverLimit: [] }, layoutsEvicted: 0 }';

describe('ScrapeShards.shardOf', () => {
  test('a node always goes to the same worker, and 10,000 EKS node names spread evenly over 4', () => {
    const names = Array.from({ length: 10_000 }, (_, i) => `ip-10-0-${i >> 8}-${i & 255}.eu-west-1.compute.internal`);
    const counts = [0, 0, 0, 0];
    for (const name of names) counts[ScrapeShards.shardOf(name, 4)]++;
    for (const count of counts) expect(Math.abs(count - 2500)).toBeLessThan(250);
    // The hash is FNV-1a 32 (so a node keeps its worker across restarts and versions): its value for
    // this name, 2,771,989,880, computed with Python's integers, modulo a large and a small count.
    expect(ScrapeShards.shardOf('ip-10-0-0-1.eu-west-1.compute.internal', 1_000_000_007)).toBe(771_989_866);
    expect(ScrapeShards.shardOf('ip-10-0-0-1.eu-west-1.compute.internal', 4)).toBe(0);
  });
});

describe('ScrapeShards faults', () => {
  test('a worker that exits fails its nodes for the cycle, and a new one runs the next cycle', async () => {
    // GIVEN a worker that exits at its first start's first cycle, and answers normally once started again
    const { script, startsFile } = workerScript('dies-once', `
      const starts = fs.readFileSync(startsFile, 'utf8').split('\\n').length - 1;
      parentPort.on('message', (m) => {
        if (m.type !== 'cycle') return;
        if (starts === 1) process.exit(3);
        parentPort.postMessage({ type: 'done', id: m.id, part: ${emptyPart}, scraped: m.pods.length, failed: [] });
      });`);
    const shards = new ScrapeShards({ workers: 1, script: { file: script }, workerData, logger: silentLogger });
    try {
      // WHEN two cycles run
      const first = await shards.collect(pods, new Date(), new AbortController().signal);
      const second = await shards.collect(pods, new Date(), new AbortController().signal);
      // THEN the first fails all four nodes naming the exit, and the second, on a new worker, scrapes them
      expect(first.scraped).toBe(0);
      expect(first.failed.map((f) => f.nodeName)).toEqual(['n1', 'n2', 'n3', 'n4']);
      expect(first.failed[0].error).toMatch(/scrape worker 0 exited with code 3/);
      expect(second).toMatchObject({ scraped: 4, failed: [] });
      expect(fs.readFileSync(startsFile, 'utf8')).toBe('start\nstart\n');
    } finally {
      await shards.close();
    }
  });

  test('a worker that never answers is given up 2 s after the abort, its nodes failed', async () => {
    // GIVEN a worker stuck in a synchronous loop once a cycle starts (it cannot even read the abort)
    const { script } = workerScript('stuck', "parentPort.on('message', (m) => { if (m.type === 'cycle') for (;;) {} });");
    const shards = new ScrapeShards({ workers: 2, script: { file: script }, workerData, logger: silentLogger });
    try {
      const abort = new AbortController();
      const started = Date.now();
      const cycle = shards.collect(pods, new Date(), abort.signal);
      // WHEN the cycle is aborted (a stop) after 100 ms
      setTimeout(() => abort.abort(), 100);
      const result = await cycle;
      // THEN it ends about 2 s after the abort with every node failed, naming the wait
      const tookMs = Date.now() - started;
      expect(tookMs).toBeGreaterThanOrEqual(2_000);
      expect(tookMs).toBeLessThan(6_000);
      expect(result.scraped).toBe(0);
      expect(result.failed).toHaveLength(4);
      expect(result.failed[0].error).toMatch(/did not answer within 2000 ms of the abort/);
    } finally {
      await shards.close();
    }
  }, 15_000);
});

describe('ScrapeShards abort', () => {
  test('a cycle started with its signal already aborted is aborted in the worker, not run to the end', async () => {
    // GIVEN a worker whose cycles last 10 s unless aborted, and answer at once when aborted
    const { script } = workerScript('abortable', `
      const timers = new Map();
      parentPort.on('message', (m) => {
        const done = (id) => parentPort.postMessage({ type: 'done', id, part: ${emptyPart}, scraped: 0, failed: [] });
        if (m.type === 'cycle') timers.set(m.id, setTimeout(() => done(m.id), 10000));
        if (m.type === 'abort' && timers.has(m.id)) { clearTimeout(timers.get(m.id)); done(m.id); }
      });`);
    const shards = new ScrapeShards({ workers: 1, script: { file: script }, workerData, logger: silentLogger });
    try {
      const abort = new AbortController();
      abort.abort();
      const started = Date.now();
      // WHEN a cycle is collected with the aborted signal
      const result = await shards.collect(pods, new Date(), abort.signal);
      // THEN the worker's answer to the abort ends it: well before its 10 s and before the 2 s give-up
      expect(Date.now() - started).toBeLessThan(1_500);
      expect(result.failed).toEqual([]);
    } finally {
      await shards.close();
    }
  });
});

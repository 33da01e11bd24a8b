/**
 * Baseline: Prometheus (Debian package `prometheus`) scraping the same simulated ipamd endpoints,
 * which is what a user would run instead of a collector. Its CPU is read from its own /metrics
 * (process_cpu_seconds_total) over a window of whole scrape rounds after a warm-up, and divided by
 * the scrapes the endpoints served in that window: CPU per target per scrape round.
 *
 * Prometheus runs on loopback with a generated config, a temporary storage directory, empty
 * console template directories, and under `timeout` so it cannot outlive its bound.
 */
import * as fs from 'node:fs';
import * as http from 'node:http';
import * as net from 'node:net';
import * as os from 'node:os';
import * as path from 'node:path';
import { SCRAPED_FAMILIES } from '../common/catalog';
import type { ClusterProcess } from './cluster-client';
import type { ClusterInfo } from './cluster-protocol';
import { onHarnessExit, runBounded, sleep, spawnTracked } from './processes';

export interface PrometheusBaselineOptions {
  readonly cluster: ClusterProcess;
  readonly info: ClusterInfo;
  readonly scrapeIntervalSeconds: number;
  readonly scrapeTimeoutMs: number;
  /** Rounds scraped before the window opens (series creation happens in the first). */
  readonly warmupRounds: number;
  /** Rounds in the measured window. */
  readonly measuredRounds: number;
  /** Keep only the families our collector keeps (metric_relabel_configs), as a user would. */
  readonly keepCatalogFamiliesOnly: boolean;
}

export interface PrometheusBaseline {
  readonly targets: number;
  readonly version: string;
  readonly windowSeconds: number;
  /** Scrapes the endpoints served in the window (hanging ones included: they are scrape attempts). */
  readonly scrapes: number;
  readonly rounds: number;
  readonly cpuSeconds: number;
  /** CPU seconds / scrapes. */
  readonly cpuSecondsPerTargetPerRound: number;
  readonly residentBytes: number;
  readonly headSeries: number;
  readonly keepCatalogFamiliesOnly: boolean;
}

/** Installs the Debian package when `prometheus` is not on PATH; returns its version line. */
export async function ensurePrometheus(): Promise<string> {
  const probe = await runBounded('prometheus', ['--version'], { timeoutMs: 20_000 }).catch(() => undefined);
  if (probe?.exitCode === 0) return firstLine(probe.stdout + probe.stderr);
  process.stderr.write('bench: prometheus is not installed; installing the Debian package (apt-get install -y prometheus)\n');
  const install = await runBounded('apt-get', ['install', '-y', '--no-install-recommends', 'prometheus'], {
    timeoutMs: 300_000,
    env: { ...process.env, DEBIAN_FRONTEND: 'noninteractive' },
  });
  if (install.exitCode !== 0) {
    throw new Error(`apt-get install prometheus failed (exit ${install.exitCode}): ${install.stderr.slice(-400)}; `
      + 'install it by hand (apt-get install -y prometheus) or skip this stage with --skip prometheus');
  }
  const again = await runBounded('prometheus', ['--version'], { timeoutMs: 20_000 });
  return firstLine(again.stdout + again.stderr);
}

export async function runPrometheusBaseline(options: PrometheusBaselineOptions, version: string): Promise<PrometheusBaseline> {
  const { info } = options;
  const targets = info.hosts.length;
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'bench-prometheus-'));
  const removeDir = (): void => fs.rmSync(dir, { recursive: true, force: true });
  onHarnessExit(removeDir);
  const port = await freeLoopbackPort();
  const configFile = path.join(dir, 'prometheus.yml');
  fs.writeFileSync(configFile, prometheusConfig(options));
  fs.mkdirSync(path.join(dir, 'consoles'));
  fs.mkdirSync(path.join(dir, 'data'));

  const intervalMs = options.scrapeIntervalSeconds * 1000;
  const boundSeconds = Math.ceil(((options.warmupRounds + options.measuredRounds + 4) * intervalMs + 60_000) / 1000);
  const child = spawnTracked('timeout', ['--kill-after=5', String(boundSeconds), 'prometheus',
    `--config.file=${configFile}`,
    `--storage.tsdb.path=${path.join(dir, 'data')}`,
    '--storage.tsdb.retention.time=1h',
    `--web.listen-address=127.0.0.1:${port}`,
    `--web.console.templates=${path.join(dir, 'consoles')}`,
    `--web.console.libraries=${path.join(dir, 'consoles')}`,
    '--log.level=warn',
  ], { stdio: ['ignore', 'ignore', 'pipe'] });
  let stderr = '';
  child.stderr?.setEncoding('utf8').on('data', (chunk: string) => { stderr = (stderr + chunk).slice(-4000); });
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  const base = `http://127.0.0.1:${port}`;
  try {
    await waitFor(async () => (await httpGet(`${base}/-/ready`).catch(() => undefined))?.status === 200, 60_000,
      () => `Prometheus did not become ready on ${base} within 60 s: ${stderr.slice(-400)}`);
    await options.cluster.counters(true);
    // Warm-up: the first rounds create every series; a user's Prometheus is past them.
    await waitFor(async () => (await options.cluster.counters(false)).ipamdRequests >= targets * options.warmupRounds,
      (options.warmupRounds + 3) * intervalMs + 30_000,
      () => `Prometheus did not scrape ${options.warmupRounds} rounds of ${targets} targets in time: ${stderr.slice(-400)}`);

    const cpuBefore = await prometheusMetric(base, 'process_cpu_seconds_total');
    await options.cluster.counters(true);
    const windowStart = performance.now();
    await sleep(options.measuredRounds * intervalMs);
    const cpuAfter = await prometheusMetric(base, 'process_cpu_seconds_total');
    const window = await options.cluster.counters(false);
    const windowSeconds = (performance.now() - windowStart) / 1000;
    const residentBytes = await prometheusMetric(base, 'process_resident_memory_bytes');
    const headSeries = await prometheusMetric(base, 'prometheus_tsdb_head_series');
    const cpuSeconds = cpuAfter - cpuBefore;
    return {
      targets,
      version,
      windowSeconds,
      scrapes: window.ipamdRequests,
      rounds: window.ipamdRequests / targets,
      cpuSeconds,
      cpuSecondsPerTargetPerRound: window.ipamdRequests > 0 ? cpuSeconds / window.ipamdRequests : NaN,
      residentBytes,
      headSeries,
      keepCatalogFamiliesOnly: options.keepCatalogFamiliesOnly,
    };
  } finally {
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGTERM');
    const timer = setTimeout(() => child.kill('SIGKILL'), 10_000);
    await exited;
    clearTimeout(timer);
    removeDir();
  }
}

function prometheusConfig(options: PrometheusBaselineOptions): string {
  const { info } = options;
  const keep = [...SCRAPED_FAMILIES].sort().join('|');
  // JSON is YAML: no YAML library needed, and 10,000 targets stay one line.
  const config = {
    global: { scrape_interval: `${options.scrapeIntervalSeconds}s`, scrape_timeout: `${options.scrapeTimeoutMs}ms` },
    scrape_configs: [{
      job_name: 'ipamd',
      metrics_path: '/metrics',
      static_configs: [{ targets: info.hosts.map((h) => `${h}:${info.ipamdPort}`) }],
      ...(options.keepCatalogFamiliesOnly
        ? { metric_relabel_configs: [{ source_labels: ['__name__'], regex: `(${keep})(_sum|_count)?`, action: 'keep' }] }
        : {}),
    }],
  };
  return JSON.stringify(config) + '\n';
}

/** The value of an unlabelled sample on Prometheus's own /metrics. */
async function prometheusMetric(base: string, name: string): Promise<number> {
  const answer = await httpGet(`${base}/metrics`);
  const line = answer.body.split('\n').find((l) => l.startsWith(`${name} `));
  if (!line) throw new Error(`Prometheus's /metrics has no '${name}' sample`);
  return Number(line.slice(name.length + 1));
}

function httpGet(url: string): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const req = http.get(url, { timeout: 10_000 }, (res) => {
      let body = '';
      res.setEncoding('utf8').on('data', (chunk: string) => { body += chunk; });
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
      res.on('error', reject);
    });
    req.on('timeout', () => req.destroy(new Error(`GET ${url} timed out`)));
    req.on('error', reject);
  });
}

async function waitFor(check: () => Promise<boolean>, timeoutMs: number, failure: () => string): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(failure());
    await sleep(250);
  }
}

function freeLoopbackPort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = net.createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as net.AddressInfo;
      server.close(() => resolve(port));
    });
  });
}

function firstLine(text: string): string {
  return text.split('\n')[0].trim();
}

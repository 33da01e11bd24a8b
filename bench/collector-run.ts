/**
 * One measured `node <bundle> --once` of the collector against the simulated cluster: wall time,
 * its own CPU and peak RSS (read inside the process at exit by bench/measure-exit.cjs), and the
 * cycle figures from its own "cycle done" log line.
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import type { ClusterInfo, ClusterMode } from './cluster-protocol';
import { runBounded } from './processes';

export interface CollectorSettings {
  readonly mode: ClusterMode;
  readonly concurrency: number;
  readonly timeoutMs: number;
}

/** What the process measured about itself (bench/measure-exit.cjs). */
export interface ResourceUsage {
  readonly exitCode: number;
  readonly userCpuMs: number;
  readonly systemCpuMs: number;
  readonly maxRssKiB: number;
  /** From process start to exit, inside the process. */
  readonly uptimeMs: number;
  readonly voluntaryContextSwitches: number;
  readonly involuntaryContextSwitches: number;
}

/** The collector's "cycle done" log fields. */
export interface CycleLog {
  readonly nodes: number;
  readonly nodesOk: number;
  readonly nodesFailed: number;
  readonly datums: number;
  /** Discovery through aggregation (the collector's own figure; publishing comes after). */
  readonly durationMs: number;
}

export interface CollectorRun {
  readonly exitCode?: number;
  /** The signal that ended it (e.g. SIGABRT when the JavaScript heap ran out). */
  readonly signal?: string;
  readonly timedOut: boolean;
  /** Spawn to exit, seen by the harness: Node start, module load, cycle, flush, exit. */
  readonly processWallMs: number;
  readonly usage?: ResourceUsage;
  readonly cycle?: CycleLog;
  /** Node process warnings, crash lines, and warn/error log lines other than per-node scrape failures. */
  readonly warnings: readonly string[];
  readonly nodeFailureLines: number;
  /** The last lines of stderr, for the report when something went wrong. */
  readonly stderrTail: string;
}

export interface CollectorRunOptions {
  readonly bundle: string;
  readonly cluster: ClusterInfo;
  readonly settings: CollectorSettings;
  readonly boundMs: number;
  /** Extra node flags, e.g. --cpu-prof. */
  readonly nodeFlags?: readonly string[];
  readonly cwd: string;
}

/**
 * The AWS side of a process that publishes to the simulated cluster's CloudWatch: fake credentials,
 * and no ~/.aws files or instance metadata, so they are all there is.
 */
export function loopbackAwsEnv(cluster: ClusterInfo): NodeJS.ProcessEnv {
  return {
    AWS_CLUSTER_ID: 'bench-cluster',
    AWS_REGION: 'us-east-1',
    AWS_ENDPOINT_URL_CLOUDWATCH: cluster.cloudWatchUrl,
    AWS_ACCESS_KEY_ID: 'AKIDBENCHLOOPBACK',
    AWS_SECRET_ACCESS_KEY: 'bench-loopback-secret',
    AWS_EC2_METADATA_DISABLED: 'true',
    AWS_CONFIG_FILE: '/dev/null',
    AWS_SHARED_CREDENTIALS_FILE: '/dev/null',
  };
}

/**
 * What the bench's own environment may set for the collector: settings the harness does not choose
 * itself, and glibc's malloc arena count. Anything else is not passed on, so a variable set for an
 * experiment reaches the collector only when it is listed here (and so recorded with the run).
 */
export const PASSED_ON_ENV = ['SCRAPE_WORKERS', 'POD_LIST_PAGE_SIZE', 'MALLOC_ARENA_MAX'] as const;

/** `NAME=value` for each variable of `names` set here: the environment part of a run's command line. */
export function envAssignments(names: readonly string[]): string[] {
  return names.filter((name) => process.env[name] !== undefined).map((name) => `${name}=${process.env[name]}`);
}

function passedOnEnv(): NodeJS.ProcessEnv {
  return Object.fromEntries(PASSED_ON_ENV.flatMap((name) => (process.env[name] !== undefined ? [[name, process.env[name]]] : [])));
}

/**
 * The collector's environment against the simulated cluster; BENCH_RESOURCE_FILE names the usage file.
 * The variables in PASSED_ON_ENV set for the bench (`SCRAPE_WORKERS=2 npm run bench ...`) are passed on.
 */
export function collectorEnv(cluster: ClusterInfo, settings: CollectorSettings, usageFile: string): NodeJS.ProcessEnv {
  return {
    PATH: process.env.PATH,
    HOME: process.env.HOME,
    KUBECONFIG: cluster.kubeconfigPath,
    ...loopbackAwsEnv(cluster),
    SCRAPE_MODE: settings.mode,
    IPAMD_METRICS_PORT: String(cluster.ipamdPort),
    SCRAPE_TIMEOUT_MS: String(settings.timeoutMs),
    SCRAPE_CONCURRENCY: String(settings.concurrency),
    ...passedOnEnv(),
    HEALTH_PORT: '0',
    BENCH_RESOURCE_FILE: usageFile,
  };
}

export async function runCollectorOnce(options: CollectorRunOptions): Promise<CollectorRun> {
  const { cluster, settings } = options;
  const usageFile = path.join(fs.mkdtempSync(path.join(os.tmpdir(), 'bench-collector-')), 'usage.json');
  const env = collectorEnv(cluster, settings, usageFile);
  try {
    const run = await runBounded(process.execPath, [
      '-r', path.join(__dirname, 'measure-exit.cjs'), ...(options.nodeFlags ?? []), options.bundle, '--once',
    ], { cwd: options.cwd, env, timeoutMs: options.boundMs });
    const lines = run.stderr.split('\n').filter((l) => l.trim() !== '');
    const logs = lines.map(parseLogLine);
    const cycleLine = logs.find((l) => l?.msg === 'cycle done');
    const nodeFailureLines = logs.filter((l) => l?.msg === 'nodes failed this cycle').length;
    const warnings = lines.filter((line, i) => {
      const log = logs[i];
      if (!log) return /^\(node:\d+\) |^FATAL ERROR|Error:/.test(line);
      return (log.level === 'warn' || log.level === 'error') && log.msg !== 'nodes failed this cycle';
    }).map((line) => line.replace(/^\(node:\d+\) /, '').slice(0, 200)).slice(0, 20);
    const usage = fs.existsSync(usageFile) ? JSON.parse(fs.readFileSync(usageFile, 'utf8')) as ResourceUsage : undefined;
    return {
      exitCode: run.exitCode,
      signal: run.signal,
      timedOut: run.timedOut,
      processWallMs: run.wallMs,
      usage,
      cycle: cycleLine ? {
        nodes: Number(cycleLine.nodes),
        nodesOk: Number(cycleLine.nodesOk),
        nodesFailed: Number(cycleLine.nodesFailed),
        datums: Number(cycleLine.datums),
        durationMs: Number(cycleLine.durationMs),
      } : undefined,
      warnings,
      nodeFailureLines,
      stderrTail: lines.slice(-8).join('\n'),
    };
  } finally {
    fs.rmSync(path.dirname(usageFile), { recursive: true, force: true });
  }
}

export function parseLogLine(line: string): Record<string, unknown> | undefined {
  if (!line.startsWith('{')) return undefined;
  try {
    return JSON.parse(line) as Record<string, unknown>;
  } catch {
    return undefined;
  }
}

/**
 * The collector as it runs in a cluster: one long-lived process, a cycle every interval. After
 * warm-up cycles, its CPU is read from /proc/<pid>/stat at each "cycle done" log line, so the CPU
 * per cycle is that of a warm process (no Node start, no bundle load, per-node counter state in
 * place): the figure to set against Prometheus' CPU per scrape round. Stopped with SIGTERM, as
 * Kubernetes stops it.
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import type { ClusterInfo } from './cluster-protocol';
import { collectorEnv, parseLogLine, type CollectorSettings, type ResourceUsage } from './collector-run';
import { sleep, spawnTracked } from './processes';

/** Linux clock ticks per second for /proc/<pid>/stat times (USER_HZ; 100 on every mainstream build). */
const CLOCK_TICKS_PER_SECOND = 100;

export interface SteadyRunOptions {
  readonly bundle: string;
  readonly cluster: ClusterInfo;
  readonly settings: CollectorSettings;
  readonly intervalSeconds: number;
  readonly warmupCycles: number;
  readonly measuredCycles: number;
  /** Extra node flags, e.g. a heap limit. */
  readonly nodeFlags?: readonly string[];
  readonly cwd: string;
  /** Where the collector's stdout goes (e.g. a --trace-gc-nvp trace); discarded when absent. */
  readonly stdoutFile?: string;
}

export interface SteadyRun {
  readonly cycles: number;
  /** CPU over the measured cycles (from the end of the last warm-up cycle to the end of the last one). */
  readonly cpuMs: number;
  readonly cpuMsPerCycle: number;
  readonly windowMs: number;
  /** The collector's own cycle durations in the window. */
  readonly cycleMs: readonly number[];
  /** VmHWM before the stop: the process's peak resident set over its whole life. */
  readonly peakRssMiB?: number;
  readonly usage?: ResourceUsage;
  readonly exitCode?: number;
  readonly error?: string;
}

export async function runCollectorSteady(options: SteadyRunOptions): Promise<SteadyRun> {
  const usageDir = fs.mkdtempSync(path.join(os.tmpdir(), 'bench-steady-'));
  const usageFile = path.join(usageDir, 'usage.json');
  const env = { ...collectorEnv(options.cluster, options.settings, usageFile), METRIC_UPDATE_INTERVAL: String(options.intervalSeconds) };
  const totalCycles = options.warmupCycles + options.measuredCycles;
  // Room for every cycle to overrun its interval by the scrape timeout, and then some.
  const boundMs = totalCycles * (options.intervalSeconds * 1000 + options.settings.timeoutMs) + 120_000;
  const stdoutFd = options.stdoutFile ? fs.openSync(options.stdoutFile, 'w') : undefined;
  // Under `timeout` (which passes SIGTERM on to the collector), so that it cannot outlive its bound.
  const child = spawnTracked('timeout', ['--kill-after=5', String(Math.ceil(boundMs / 1000)), process.execPath,
    '-r', path.join(__dirname, 'measure-exit.cjs'), ...(options.nodeFlags ?? []), options.bundle], {
    cwd: options.cwd, env, stdio: ['ignore', stdoutFd ?? 'ignore', 'pipe'],
  });
  // The child has its own copy of the descriptor.
  if (stdoutFd !== undefined) fs.closeSync(stdoutFd);
  const pid = await childPidOf(child.pid as number);
  const exited = new Promise<number | undefined>((resolve) => child.once('exit', (code) => resolve(code ?? undefined)));
  const marks: { cpuMs: number; atMs: number; durationMs: number }[] = [];
  let stderrTail = '';
  let peakRssMiB: number | undefined;
  let done!: () => void;
  const enoughCycles = new Promise<void>((resolve) => { done = resolve; });
  let pending = '';
  child.stderr?.setEncoding('utf8').on('data', (chunk: string) => {
    stderrTail = (stderrTail + chunk).slice(-3000);
    pending += chunk;
    const lines = pending.split('\n');
    pending = lines.pop() ?? '';
    for (const line of lines) {
      const log = parseLogLine(line);
      if (log?.msg !== 'cycle done') continue;
      const cpuMs = processCpuMs(pid);
      if (cpuMs !== undefined) marks.push({ cpuMs, atMs: performance.now(), durationMs: Number(log.durationMs) });
      if (marks.length >= totalCycles) done();
    }
  });
  // A timer cleared when the run ends, so that a caller which does not exit is not held for the bound.
  let boundTimer: NodeJS.Timeout | undefined;
  const bound = new Promise<'bound'>((resolve) => { boundTimer = setTimeout(() => resolve('bound'), boundMs); });
  try {
    const outcome = await Promise.race([enoughCycles.then(() => 'cycles' as const), exited.then(() => 'exited' as const), bound]);
    peakRssMiB = peakRss(pid);
    if (child.exitCode === null) child.kill('SIGTERM');
    const killer = setTimeout(() => child.kill('SIGKILL'), 30_000);
    const exitCode = await exited;
    clearTimeout(killer);
    const usage = fs.existsSync(usageFile) ? JSON.parse(fs.readFileSync(usageFile, 'utf8')) as ResourceUsage : undefined;
    const window = marks.slice(options.warmupCycles - 1);
    const cycles = window.length - 1;
    if (outcome !== 'cycles' || cycles < 1) {
      return {
        cycles: Math.max(0, cycles), cpuMs: NaN, cpuMsPerCycle: NaN, windowMs: NaN, cycleMs: [], peakRssMiB, usage, exitCode,
        error: outcome === 'bound' ? `no ${totalCycles} cycles within ${boundMs} ms: ${stderrTail.slice(-400)}`
          : /heap out of memory/.test(stderrTail) ? 'the collector ran out of JavaScript heap (FATAL ERROR: heap out of memory) and exited'
            : `the collector exited early: ${stderrTail.slice(-400)}`,
      };
    }
    const cpuMs = window[window.length - 1].cpuMs - window[0].cpuMs;
    return {
      cycles,
      cpuMs,
      cpuMsPerCycle: cpuMs / cycles,
      windowMs: window[window.length - 1].atMs - window[0].atMs,
      cycleMs: window.slice(1).map((m) => m.durationMs),
      peakRssMiB,
      usage,
      exitCode,
    };
  } finally {
    clearTimeout(boundTimer);
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
    fs.rmSync(usageDir, { recursive: true, force: true });
  }
}

/** The one child of `parent` (the collector under `timeout`), waiting briefly for it to appear. */
async function childPidOf(parent: number): Promise<number> {
  for (let attempt = 0; attempt < 100; attempt++) {
    try {
      const children = fs.readFileSync(`/proc/${parent}/task/${parent}/children`, 'utf8').trim();
      if (children) return Number(children.split(' ')[0]);
    } catch {
      // Not there yet, or already gone.
    }
    await sleep(20);
  }
  throw new Error(`the collector process under timeout (pid ${parent}) did not start`);
}

/** utime + stime of every thread of the process, in ms. */
function processCpuMs(pid: number): number | undefined {
  try {
    const stat = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
    // Fields after the command name, which is in parentheses and may hold spaces.
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    const ticks = Number(fields[11]) + Number(fields[12]);
    return (ticks * 1000) / CLOCK_TICKS_PER_SECOND;
  } catch {
    return undefined;
  }
}

function peakRss(pid: number): number | undefined {
  try {
    const line = fs.readFileSync(`/proc/${pid}/status`, 'utf8').split('\n').find((l) => l.startsWith('VmHWM:'));
    const kib = line ? Number(line.split(/\s+/)[1]) : NaN;
    return Number.isFinite(kib) ? kib / 1024 : undefined;
  } catch {
    return undefined;
  }
}

/**
 * Wall times of the developer commands the issue sets targets for: `npx cdk synth` of the example
 * app and `npm test`. Both run as a user would run them, with the machine's load recorded before
 * and after (other jobs on a shared machine slow them down; the figures say how busy it was).
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { runBounded } from './processes';

export interface CommandTiming {
  readonly command: string;
  readonly wallMs: number;
  readonly exitCode?: number;
  readonly timedOut: boolean;
  /** 1-minute load average before and after. */
  readonly loadBefore: number;
  readonly loadAfter: number;
  /** Other node/jest/tsc/esbuild processes running when it started (not ours). */
  readonly otherJobsAtStart: number;
  /** Last lines of output, for a failure. */
  readonly tail: string;
  readonly note?: string;
}

/** `npx cdk synth` of the example app into a temporary directory (the work tree's cdk.out is left alone). */
export async function timeCdkSynth(repoRoot: string, boundMs: number): Promise<CommandTiming> {
  const out = fs.mkdtempSync(path.join(os.tmpdir(), 'bench-cdk-out-'));
  try {
    const appSource = fs.readFileSync(path.join(repoRoot, 'bin', 'app.ts'), 'utf8');
    const minimal = !/CniMetricsHelper/.test(appSource);
    return await timeCommand('npx', ['cdk', 'synth', '--quiet', '--no-notices', '-o', out], repoRoot, boundMs,
      { CDK_DISABLE_CLI_TELEMETRY: 'true' },
      minimal ? 'bin/app.ts does not use CniMetricsHelper yet: this times a minimal app' : undefined);
  } finally {
    fs.rmSync(out, { recursive: true, force: true });
  }
}

export function timeNpmTest(repoRoot: string, boundMs: number): Promise<CommandTiming> {
  return timeCommand('npm', ['test'], repoRoot, boundMs, { CI: 'true' });
}

async function timeCommand(command: string, args: readonly string[], cwd: string, boundMs: number,
  extraEnv: NodeJS.ProcessEnv, note?: string): Promise<CommandTiming> {
  const loadBefore = os.loadavg()[0];
  const otherJobsAtStart = countOtherJobs();
  const run = await runBounded(command, args, { cwd, timeoutMs: boundMs, env: { ...process.env, ...extraEnv } });
  const output = `${run.stdout}\n${run.stderr}`.split('\n').filter((l) => l.trim() !== '');
  return {
    command: [command, ...args].join(' ').replace(/-o \S+/, '-o <tmp>'),
    wallMs: run.wallMs,
    exitCode: run.exitCode,
    timedOut: run.timedOut,
    loadBefore,
    loadAfter: os.loadavg()[0],
    otherJobsAtStart,
    tail: output.slice(-12).join('\n'),
    ...(note ? { note } : {}),
  };
}

/** Heavy developer processes not started by this harness (read from /proc). */
export function countOtherJobs(): number {
  const mine = new Set<number>([process.pid, process.ppid]);
  let count = 0;
  for (const entry of safeReaddir('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    const pid = Number(entry);
    if (mine.has(pid)) continue;
    let cmdline: string;
    try {
      cmdline = fs.readFileSync(`/proc/${pid}/cmdline`, 'utf8').replace(/\0/g, ' ');
    } catch {
      continue;
    }
    if (/\b(jest|tsc|esbuild|cdk|tsx|ts-node)\b/.test(cmdline) && !cmdline.includes('bench/')) count++;
  }
  return count;
}

function safeReaddir(dir: string): string[] {
  try {
    return fs.readdirSync(dir);
  } catch {
    return [];
  }
}

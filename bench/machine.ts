/** The machine and the code a benchmark ran on, for the results' header. */
import { execFileSync } from 'node:child_process';
import * as crypto from 'node:crypto';
import * as fs from 'node:fs';
import * as os from 'node:os';

export interface MachineInfo {
  readonly nproc: number;
  readonly cpuModel: string;
  readonly memoryGiB: number;
  readonly node: string;
  readonly kernel: string;
  /** 1, 5 and 15-minute load averages at the start. */
  readonly loadAtStart: readonly number[];
  readonly openFileLimit: string;
  readonly gitCommit: string;
  /** Uncommitted changes in runtime/ when the bundle was built (others' work in progress). */
  readonly runtimeDirty: readonly string[];
  readonly date: string;
}

export function describeMachine(repoRoot: string): MachineInfo {
  const git = (...args: string[]): string => {
    try {
      return execFileSync('git', args, { cwd: repoRoot, encoding: 'utf8' }).trim();
    } catch {
      return '';
    }
  };
  return {
    nproc: os.availableParallelism(),
    cpuModel: os.cpus()[0]?.model ?? 'unknown',
    memoryGiB: os.totalmem() / 2 ** 30,
    node: process.version,
    kernel: `${os.type()} ${os.release()}`,
    loadAtStart: os.loadavg(),
    openFileLimit: openFileLimit(),
    gitCommit: git('rev-parse', '--short', 'HEAD'),
    runtimeDirty: git('status', '--porcelain', '--', 'runtime').split('\n').filter((l) => l !== ''),
    date: new Date().toISOString(),
  };
}

/** sha256 (first 12 hex digits) and size of a file, to name the exact bundle measured. */
export function fileDigest(file: string): { sha256: string; bytes: number } {
  const data = fs.readFileSync(file);
  return { sha256: crypto.createHash('sha256').update(data).digest('hex').slice(0, 12), bytes: data.length };
}

function openFileLimit(): string {
  try {
    const line = fs.readFileSync('/proc/self/limits', 'utf8').split('\n').find((l) => l.startsWith('Max open files'));
    return line?.split(/\s{2,}/).slice(1, 3).join(' / ') ?? 'unknown';
  } catch {
    return 'unknown';
  }
}

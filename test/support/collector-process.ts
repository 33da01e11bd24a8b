/**
 * Runs the bundled collector (dist/collector.js, built by `npm run build:collector`) as a child
 * process with plain `node`, the way the image runs it, and collects its output.
 */
import { ChildProcess, spawn } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';

export const COLLECTOR_BUNDLE = path.resolve(__dirname, '..', '..', 'dist', 'collector.js');

export interface CollectorRun {
  readonly child: ChildProcess;
  /** stdout so far. */
  stdout(): string;
  /** Parsed JSON log lines from stderr so far (non-JSON lines as { raw }). */
  logs(): Array<Record<string, unknown>>;
  /** Resolves with the exit code (or the signal name) once the process has exited. */
  readonly exited: Promise<number | string>;
  /** Resolves when a log line satisfying `match` appears; rejects after `timeoutMs`. */
  waitForLog(match: (line: Record<string, unknown>) => boolean, timeoutMs: number): Promise<Record<string, unknown>>;
}

/**
 * Environment of a collector that talks only to loopback servers: fake credentials, no metadata
 * service, and a temporary HOME so no real ~/.aws or ~/.kube is read.
 */
export function loopbackCollectorEnv(overrides: Record<string, string>): Record<string, string> {
  const home = fs.mkdtempSync(path.join(os.tmpdir(), 'collector-home-'));
  return {
    PATH: process.env.PATH ?? '/usr/bin:/bin',
    HOME: home,
    AWS_REGION: 'us-east-1',
    AWS_ACCESS_KEY_ID: 'AKIDLOOPBACKTEST',
    AWS_SECRET_ACCESS_KEY: 'loopback-secret',
    AWS_EC2_METADATA_DISABLED: 'true',
    HEALTH_PORT: '0',
    ...overrides,
  };
}

/**
 * Starts the bundle (`bundle`, by default dist/collector.js); the process is killed with SIGKILL
 * after `hardTimeoutMs` whatever happens.
 */
export function startCollector(args: string[], env: Record<string, string>, hardTimeoutMs = 60_000, bundle = COLLECTOR_BUNDLE): CollectorRun {
  if (!fs.existsSync(bundle)) {
    throw new Error(`${bundle} is missing: run \`npm run build:collector\` (npm test does it first)`);
  }
  const child = spawn(process.execPath, [bundle, ...args], { env, stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  let err = '';
  const waiters: Array<{ match: (l: Record<string, unknown>) => boolean; resolve: (l: Record<string, unknown>) => void }> = [];
  const parse = (): Array<Record<string, unknown>> => err.split('\n').filter((l) => l.trim() !== '').map((l) => {
    try {
      return JSON.parse(l) as Record<string, unknown>;
    } catch {
      return { raw: l };
    }
  });
  child.stdout!.setEncoding('utf8').on('data', (d: string) => { out += d; });
  child.stderr!.setEncoding('utf8').on('data', (d: string) => {
    err += d;
    const lines = parse();
    for (let i = waiters.length - 1; i >= 0; i--) {
      const hit = lines.find(waiters[i].match);
      if (hit) {
        waiters[i].resolve(hit);
        waiters.splice(i, 1);
      }
    }
  });
  const killer = setTimeout(() => child.kill('SIGKILL'), hardTimeoutMs);
  const exited = new Promise<number | string>((resolve) => {
    child.on('exit', (code, signal) => {
      clearTimeout(killer);
      resolve(code ?? signal ?? 'unknown');
    });
  });
  return {
    child,
    exited,
    stdout: () => out,
    logs: parse,
    waitForLog: (match, timeoutMs) => new Promise((resolve, reject) => {
      const already = parse().find(match);
      if (already) return resolve(already);
      const timer = setTimeout(() => reject(new Error(`no matching log line within ${timeoutMs} ms; stderr:\n${err}`)), timeoutMs);
      waiters.push({ match, resolve: (l) => { clearTimeout(timer); resolve(l); } });
    }),
  };
}

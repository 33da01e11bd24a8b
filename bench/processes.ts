/**
 * Child processes of the benchmark: every one bounded in time and killed when the harness exits,
 * however it exits (normal end, error, Ctrl-C, SIGTERM).
 *
 * Measured programs are started under coreutils `timeout`, so even a harness killed with SIGKILL
 * leaves nothing running past the bound.
 */
import { spawn, type ChildProcess, type SpawnOptions } from 'node:child_process';

const children = new Set<ChildProcess>();
let exitHooksInstalled = false;
const cleanups: (() => void)[] = [];

/** Kills (SIGKILL) every child still running; called on every way out of the harness. */
export function killAllChildren(): void {
  for (const child of children) {
    if (child.exitCode === null && child.signalCode === null && child.pid !== undefined) {
      try {
        process.kill(child.pid, 'SIGKILL');
      } catch {
        // Already gone.
      }
    }
  }
  children.clear();
  for (const cleanup of cleanups.splice(0)) {
    try {
      cleanup();
    } catch {
      // Best effort at exit.
    }
  }
}

/** Runs `cleanup` (synchronously) when the harness exits, e.g. to remove a temporary directory. */
export function onHarnessExit(cleanup: () => void): void {
  installExitHooks();
  cleanups.push(cleanup);
}

function installExitHooks(): void {
  if (exitHooksInstalled) return;
  exitHooksInstalled = true;
  process.on('exit', killAllChildren);
  for (const signal of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) {
    process.on(signal, () => {
      process.stderr.write(`\nbench: ${signal}: stopping every server and child process\n`);
      killAllChildren();
      process.exit(130);
    });
  }
}

/** Spawns and tracks a child so that it is killed when the harness exits. */
export function spawnTracked(command: string, args: readonly string[], options: SpawnOptions): ChildProcess {
  installExitHooks();
  const child = spawn(command, args, options);
  children.add(child);
  child.on('exit', () => children.delete(child));
  return child;
}

/** Tracks a child spawned elsewhere (e.g. with fork). */
export function track(child: ChildProcess): ChildProcess {
  installExitHooks();
  children.add(child);
  child.on('exit', () => children.delete(child));
  return child;
}

export interface BoundedRunOptions {
  readonly cwd?: string;
  readonly env?: NodeJS.ProcessEnv;
  /** Hard bound: `timeout` sends SIGTERM at this point and SIGKILL 5 s later. */
  readonly timeoutMs: number;
  /** Keep at most this many characters of stdout and of stderr (the tail). @default 2_000_000 */
  readonly keepChars?: number;
  /** Called with each stderr chunk, e.g. to follow progress. */
  readonly onStderr?: (chunk: string) => void;
}

export interface BoundedRunResult {
  /** Exit code, or undefined when killed by a signal. */
  readonly exitCode?: number;
  readonly signal?: string;
  /** True when the bound was reached (timeout's exit code 124, or the run lasted the whole bound). */
  readonly timedOut: boolean;
  /** From spawn to exit, as seen by the harness. */
  readonly wallMs: number;
  readonly stdout: string;
  readonly stderr: string;
}

/** Runs `command args` under `timeout`, collecting its output; never rejects for a non-zero exit. */
export function runBounded(command: string, args: readonly string[], options: BoundedRunOptions): Promise<BoundedRunResult> {
  const keep = options.keepChars ?? 2_000_000;
  const seconds = Math.max(1, Math.ceil(options.timeoutMs / 1000));
  return new Promise((resolve, reject) => {
    const started = performance.now();
    const child = spawnTracked('timeout', ['--kill-after=5', String(seconds), command, ...args], {
      cwd: options.cwd,
      env: options.env,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout?.setEncoding('utf8').on('data', (chunk: string) => {
      stdout = (stdout + chunk).slice(-keep);
    });
    child.stderr?.setEncoding('utf8').on('data', (chunk: string) => {
      stderr = (stderr + chunk).slice(-keep);
      options.onStderr?.(chunk);
    });
    child.on('error', (err) => reject(new Error(`cannot start ${command}: ${err.message}`)));
    child.on('close', (code, signal) => {
      // timeout answers 124 when it stopped the command; a command killed by a signal of its own
      // (e.g. SIGABRT on out-of-memory) makes timeout raise that signal on itself.
      const wallMs = performance.now() - started;
      const timedOut = code === 124 || wallMs >= seconds * 1000;
      resolve({
        exitCode: code ?? undefined,
        signal: signal ?? undefined,
        timedOut,
        wallMs,
        stdout,
        stderr,
      });
    });
  });
}

/** Resolves after `ms`. */
export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

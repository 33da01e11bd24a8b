/**
 * One measured cycle of the upstream MODEL (bench/upstream-model-process.ts) in its own process,
 * bounded in time: a cycle that stalls (a hanging node, with no timeout) is stopped at the bound and
 * reported with how far it got.
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import type { ClusterInfo } from './cluster-protocol';
import { loopbackAwsEnv, type ResourceUsage } from './collector-run';
import { runBounded } from './processes';
import type { UpstreamModelResult } from './upstream-model';

export interface UpstreamRun {
  readonly result?: UpstreamModelResult;
  readonly timedOut: boolean;
  readonly boundMs: number;
  readonly processWallMs: number;
  /** Nodes done when the run ended (from the model's progress lines). */
  readonly nodesDone: number;
  readonly usage?: ResourceUsage;
  readonly error?: string;
}

export async function runUpstreamModel(cluster: ClusterInfo, boundMs: number, cwd: string): Promise<UpstreamRun> {
  const usageFile = path.join(fs.mkdtempSync(path.join(os.tmpdir(), 'bench-upstream-')), 'usage.json');
  let nodesDone = 0;
  try {
    const run = await runBounded(process.execPath, [
      '-r', path.join(__dirname, 'measure-exit.cjs'), '--import', 'tsx', path.join(__dirname, 'upstream-model-process.ts'),
    ], {
      cwd,
      timeoutMs: boundMs,
      env: {
        PATH: process.env.PATH,
        HOME: process.env.HOME,
        BENCH_KUBE_API: cluster.kubeApiUrl,
        IPAMD_METRICS_PORT: String(cluster.ipamdPort),
        ...loopbackAwsEnv(cluster),
        BENCH_RESOURCE_FILE: usageFile,
      },
      onStderr: (chunk) => {
        for (const match of chunk.matchAll(/^progress (\d+) \d+$/gm)) nodesDone = Number(match[1]);
      },
    });
    const resultLine = run.stdout.split('\n').find((l) => l.startsWith('{'));
    const usage = fs.existsSync(usageFile) ? JSON.parse(fs.readFileSync(usageFile, 'utf8')) as ResourceUsage : undefined;
    const failure = run.stderr.split('\n').find((l) => l.startsWith('upstream model failed'));
    return {
      result: resultLine ? JSON.parse(resultLine) as UpstreamModelResult : undefined,
      timedOut: run.timedOut,
      boundMs,
      processWallMs: run.wallMs,
      nodesDone,
      usage,
      ...(failure ? { error: failure } : !resultLine && !run.timedOut ? { error: run.stderr.slice(-500) } : {}),
    };
  } finally {
    fs.rmSync(path.dirname(usageFile), { recursive: true, force: true });
  }
}

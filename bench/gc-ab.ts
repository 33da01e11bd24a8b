/**
 * Two collector bundles, A and B, run long-lived in turn against one simulated cluster: CPU per node
 * per cycle, and what V8's garbage collector did in the same window, read from the collector's own
 * `--trace-gc-nvp` trace (scavenges, their pause and the bytes that survived each, mark-compacts).
 * Runs alternate A, B, A, B... so both see the same machine; the report gives each run, the medians
 * and the ratio B / A measured in the same session.
 *
 *   node --import tsx bench/gc-ab.ts --a bench/work/a.js --b bench/work/b.js [--nodes 10000]
 *     [--mode proxy] [--concurrency 64] [--pairs 3] [--interval 15] [--cycles 2]
 *     [--node-flags "--max-old-space-size=332 --max-semi-space-size=32"] [--hang-every 100] [--out bench/runs/gc-ab.md]
 *
 * The interval should exceed a cycle, so that the stop arrives between cycles and the trace ends whole.
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { ClusterProcess } from './cluster-client';
import { envAssignments, PASSED_ON_ENV } from './collector-run';
import { runCollectorSteady, type SteadyRun } from './collector-steady';
import { describeMachine } from './machine';
import { argOption, payloadFiles } from './payload-files';
import { median } from './stats';

const REPO_ROOT = path.resolve(__dirname, '..');

interface GcWindow {
  readonly scavenges: number;
  readonly meanScavengePauseMs: number;
  readonly meanSurvivedMiB: number;
  readonly markCompacts: number;
  readonly pauseMsTotal: number;
}

interface AbRun {
  readonly bundle: 'A' | 'B';
  readonly run: SteadyRun;
  readonly cpuMsPerNode: number;
  readonly gc: GcWindow;
}

/** GC events of an nvp trace in its last `windowMs` (the measured cycles). */
export function gcWindow(trace: string, windowMs: number): GcWindow {
  const events = trace.split('\n').flatMap((line) => {
    const at = /\s(\d+(?:\.\d+)?) ms: /.exec(line);
    const kind = /\bgc=(\w+)/.exec(line)?.[1];
    if (!at || kind === undefined) return [];
    const field = (name: string): number => Number(new RegExp(`\\b${name}=([\\d.]+)`).exec(line)?.[1] ?? NaN);
    return [{ atMs: Number(at[1]), kind, pauseMs: field('pause'), survived: field('new_space_survived') }];
  });
  const end = events.length ? events[events.length - 1].atMs : 0;
  const inWindow = events.filter((e) => e.atMs >= end - windowMs);
  const scavenges = inWindow.filter((e) => e.kind === 's');
  const mean = (values: number[]): number => (values.length ? values.reduce((a, b) => a + b, 0) / values.length : NaN);
  return {
    scavenges: scavenges.length,
    meanScavengePauseMs: mean(scavenges.map((e) => e.pauseMs)),
    meanSurvivedMiB: mean(scavenges.map((e) => e.survived)) / 1048576,
    markCompacts: inWindow.filter((e) => e.kind === 'mc').length,
    pauseMsTotal: inWindow.reduce((sum, e) => sum + (Number.isFinite(e.pauseMs) ? e.pauseMs : 0), 0),
  };
}

async function main(argv: readonly string[]): Promise<void> {
  const bundles = { A: path.resolve(argOption(argv, '--a')), B: path.resolve(argOption(argv, '--b')) };
  const nodes = Number(argOption(argv, '--nodes', '10000'));
  const mode = argOption(argv, '--mode', 'proxy') as 'proxy' | 'direct';
  const concurrency = Number(argOption(argv, '--concurrency', '64'));
  const pairs = Number(argOption(argv, '--pairs', '3'));
  const intervalSeconds = Number(argOption(argv, '--interval', '15'));
  const measuredCycles = Number(argOption(argv, '--cycles', '2'));
  const nodeFlags = argOption(argv, '--node-flags', '--max-old-space-size=332 --max-semi-space-size=32').split(' ').filter(Boolean);
  const out = argOption(argv, '--out', 'bench/runs/gc-ab.md');
  // One node in `hangEvery` never answers (100: the 1% of issue 12); 0: every node answers.
  const hangEvery = Number(argOption(argv, '--hang-every', '100'));
  if (!Number.isInteger(hangEvery) || hangEvery < 0) throw new Error(`--hang-every must be a whole number (0: every node answers), got ${hangEvery}`);
  const payload = payloadFiles();
  const startedAt = new Date();
  const machine = describeMachine(REPO_ROOT);

  const cluster = ClusterProcess.spawn(REPO_ROOT);
  const runs: AbRun[] = [];
  const traceDir = fs.mkdtempSync(path.join(os.tmpdir(), 'gc-ab-'));
  try {
    const info = await cluster.start({ count: nodes, mode, latencyMs: 20, hangEvery, payloadFiles: payload.files, realisticPods: true });
    for (let i = 0; i < pairs * 2; i++) {
      const which = i % 2 === 0 ? 'A' : 'B';
      const stdoutFile = path.join(traceDir, `${i}.trace`);
      const run = await runCollectorSteady({
        bundle: bundles[which], cluster: info, settings: { mode, concurrency, timeoutMs: 3000 },
        intervalSeconds, warmupCycles: 2, measuredCycles, nodeFlags: [...nodeFlags, '--trace-gc-nvp'], cwd: REPO_ROOT, stdoutFile,
      });
      if (run.error) throw new Error(`run ${i + 1} (${which}): ${run.error}`);
      const gc = gcWindow(fs.readFileSync(stdoutFile, 'utf8'), run.windowMs);
      runs.push({ bundle: which, run, cpuMsPerNode: run.cpuMsPerCycle / nodes, gc });
      process.stderr.write(`[gc-ab] ${which}: ${(run.cpuMsPerCycle / nodes).toFixed(3)} ms/node, survived ${gc.meanSurvivedMiB.toFixed(2)} MiB a scavenge\n`);
    }
  } finally {
    await cluster.close();
    fs.rmSync(traceDir, { recursive: true, force: true });
  }

  const row = (r: AbRun): string => `| ${r.bundle} | ${r.cpuMsPerNode.toFixed(3)} | ${r.run.cycleMs.join(' / ')} | ${r.run.peakRssMiB?.toFixed(0) ?? '-'} `
    + `| ${r.gc.scavenges} | ${r.gc.meanScavengePauseMs.toFixed(2)} | ${r.gc.meanSurvivedMiB.toFixed(2)} | ${r.gc.markCompacts} | ${(r.gc.pauseMsTotal / r.run.cycles).toFixed(0)} |`;
  const med = (which: 'A' | 'B', pick: (r: AbRun) => number): number => median(runs.filter((r) => r.bundle === which).map(pick));
  const figures: [string, (r: AbRun) => number, number][] = [
    ['CPU ms per node per cycle', (r) => r.cpuMsPerNode, 3],
    ['GC pause ms per cycle', (r) => r.gc.pauseMsTotal / r.run.cycles, 0],
    ['MiB surviving a scavenge', (r) => r.gc.meanSurvivedMiB, 2],
    ['scavenge pause ms', (r) => r.gc.meanScavengePauseMs, 2],
    ['mark-compacts in the window', (r) => r.gc.markCompacts, 0],
    ['peak RSS MiB', (r) => r.run.peakRssMiB ?? NaN, 0],
  ];
  // The environment passed on to the collector (e.g. SCRAPE_WORKERS) is part of the command.
  const command = [...envAssignments(PASSED_ON_ENV), 'node --import tsx bench/gc-ab.ts', ...argv].join(' ');
  const text = [
    '# Collector A/B: CPU and garbage collection, long-running',
    '',
    `Generated by \`${command}\` on ${startedAt.toISOString().slice(0, 16).replace('T', ' ')} UTC.`,
    '',
    `- Machine: ${machine.nproc} cores (${machine.cpuModel}), ${machine.memoryGiB.toFixed(1)} GiB, Node ${machine.node}, load ${machine.loadAtStart.join(' / ')} at the start; commit ${machine.gitCommit}${machine.runtimeDirty.length ? ` with uncommitted runtime/ changes (${machine.runtimeDirty.join(', ')})` : ''}.`,
    `- A: ${path.relative(REPO_ROOT, bundles.A)}; B: ${path.relative(REPO_ROOT, bundles.B)}.`,
    `- ${nodes.toLocaleString('en-US')} nodes, ${mode} mode, SCRAPE_CONCURRENCY=${concurrency}, ${hangEvery > 0 ? `one node in ${hangEvery} never answering` : 'every node answering'}, 3 s scrape timeout, `
      + `realistic aws-node pods, payloads ${payload.files.map((f) => path.basename(f)).join(', ')}${payload.fallback ? ' (fallback: ../shared absent)' : ''}, interval ${intervalSeconds} s, 2 warm-up cycles then ${measuredCycles} measured; collector flags \`${nodeFlags.join(' ')} --trace-gc-nvp\`.`,
    '- CPU: the collector process over the measured cycles (bench/collector-steady.ts). GC: its --trace-gc-nvp events in the same window.',
    '',
    '| Bundle | CPU ms per node per cycle | Cycles ms | Peak RSS MiB | Scavenges | Mean scavenge pause ms | Mean MiB surviving a scavenge | Mark-compacts | GC pause ms per cycle |',
    '|---|---:|---|---:|---:|---:|---:|---:|---:|',
    ...runs.map(row),
    '',
    '| Median | A | B | B / A |',
    '|---|---:|---:|---:|',
    ...figures.map(([name, pick, digits]) => {
      const a = med('A', pick);
      const b = med('B', pick);
      return `| ${name} | ${a.toFixed(digits)} | ${b.toFixed(digits)} | ${(b / a).toFixed(2)} |`;
    }),
    '',
  ].join('\n');
  fs.mkdirSync(path.dirname(path.resolve(REPO_ROOT, out)), { recursive: true });
  fs.writeFileSync(path.resolve(REPO_ROOT, out), text);
  process.stdout.write(text);
}

if (require.main === module) {
  main(process.argv.slice(2)).then(() => process.exit(0), (err: unknown) => {
    process.stderr.write(`gc-ab: ${err instanceof Error ? err.message : String(err)}\n`);
    process.exit(1);
  });
}

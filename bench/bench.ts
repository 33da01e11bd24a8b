/**
 * `npm run bench`: the scale and speed benchmarks of issue 4, run in one go and written to
 * bench/RESULTS.md (and bench/results.json).
 *
 * Stages, in order: the collector at each size (measured in its own process against a simulated
 * cluster in another, lower-priority process), a CPU profile of the largest scenario, the upstream
 * MODEL, Prometheus scraping the same endpoints, the parser against parse-prometheus-text-format,
 * `cdk synth`, and last `npm test`. A stage that fails is recorded and the others still run; every
 * server and child process is stopped at the end, whatever happens.
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { ClusterProcess } from './cluster-client';
import type { ClusterInfo, ClusterMode, ClusterSpec } from './cluster-protocol';
import { envAssignments, PASSED_ON_ENV, runCollectorOnce, type CollectorSettings } from './collector-run';
import { runCollectorSteady } from './collector-steady';
import { buildCollectorBundle, buildProfilingBundle } from './collector-bundle';
import { formatProfileSummary, summarizeCpuProfile } from './cpu-profile';
import { describeMachine, fileDigest } from './machine';
import { OptionsError, parseOptions, USAGE, type BenchOptions } from './options';
import { payloadFiles } from './payload-files';
import { runParserBench } from './parser-bench';
import { killAllChildren } from './processes';
import { ensurePrometheus, runPrometheusBaseline } from './prometheus-baseline';
import type { BenchResults, CollectorRunFigures, CollectorScenario, ProfileFigures, SteadyScenario, UpstreamScenario } from './results';
import { upstreamCycleSeconds } from './results';
import { renderResultsMarkdown } from './results-markdown';
import { timeCdkSynth, timeNpmTest } from './tooling-times';
import { runUpstreamModel } from './upstream-run';

const REPO_ROOT = path.resolve(__dirname, '..');
const WORK_DIR = path.join(REPO_ROOT, 'bench', 'work');

function log(message: string): void {
  process.stderr.write(`[bench ${new Date().toISOString().slice(11, 19)}] ${message}\n`);
}

function hangEvery(percent: number): number {
  return percent > 0 ? Math.round(100 / percent) : 0;
}

async function main(argv: readonly string[]): Promise<number> {
  let options: BenchOptions;
  try {
    const parsed = parseOptions(argv);
    if (parsed === 'help') {
      process.stdout.write(USAGE + '\n');
      return 0;
    }
    options = parsed;
  } catch (err) {
    if (err instanceof OptionsError) {
      process.stderr.write(`bench: ${err.message}\n`);
      return 2;
    }
    throw err;
  }

  const started = performance.now();
  const startedAt = new Date().toISOString();
  fs.mkdirSync(WORK_DIR, { recursive: true });
  const machine = describeMachine(REPO_ROOT);
  const payload = payloadFiles();
  const errors: string[] = [];
  const collector: CollectorScenario[] = [];
  const steady: SteadyScenario[] = [];
  const upstream: UpstreamScenario[] = [];
  const prometheus: BenchResults['prometheus'][number][] = [];
  let bundle: BenchResults['bundle'];
  let profile: ProfileFigures | undefined;
  let prometheusVersion: string | undefined;
  let parser: BenchResults['parser'];
  let synth: BenchResults['synth'];
  let npmTest: BenchResults['npmTest'];
  let cluster: ClusterProcess | undefined;
  log(`${machine.nproc} cores, load ${machine.loadAtStart.map((l) => l.toFixed(2)).join(' ')}, payloads: ${payload.files.map((f) => path.basename(f)).join(', ')}${payload.fallback ? ' (fallback)' : ''}`);

  const stage = async (name: string, run: () => Promise<void>): Promise<void> => {
    log(`stage ${name}`);
    try {
      await run();
    } catch (err) {
      const message = `${name}: ${err instanceof Error ? err.message : String(err)}`;
      errors.push(message);
      log(`stage failed: ${message}`);
    }
  };
  const clusterProcess = (): ClusterProcess => {
    cluster ??= ClusterProcess.spawn(REPO_ROOT);
    return cluster;
  };
  const spec = (nodes: number, mode: ClusterMode, hangPercent: number): ClusterSpec => ({
    count: nodes, mode, latencyMs: options.latencyMs, hangEvery: hangEvery(hangPercent), payloadFiles: payload.files,
    realisticPods: options.realisticPods,
    ...(options.fleetMaxPerProcess !== undefined ? { maxEndpointsPerProcess: options.fleetMaxPerProcess } : {}),
  });
  /** Starts the simulated cluster and says how many processes serve its ipamd fleet. */
  const startCluster = async (nodes: number, mode: ClusterMode, hangPercent: number): Promise<ClusterInfo> => {
    const info = await clusterProcess().start(spec(nodes, mode, hangPercent));
    if (info.fleetProcesses > 1) log(`cluster N=${nodes} ${mode}: ipamd fleet served by ${info.fleetProcesses} shard processes`);
    return info;
  };

  try {
    const wantsCollector = options.stages.has('collector') || options.stages.has('steady') || options.stages.has('profile');
    if (wantsCollector) {
      await stage('build', async () => {
        const built = await buildCollectorBundle(REPO_ROOT, WORK_DIR, options.build, options.bundle);
        bundle = { path: path.relative(REPO_ROOT, built), ...fileDigest(built) };
      });
    }

    if (options.stages.has('collector') && bundle) {
      await stage('collector', async () => {
        for (const nodes of [...options.sizes].sort((a, b) => a - b)) {
          for (const mode of options.modes) {
            const info = await startCluster(nodes, mode, options.hangPercent);
            for (const concurrency of options.concurrency) {
              const runs: CollectorRunFigures[] = [];
              const settings: CollectorSettings = { mode, concurrency, timeoutMs: options.timeoutMs };
              for (let r = 0; r < options.repeats; r++) {
                await clusterProcess().counters(true);
                const load1 = os.loadavg()[0];
                const run = await runCollectorOnce({
                  bundle: path.join(REPO_ROOT, (bundle as { path: string }).path), cluster: info, settings,
                  boundMs: 120_000 + nodes * 20, cwd: REPO_ROOT, nodeFlags: options.collectorNodeFlags,
                });
                const seen = await clusterProcess().counters(true);
                const figures: CollectorRunFigures = {
                  exitCode: run.exitCode,
                  signal: run.signal,
                  timedOut: run.timedOut,
                  cycleMs: run.cycle?.durationMs,
                  processWallMs: run.processWallMs,
                  cpuMs: run.usage ? run.usage.userCpuMs + run.usage.systemCpuMs : undefined,
                  maxRssMiB: run.usage ? run.usage.maxRssKiB / 1024 : undefined,
                  nodesOk: run.cycle?.nodesOk,
                  nodesFailed: run.cycle?.nodesFailed,
                  datums: run.cycle?.datums,
                  cloudWatchRequests: seen.cloudWatchRequests,
                  cloudWatchWireBytes: seen.cloudWatchWireBytes,
                  cloudWatchBodyBytes: seen.cloudWatchBodyBytes,
                  ipamdRequests: seen.ipamdRequests,
                  ipamdPeakInFlight: seen.ipamdPeakInFlight,
                  clusterCpuMs: seen.clusterCpuMs,
                  load1,
                  warnings: run.warnings,
                  ...(run.exitCode !== 0 ? { failure: `${run.signal ? `killed by ${run.signal}: ` : ''}${run.stderrTail}` } : {}),
                };
                runs.push(figures);
                log(`collector N=${nodes} ${mode} c=${concurrency} #${r + 1}: cycle ${figures.cycleMs ?? '-'} ms, `
                  + `process ${figures.processWallMs.toFixed(0)} ms, cpu ${figures.cpuMs?.toFixed(0) ?? '-'} ms, `
                  + `rss ${figures.maxRssMiB?.toFixed(0) ?? '-'} MiB, ${figures.signal ? `killed by ${figures.signal}` : `exit ${figures.exitCode}`}, load ${load1.toFixed(1)}`);
              }
              collector.push({ nodes, mode, concurrency, hanging: info.hanging.length, runs });
            }
          }
        }
      });
    }

    if (options.stages.has('steady') && bundle) {
      await stage('steady', async () => {
        const concurrency = Math.max(...options.concurrency);
        for (const nodes of [...options.sizes].sort((a, b) => a - b)) {
          for (const mode of options.modes) {
            const info = await startCluster(nodes, mode, options.hangPercent);
            await clusterProcess().counters(true);
            const load1 = os.loadavg()[0];
            const run = await runCollectorSteady({
              bundle: path.join(REPO_ROOT, (bundle as { path: string }).path), cluster: info,
              settings: { mode, concurrency, timeoutMs: options.timeoutMs },
              intervalSeconds: options.steadyIntervalSeconds,
              warmupCycles: options.steadyWarmupCycles,
              measuredCycles: options.steadyCycles,
              nodeFlags: options.collectorNodeFlags,
              cwd: REPO_ROOT,
            });
            const seen = await clusterProcess().counters(true);
            const totalCycles = options.steadyWarmupCycles + options.steadyCycles;
            steady.push({
              nodes, mode, concurrency, hanging: info.hanging.length,
              intervalSeconds: options.steadyIntervalSeconds,
              cycles: run.cycles,
              cpuMsPerCycle: run.cpuMsPerCycle,
              cpuMsPerNodePerCycle: run.cpuMsPerCycle / nodes,
              cycleMs: run.cycleMs,
              peakRssMiB: run.peakRssMiB,
              cloudWatchRequestsPerCycle: seen.cloudWatchRequests / totalCycles,
              clusterCpuMs: seen.clusterCpuMs,
              load1,
              ...(run.error ? { error: run.error } : {}),
            });
            log(`steady N=${nodes} ${mode} c=${concurrency}: ${run.cpuMsPerCycle.toFixed(0)} ms CPU per cycle over ${run.cycles} cycles, `
              + `cycles ${run.cycleMs.join('/')} ms, peak RSS ${run.peakRssMiB?.toFixed(0) ?? '-'} MiB${run.error ? `; ${run.error}` : ''}`);
          }
        }
      });
    }

    if (options.stages.has('profile') && bundle) {
      await stage('profile', async () => {
        const nodes = Math.max(...options.sizes);
        const mode = options.modes.includes('direct') ? 'direct' : options.modes[0];
        const concurrency = Math.max(...options.concurrency);
        const profileDir = path.join(WORK_DIR, 'profile');
        fs.rmSync(profileDir, { recursive: true, force: true });
        fs.mkdirSync(profileDir, { recursive: true });
        const named = await buildProfilingBundle(REPO_ROOT, WORK_DIR);
        const info = await startCluster(nodes, mode, options.hangPercent);
        const run = await runCollectorOnce({
          bundle: named, cluster: info, settings: { mode, concurrency, timeoutMs: options.timeoutMs },
          boundMs: 120_000 + nodes * 20, cwd: REPO_ROOT, nodeFlags: ['--cpu-prof', `--cpu-prof-dir=${profileDir}`],
        });
        const file = fs.readdirSync(profileDir).find((f) => f.endsWith('.cpuprofile'));
        if (!file) throw new Error(`no CPU profile was written (collector exit ${run.exitCode}): ${run.stderrTail}`);
        const summary = summarizeCpuProfile(path.join(profileDir, file), 20,
          ['parseExposition', 'aggregate', 'fetchText', 'scrapeOne', 'discoverNodes', 'publish']);
        profile = {
          scenario: `N=${nodes}, ${mode}, SCRAPE_CONCURRENCY=${concurrency}, cycle ${run.cycle?.durationMs ?? '-'} ms under the profiler`,
          text: formatProfileSummary(summary),
        };
      });
    }

    if (options.stages.has('upstream')) {
      await stage('upstream', async () => {
        for (const nodes of [...options.upstreamSizes].sort((a, b) => a - b)) {
          const info = await startCluster(nodes, 'proxy', 0);
          const boundMs = Math.ceil(upstreamCycleSeconds(nodes, options.latencyMs + 10) * 1500) + 30_000;
          upstream.push(await measureUpstream(clusterProcess(), info, nodes, 0, boundMs));
        }
        // The stall: one node of the smallest size never answers, and upstream has no timeout.
        const nodes = Math.min(...(options.upstreamSizes.length ? options.upstreamSizes : [100]));
        const info = await startCluster(nodes, 'proxy', 100 / nodes);
        upstream.push(await measureUpstream(clusterProcess(), info, nodes, info.hanging.length, options.upstreamStallBoundMs));
      });
    }

    if (options.stages.has('prometheus') && options.prometheusSizes.length > 0) {
      await stage('prometheus', async () => {
        prometheusVersion = await ensurePrometheus();
        for (const nodes of [...options.prometheusSizes].sort((a, b) => a - b)) {
          const info = await startCluster(nodes, 'direct', options.hangPercent);
          const result = await runPrometheusBaseline({
            cluster: clusterProcess(), info,
            scrapeIntervalSeconds: options.prometheusIntervalSeconds,
            scrapeTimeoutMs: options.timeoutMs,
            warmupRounds: options.prometheusWarmupRounds,
            measuredRounds: options.prometheusRounds,
            keepCatalogFamiliesOnly: !options.prometheusKeepAll,
          }, prometheusVersion);
          prometheus.push(result);
          log(`prometheus N=${nodes}: ${(result.cpuSecondsPerTargetPerRound * 1000).toFixed(3)} ms CPU per target per round `
            + `(${result.cpuSeconds.toFixed(2)} s over ${result.scrapes} scrapes)`);
        }
      });
    }

    if (cluster) {
      await cluster.close().catch((err) => errors.push(`closing the simulated cluster: ${(err as Error).message}`));
      cluster = undefined;
    }

    if (options.stages.has('parser')) {
      await stage('parser', async () => {
        parser = runParserBench({ files: payload.files });
        log(`parser: ours ${parser.total.oursAllMBps.toFixed(1)} MB/s, reference ${parser.total.referenceMBps.toFixed(1)} MB/s`);
      });
    }
    if (options.stages.has('synth')) {
      await stage('synth', async () => {
        synth = await timeCdkSynth(REPO_ROOT, 300_000);
        log(`cdk synth: ${(synth.wallMs / 1000).toFixed(1)} s, exit ${synth.exitCode}`);
      });
    }
    // Last: it is the slowest, and it rebuilds dist/collector.js (the bench measured its own copy).
    if (options.stages.has('npm-test')) {
      await stage('npm-test', async () => {
        npmTest = await timeNpmTest(REPO_ROOT, 900_000);
        log(`npm test: ${(npmTest.wallMs / 1000).toFixed(1)} s, exit ${npmTest.exitCode}`);
      });
    }
  } finally {
    if (cluster) await cluster.close().catch(() => undefined);
    killAllChildren();
  }

  const results: BenchResults = {
    // The environment the harness passes on (PASSED_ON_ENV) or reads (BENCH_CLUSTER_NICENESS) is part of the command.
    command: [
      ...envAssignments([...PASSED_ON_ENV, 'BENCH_CLUSTER_NICENESS']),
      'npm run bench', ...(argv.length ? ['--', ...argv] : []),
    ].join(' '),
    startedAt,
    durationMs: performance.now() - started,
    machine,
    options: { ...options, stages: [...options.stages] },
    bundle,
    payloadFiles: payload.files.map((f) => path.relative(REPO_ROOT, f)),
    payloadFallback: payload.fallback,
    clusterNiceness: 10,
    collector,
    steady,
    profile,
    upstream,
    prometheusVersion,
    prometheus,
    parser,
    synth,
    npmTest,
    errors,
  };
  fs.writeFileSync(path.resolve(REPO_ROOT, options.json), JSON.stringify(results, null, 2) + '\n');
  fs.writeFileSync(path.resolve(REPO_ROOT, options.out), renderResultsMarkdown(results));
  log(`wrote ${options.out} and ${options.json} in ${((performance.now() - started) / 1000).toFixed(0)} s`);
  return errors.length === 0 ? 0 : 1;
}

async function measureUpstream(cluster: ClusterProcess, info: Awaited<ReturnType<ClusterProcess['start']>>,
  nodes: number, hanging: number, boundMs: number): Promise<UpstreamScenario> {
  await cluster.counters(true);
  const run = await runUpstreamModel(info, boundMs, REPO_ROOT);
  const seen = await cluster.counters(true);
  log(`upstream MODEL N=${nodes} hanging=${hanging}: ${run.timedOut ? `stopped at the ${boundMs / 1000} s bound` : `cycle ${run.result?.cycleMs.toFixed(0)} ms`}, `
    + `${seen.kubeProxies} proxy requests`);
  return {
    nodes,
    hanging,
    boundMs,
    timedOut: run.timedOut,
    processWallMs: run.processWallMs,
    result: run.result,
    nodesRequested: seen.kubeProxies,
    cpuMs: run.usage ? run.usage.userCpuMs + run.usage.systemCpuMs : undefined,
    maxRssMiB: run.usage ? run.usage.maxRssKiB / 1024 : undefined,
    cloudWatchRequests: seen.cloudWatchRequests,
    ...(run.error ? { error: run.error } : {}),
  };
}

main(process.argv.slice(2)).then(
  (code) => process.exit(code),
  (err) => {
    killAllChildren();
    process.stderr.write(`bench: ${err instanceof Error ? err.stack ?? err.message : String(err)}\n`);
    process.exit(1);
  },
);

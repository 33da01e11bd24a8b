/**
 * The collector's entry point: reads the config, builds the pipeline (runtime/pipeline.ts) and owns
 * the lifecycle: the interval loop, --once, health endpoints, signals, and the flush on exit, all
 * inside one stop budget counted from the signal.
 *
 *   node collector.js            run a cycle every METRIC_UPDATE_INTERVAL seconds until SIGTERM/SIGINT
 *   node collector.js --once     one cycle, flush, exit (non-zero if nothing could be published)
 *   node collector.js --print    also write each cycle's cluster datums to stdout as JSON lines
 *
 * With LEADER_ELECTION=true only the replica holding the Lease runs cycles (discovers, scrapes,
 * publishes); the others tick and stand by. Becoming the leader resets the aggregator (every node a
 * baseline: no spike from counters last seen long ago); losing the Lease aborts the cycle in
 * flight, which is then not published; a stop request gives the Lease up at once.
 */
import { joinAbort } from './abort';
import { ConfigError, CollectorConfig, loadConfig } from './config';
import { CycleReport, errorMessage } from './cycle';
import { HealthServer, HealthState } from './health-server';
import { loadKubeConfig } from './kube-config';
import { createLogger, Logger, routeProcessWarnings } from './log';
import type { KubeConfig } from '@kubernetes/client-node';
import { LeaderElector, leaderElectorOptions } from './leader-election';
import { createPipeline, ONCE_LIST_DEADLINE_MS, Pipeline } from './pipeline';
import { scrapeWorkerScript } from './worker-source';

// The stop budget, from the signal: Kubernetes sends SIGKILL 30 s after SIGTERM by default.
/** The running cycle gets this long to finish before its discovery and scrapes are aborted. */
const CYCLE_GRACE_MS = 5_000;
/** The flush ends this long after the grace: what is still held then is logged as lost. */
const FLUSH_AFTER_GRACE_MS = 15_000;
/**
 * If anything still holds the process this long after the signal (it should not: every outside
 * call has a deadline), the collector logs what it loses and exits anyway, before the SIGKILL.
 */
const STOP_BACKSTOP_MS = 24_000;

interface Args {
  readonly once: boolean;
  readonly print: boolean;
}

const USAGE = 'usage: collector [--once] [--print]\n' +
  '  --once   run one cycle, flush, exit (exit code 1 if nothing could be published)\n' +
  '  --print  write each cycle\'s cluster metrics to stdout as JSON lines\n' +
  'Configuration is read from the environment; see the README.';

function parseArgs(argv: readonly string[]): Args | string {
  let once = false;
  let print = false;
  for (const arg of argv) {
    if (arg === '--once') once = true;
    else if (arg === '--print') print = true;
    else return `unknown argument ${JSON.stringify(arg)}\n${USAGE}`;
  }
  return { once, print };
}

export async function main(argv: readonly string[]): Promise<number> {
  if (argv.includes('--help') || argv.includes('-h')) {
    process.stdout.write(USAGE + '\n');
    return 0;
  }
  const args = parseArgs(argv);
  if (typeof args === 'string') {
    process.stderr.write(`collector: ${args}\n`);
    return 2;
  }
  let config: CollectorConfig;
  try {
    config = loadConfig();
  } catch (err) {
    if (err instanceof ConfigError) {
      process.stderr.write(`collector: configuration error: ${err.message}\n`);
      return 2;
    }
    throw err;
  }
  const logger = createLogger(config.logLevel.toLowerCase() as 'debug' | 'info' | 'warn' | 'error');
  routeProcessWarnings(logger);
  return new Collector(config, args, logger).run();
}

class Collector {
  private stopping = false;
  private stopRequestedMs?: number;
  private wake: () => void = () => {};
  /** Aborted CYCLE_GRACE_MS after a stop request: ends the running cycle's discovery and scrapes. */
  private readonly cycleAbort = new AbortController();
  private readonly health: HealthState = { startedMs: Date.now(), publishFailureStreak: 0 };
  private pipeline?: Pipeline;
  private elector?: LeaderElector;
  /** Counts the times this replica became the leader: a cycle publishes only in the term it started in. */
  private term = 0;
  /** Aborted when this replica stops leading: ends the cycle in flight. */
  private leadership = new AbortController();

  constructor(private readonly config: CollectorConfig, private readonly args: Args, private readonly logger: Logger) {}

  async run(): Promise<number> {
    const { config, logger } = this;
    let kubeConfig;
    try {
      kubeConfig = loadKubeConfig();
    } catch (err) {
      logger.error('cannot reach the Kubernetes API: no configuration', { error: errorMessage(err) });
      return 2;
    }
    const pipeline = createPipeline(config, { kubeConfig, logger, print: this.args.print, watchPods: !this.args.once,
      ...(this.args.once ? { tuning: { listDeadlineMs: ONCE_LIST_DEADLINE_MS } } : {}), workerScript: scrapeWorkerScript(require.main?.filename ?? __filename) });
    this.pipeline = pipeline;
    let healthServer: HealthServer | undefined;
    try {
      await pipeline.open();
      if (!this.args.once && config.healthPort > 0) {
        healthServer = new HealthServer(this.health, {
          staleAfterMs: 3 * config.intervalSeconds * 1000 + config.scrapeTimeoutMs,
          unreadyAfterPublishFailures: config.unreadyAfterPublishFailures,
        });
        await healthServer.start(config.healthPort);
      }
    } catch (err) {
      logger.error('cannot start a listener', { error: errorMessage(err) });
      await pipeline.close();
      return 2;
    }

    const onSignal = (signal: NodeJS.Signals) => this.requestStop(signal);
    process.on('SIGTERM', onSignal);
    process.on('SIGINT', onSignal);
    if (config.leaderElection && !this.args.once) this.startElection(pipeline, kubeConfig);
    logger.info('collector started', {
      cluster: config.clusterId,
      mode: config.scrapeMode,
      intervalSeconds: config.intervalSeconds,
      sinks: pipeline.sinks.map((s) => s.name),
      once: this.args.once,
      healthAddress: healthServer?.address,
      leaderElection: this.elector !== undefined,
      subnets: config.subnets?.subnetIds.length,
    });

    let lastReport: CycleReport | undefined;
    let lost = { unsent: 0, dropsUnreported: 0 };
    try {
      lastReport = await this.loop(pipeline);
    } finally {
      process.off('SIGTERM', onSignal);
      process.off('SIGINT', onSignal);
      // After a signal the flush shares its budget with the cycle grace; --once gets the flush alone.
      const flushDeadline = this.stopRequestedMs !== undefined
        ? this.stopRequestedMs + CYCLE_GRACE_MS + FLUSH_AFTER_GRACE_MS
        : Date.now() + FLUSH_AFTER_GRACE_MS;
      // The Lease was given up at the stop request; this waits for that release (bounded by its own deadline).
      await this.elector?.stop();
      await pipeline.flush(flushDeadline);
      lost = this.lossesAtExit(pipeline);
      await Promise.allSettled([pipeline.close(), healthServer?.stop()]);
    }

    logger.info('collector stopped', {
      sentDatums: pipeline.cloudWatch?.sentCount,
      // Lost with the process: held and never accepted, and drops never reported in collectorDatumsDropped.
      unsentDatums: lost.unsent,
      dropsUnreported: lost.dropsUnreported,
      stopMs: this.stopRequestedMs !== undefined ? Date.now() - this.stopRequestedMs : undefined,
    });
    if (!this.args.once) return 0;
    // --once: success means the cycle produced ipamd data and every enabled sink took all of it.
    const published = lastReport !== undefined && lastReport.scraped > 0 && lost.unsent === 0;
    return published ? 0 : 1;
  }

  private lossesAtExit(pipeline: Pipeline): { unsent: number; dropsUnreported: number } {
    const owed = pipeline.runner.outstanding();
    return { unsent: owed.held, dropsUnreported: owed.dropsUnreported };
  }

  private async loop(pipeline: Pipeline): Promise<CycleReport | undefined> {
    const intervalMs = this.config.intervalSeconds * 1000;
    let nextStart = Date.now();
    let report: CycleReport | undefined;
    while (!this.stopping) {
      const elector = this.elector;
      if (elector && !elector.isLeader) {
        // Standby: the loop ticks (liveness) and wakes early when this replica becomes the leader.
        this.health.standby = true;
        this.health.lastCycleEndMs = Date.now();
        await this.sleep(intervalMs);
        nextStart = Date.now();
        continue;
      }
      this.health.standby = false;
      const term = this.term;
      const joined = elector ? joinAbort([this.cycleAbort.signal, this.leadership.signal]) : undefined;
      const signal = joined?.signal ?? this.cycleAbort.signal;
      try {
        report = await pipeline.runner.run(signal, {
          // A cycle publishes only if this replica still leads in the term the cycle started in.
          mayPublish: () => !elector || (elector.isLeader && this.term === term && !this.leadership.signal.aborted),
        });
        this.recordHealth(report);
      } catch (err) {
        // Not expected (stages catch their own failures); the loop goes on, and liveness sees no finished cycle.
        this.logger.error('cycle crashed', { error: errorMessage(err) });
      } finally {
        joined?.dispose();
      }
      if (this.args.once) break;
      nextStart += intervalMs;
      const wait = nextStart - Date.now();
      if (wait < 0) {
        this.logger.warn('cycle took longer than the interval; starting the next one now', {
          intervalSeconds: this.config.intervalSeconds,
          durationMs: report?.durationMs,
        });
        nextStart = Date.now();
      } else {
        await this.sleep(wait);
      }
    }
    return report;
  }

  /** Starts the Lease election and ties its events to the loop. */
  private startElection(pipeline: Pipeline, kubeConfig: KubeConfig): void {
    const settings = this.config.leaderElection;
    if (!settings) return;
    const elector = new LeaderElector(leaderElectorOptions(settings, kubeConfig, this.logger));
    elector.on('startedLeading', () => {
      this.term += 1;
      this.leadership = new AbortController();
      // Counters last seen before this term (or never) must not come out as one cycle's increase.
      pipeline.resetAggregation();
      this.wake();
    });
    elector.on('stoppedLeading', (reason) => {
      this.leadership.abort(new Error(`stopped leading: ${reason}`));
    });
    this.elector = elector;
    elector.start();
  }

  private recordHealth(report: CycleReport): void {
    const now = Date.now();
    this.health.lastCycleEndMs = now;
    if (report.scraped > 0) this.health.lastScrapedCycleEndMs = now;
    this.health.publishFailureStreak = report.publishFailureStreak;
  }

  private requestStop(signal: string): void {
    if (this.stopping) return;
    this.stopping = true;
    this.stopRequestedMs = Date.now();
    this.logger.info('stop requested; finishing the cycle and flushing', {
      signal, cycleGraceMs: CYCLE_GRACE_MS, flushEndsAfterMs: CYCLE_GRACE_MS + FLUSH_AFTER_GRACE_MS,
    });
    // A leader gives the Lease up now, so a standby takes over at its next try; the cycle in flight
    // is aborted and not published (the new leader's cycle covers it).
    void this.elector?.stop();
    this.wake();
    setTimeout(() => this.cycleAbort.abort(new Error(`stopped by ${signal}`)), CYCLE_GRACE_MS).unref();
    setTimeout(() => this.backstop(), STOP_BACKSTOP_MS).unref();
  }

  /** Last resort before Kubernetes' SIGKILL: say what is lost, then exit. */
  private backstop(): void {
    const lost = this.pipeline ? this.lossesAtExit(this.pipeline) : { unsent: 0, dropsUnreported: 0 };
    this.logger.error('stop budget exceeded; exiting with what is still held', {
      budgetMs: STOP_BACKSTOP_MS, unsentDatums: lost.unsent, dropsUnreported: lost.dropsUnreported,
    });
    process.exit(0);
  }

  private sleep(ms: number): Promise<void> {
    return new Promise((resolve) => {
      const timer = setTimeout(resolve, ms);
      this.wake = () => {
        clearTimeout(timer);
        resolve();
      };
    });
  }
}

/** Runs the collector as the process's program: exits with main()'s code; an unexpected rejection is one JSON line and exit 1. */
export function runCollectorProgram(): void {
  process.on('unhandledRejection', (reason) => {
    process.stderr.write(JSON.stringify({ level: 'error', msg: 'unhandled rejection', error: errorMessage(reason) }) + '\n');
    process.exit(1);
  });
  main(process.argv.slice(2)).then(
    (code) => process.exit(code),
    (err) => {
      process.stderr.write(JSON.stringify({ level: 'error', msg: 'collector crashed', error: errorMessage(err) }) + '\n');
      process.exit(1);
    },
  );
}

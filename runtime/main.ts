/**
 * The collector's entry point: wires config, discovery, scraping, aggregation and sinks,
 * and owns the lifecycle (interval loop, --once, signals, flush on exit).
 *
 *   node collector.js            run a cycle every METRIC_UPDATE_INTERVAL seconds until SIGTERM/SIGINT
 *   node collector.js --once     one cycle, flush, exit (non-zero if nothing could be published)
 *   node collector.js --print    also write each cycle's cluster datums to stdout as JSON lines
 */
import { ClusterAggregator } from './aggregate';
import { SCRAPED_FAMILIES } from '../common/catalog';
import { CloudWatchSink } from './cloudwatch-sink';
import { ConfigError, CollectorConfig, loadConfig } from './config';
import { CycleReport, CycleStages, errorMessage, runCycle } from './cycle';
import { discoverAwsNodePods } from './discover';
import { HealthServer, HealthState } from './health-server';
import { loadKubeConfig } from './kube-config';
import { createLogger, Logger, routeProcessWarnings } from './log';
import { PrometheusSink } from './prometheus-sink';
import { Scraper } from './scrape';
import { StdoutSink } from './stdout-sink';
import type { ParsedMetrics, Sink } from './types';

const EMPTY_METRICS: ParsedMetrics = new Map();

/** After SIGTERM a running cycle gets this long to finish before its scrapes are aborted. */
const CYCLE_GRACE_MS = 5_000;
/** Then the sinks get this long to send what they hold: inside Kubernetes' default 30 s grace. */
const FLUSH_DEADLINE_MS = 15_000;

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
  private wake: () => void = () => {};
  private readonly abort = new AbortController();
  private readonly health: HealthState = { startedMs: Date.now() };

  constructor(private readonly config: CollectorConfig, private readonly args: Args, private readonly logger: Logger) {}

  async run(): Promise<number> {
    const { config, logger } = this;
    let kc;
    try {
      kc = loadKubeConfig();
    } catch (err) {
      logger.error('cannot reach the Kubernetes API: no configuration', { error: errorMessage(err) });
      return 2;
    }
    const scraper = new Scraper(kc, {
      mode: config.scrapeMode,
      port: config.ipamdPort,
      timeoutMs: config.scrapeTimeoutMs,
      concurrency: config.scrapeConcurrency,
      maxBytes: config.scrapeMaxBytes,
      keep: SCRAPED_FAMILIES,
      logger,
    });
    const aggregator = new ClusterAggregator();
    const cloudWatch = config.useCloudWatch
      ? new CloudWatchSink({
        clusterId: config.clusterId,
        namespace: config.cloudWatchNamespace,
        region: config.region,
        bufferMaxDatums: config.bufferMaxDatums,
        logger,
      })
      : undefined;
    const sinks: Sink[] = [];
    if (cloudWatch) sinks.push(cloudWatch);
    if (this.args.print) sinks.push(new StdoutSink(config.clusterId));
    let healthServer: HealthServer | undefined;
    try {
      if (config.usePrometheus) {
        const prometheus = new PrometheusSink({ port: config.prometheusPort, clusterId: config.clusterId, logger });
        await prometheus.start();
        sinks.push(prometheus);
      }
      if (!this.args.once && config.healthPort > 0) {
        healthServer = new HealthServer(this.health, 3 * config.intervalSeconds * 1000 + config.scrapeTimeoutMs);
        await healthServer.start(config.healthPort);
      }
    } catch (err) {
      logger.error('cannot start a listener', { error: errorMessage(err) });
      await Promise.all(sinks.map((s) => s.stop()));
      return 2;
    }

    const stages: CycleStages = {
      discover: () => discoverAwsNodePods(kc, {
        namespace: config.awsNodeNamespace,
        labelSelector: config.awsNodeLabelSelector,
        pageSize: config.listPageSize,
        logger,
      }),
      // Each node is folded in as it arrives, so its parsed payload is garbage before the next one is read.
      scrape: (pods, signal, cycleTime) => {
        aggregator.begin(pods, (cycleTime ?? new Date()).getTime());
        return scraper.scrapeAll(pods, signal, (r) => {
          aggregator.fold(r);
          return r.ok ? { ...r, metrics: EMPTY_METRICS } : r;
        });
      },
      aggregate: (_results, cycleTime) => aggregator.finish(cycleTime),
      sentCount: cloudWatch ? () => cloudWatch.sentCount : undefined,
      takeDroppedCount: () => cloudWatch?.takeDropsToReport() ?? 0,
      sinks,
      logger,
    };

    const onSignal = (signal: NodeJS.Signals) => this.requestStop(signal);
    process.on('SIGTERM', onSignal);
    process.on('SIGINT', onSignal);
    logger.info('collector started', {
      cluster: config.clusterId,
      mode: config.scrapeMode,
      intervalSeconds: config.intervalSeconds,
      sinks: sinks.map((s) => s.name),
      once: this.args.once,
    });

    let lastReport: CycleReport | undefined;
    try {
      lastReport = await this.loop(stages);
    } finally {
      process.off('SIGTERM', onSignal);
      process.off('SIGINT', onSignal);
      const deadline = Date.now() + FLUSH_DEADLINE_MS;
      await Promise.allSettled(sinks.map((s) => s.flush(deadline)));
      scraper.close();
      await Promise.allSettled([...sinks.map((s) => s.stop()), healthServer?.stop()]);
    }

    const unsent = cloudWatch?.bufferedCount ?? 0;
    logger.info('collector stopped', { unsentDatums: unsent, sentDatums: cloudWatch?.sentCount });
    if (!this.args.once) return 0;
    // --once: success means the cycle produced ipamd data and every enabled sink took all of it.
    const published = lastReport !== undefined && lastReport.scraped > 0 && unsent === 0;
    return published ? 0 : 1;
  }

  private async loop(stages: CycleStages): Promise<CycleReport | undefined> {
    const intervalMs = this.config.intervalSeconds * 1000;
    let nextStart = Date.now();
    let report: CycleReport | undefined;
    while (!this.stopping) {
      // After a stop request the running cycle has CYCLE_GRACE_MS before its scrapes are aborted.
      report = await runCycle(stages, this.abort.signal);
      this.health.lastCycleEndMs = Date.now();
      if (this.args.once) break;
      nextStart += intervalMs;
      const wait = nextStart - Date.now();
      if (wait < 0) {
        this.logger.warn('cycle took longer than the interval; starting the next one now', {
          intervalSeconds: this.config.intervalSeconds,
          durationMs: report.durationMs,
        });
        nextStart = Date.now();
      } else {
        await this.sleep(wait);
      }
    }
    return report;
  }

  private requestStop(signal: string): void {
    if (this.stopping) return;
    this.stopping = true;
    this.logger.info('stop requested; finishing the cycle and flushing', { signal });
    this.wake();
    setTimeout(() => this.abort.abort(new Error(`stopped by ${signal}`)), CYCLE_GRACE_MS).unref();
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

if (require.main === module) {
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

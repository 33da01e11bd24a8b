/**
 * The one place the collector's pipeline is wired: discovery, the streaming collect stage
 * (scrape each node → fold it into the aggregator as it arrives → finish), the subnet watcher's
 * datums when SUBNET_IDS is set, and the sinks.
 * main.ts, the soak and the tests all build it here, so what they run is what production runs.
 */
import type { CloudWatchClient } from '@aws-sdk/client-cloudwatch';
import type { EC2Client } from '@aws-sdk/client-ec2';
import type { KubeConfig } from '@kubernetes/client-node';
import { SCRAPED_FAMILIES } from '../common/catalog';
import { ClusterAggregator } from './aggregate';
import { CloudWatchSink } from './cloudwatch-sink';
import type { CollectorConfig } from './config';
import { collectShare } from './collect-share';
import { CycleRunner, CycleStages, errorMessage } from './cycle';
import type { RetryPolicy } from './discover';
import { PodCache, discoverForCycle } from './pod-cache';
import type { Logger } from './log';
import { PrometheusSink } from './prometheus-sink';
import { apiServerOf, readProxyCredentials } from './proxy-auth';
import { Scraper } from './scrape';
import { ScrapeShards } from './shards';
import { StdoutSink } from './stdout-sink';
import type { SubnetWatcher } from './subnets';
import type { Sink } from './types';
import type { WorkerScript } from './worker-source';

/** A cycle waits for its sinks half the interval, and never longer than this. */
const MAX_PUBLISH_WAIT_MS = 5_000;
/** Longest a sink's stop() may take at exit. */
const SINK_STOP_DEADLINE_MS = 2_000;
/**
 * A pod list is abandoned after one interval, but never sooner than this: with a short interval
 * (tests, or 1 s by choice) the list's own retries (about 2 s of backoff) must still fit.
 */
const MIN_LIST_DEADLINE_MS = 10_000;

export interface PipelineDeps {
  readonly kubeConfig: KubeConfig;
  /** A CloudWatch client to use (tests point it at a loopback server). @default - the sink makes one from the SDK's settings */
  readonly cloudWatchClient?: CloudWatchClient;
  /** An EC2 client for the subnet watcher (tests). @default - the watcher makes one from the SDK's settings (AWS_ENDPOINT_URL_EC2, AWS_REGION) */
  readonly ec2Client?: EC2Client;
  readonly logger: Logger;
  /** Also write each cycle's datums to stdout as JSON lines (`--print`). @default false */
  readonly print?: boolean;
  /**
   * Keep the aws-node pods in a watch-based cache (list once, then watch with bookmarks; 410 → relist)
   * when the config's watchPods is on, so a cycle's API cost follows the changes, not the cluster size.
   * A cycle lists as before while the cache is not synced. `--once` passes false: one list is all there is.
   * @default false
   */
  readonly watchPods?: boolean;
  /**
   * The code SCRAPE_WORKERS worker threads run (runtime/worker-source.ts; collector.ts passes it).
   * Without it the main thread scrapes, whatever SCRAPE_WORKERS says (the soak and in-process tests).
   * @default - no workers
   */
  readonly workerScript?: WorkerScript;
  /** Timings the soak compresses (its cycles are milliseconds apart). @default - production timings */
  readonly tuning?: PipelineTuning;
}

export interface PipelineTuning {
  readonly discoverRetry?: Partial<RetryPolicy>;
  readonly cloudWatchBaseBackoffMs?: number;
  readonly cloudWatchMaxBackoffMs?: number;
  /** @default - half the interval, at most 5 s */
  readonly publishWaitMs?: number;
  /**
   * How long a cycle's own pod list may take. `--once` has no next cycle to list again, so main
   * gives it ONCE_LIST_DEADLINE_MS.
   * @default - one interval, at least 10 s
   */
  readonly listDeadlineMs?: number;
}

/**
 * The pod list deadline of a `--once` run: its only list may take as long as the API server needs
 * (100,000 realistic pods took 23-60 s here), its pages still bounded one by one.
 */
export const ONCE_LIST_DEADLINE_MS = 300_000;

export interface Pipeline {
  /** Runs cycles; `run(signal)` is one cycle. */
  readonly runner: CycleRunner;
  readonly sinks: readonly Sink[];
  /** The watch cache of aws-node pods, when on. */
  readonly podCache?: PodCache;
  /** For the soak's memory checks (tracked nodes); with scrape workers it only merges their parts. */
  readonly aggregator: ClusterAggregator;
  /** Forgets every node's counter state, in this thread and in the scrape workers (a new leader). */
  resetAggregation(): void;
  /** The CloudWatch sink when enabled (its buffer and counters), for the soak and the exit line. */
  readonly cloudWatch?: CloudWatchSink;
  /** The subnet watcher, once open() made it (SUBNET_IDS set). */
  readonly subnets: SubnetWatcher | undefined;
  /**
   * Starts the sinks that listen (Prometheus) and the subnet watcher (its first DescribeSubnets runs
   * in the background); rejects with the port and the fix when a sink cannot listen.
   */
  open(): Promise<void>;
  /** Sends what the sinks hold until done or `deadlineMs` (ms since the epoch). Never rejects. */
  flush(deadlineMs: number): Promise<void>;
  /** Closes the scraper's connections and stops every sink, each within a short deadline. */
  close(): Promise<void>;
}

export function createPipeline(config: CollectorConfig, deps: PipelineDeps): Pipeline {
  const { kubeConfig, logger } = deps;
  const tuning = deps.tuning ?? {};
  const scraper = new Scraper(kubeConfig, {
    mode: config.scrapeMode,
    port: config.ipamdPort,
    timeoutMs: config.scrapeTimeoutMs,
    concurrency: config.scrapeConcurrency,
    maxBytes: config.scrapeMaxBytes,
    keep: SCRAPED_FAMILIES,
    logger,
  });
  const aggregator = new ClusterAggregator({ logger });
  // Proxy mode with workers: this thread reads the credentials each cycle and hands them over.
  const workerScript = config.scrapeWorkers > 0 ? deps.workerScript : undefined;
  const workersProxy = workerScript !== undefined && config.scrapeMode === 'proxy';
  const shards = workerScript !== undefined
    ? new ScrapeShards({
      workers: config.scrapeWorkers,
      script: workerScript,
      ...(workersProxy ? { readCredentials: (timeoutMs: number, signal: AbortSignal) => readProxyCredentials(kubeConfig, timeoutMs, signal) } : {}),
      workerData: {
        ...(workersProxy ? { apiServer: apiServerOf(kubeConfig) } : {}),
        logLevel: config.logLevel.toLowerCase() as 'debug' | 'info' | 'warn' | 'error',
        scrape: {
          mode: config.scrapeMode, port: config.ipamdPort, timeoutMs: config.scrapeTimeoutMs,
          concurrency: config.scrapeConcurrency, maxBytes: config.scrapeMaxBytes,
        },
      },
      logger,
    })
    : undefined;

  const sinks: Sink[] = [];
  let cloudWatch: CloudWatchSink | undefined;
  if (config.useCloudWatch) {
    cloudWatch = new CloudWatchSink({
      clusterId: config.clusterId,
      namespace: config.cloudWatchNamespace,
      region: config.region,
      bufferMaxDatums: config.bufferMaxDatums,
      logger,
      ...(deps.cloudWatchClient ? { client: deps.cloudWatchClient } : {}),
      ...(tuning.cloudWatchBaseBackoffMs !== undefined ? { baseBackoffMs: tuning.cloudWatchBaseBackoffMs } : {}),
      ...(tuning.cloudWatchMaxBackoffMs !== undefined ? { maxBackoffMs: tuning.cloudWatchMaxBackoffMs } : {}),
    });
    sinks.push(cloudWatch);
  }
  if (deps.print) sinks.push(new StdoutSink(config.clusterId));
  const prometheus = config.usePrometheus
    ? new PrometheusSink({ port: config.prometheusPort, clusterId: config.clusterId, logger })
    : undefined;
  if (prometheus) sinks.push(prometheus);

  let subnets: SubnetWatcher | undefined;
  const discoverOptions = {
    namespace: config.awsNodeNamespace,
    labelSelector: config.awsNodeLabelSelector,
    pageSize: config.listPageSize,
    scrapeMode: config.scrapeMode,
    logger,
  };
  const podCache = deps.watchPods && config.watchPods ? new PodCache(kubeConfig, discoverOptions) : undefined;
  let lastSource: string | undefined;

  const stages: CycleStages = {
    discover: async (signal) => {
      const discovery = await discoverForCycle(podCache, kubeConfig, {
        ...discoverOptions,
        // A list that outlasts the interval is abandoned; the next cycle lists again.
        deadlineMs: Date.now() + (tuning.listDeadlineMs ?? Math.max(config.intervalSeconds * 1000, MIN_LIST_DEADLINE_MS)),
        signal,
        ...(tuning.discoverRetry ? { retry: tuning.discoverRetry } : {}),
      });
      if (podCache && discovery.source !== lastSource) {
        // Logged when it changes: the cache took over, or the collector fell back to listing.
        logger.info(discovery.source === 'cache' ? 'aws-node pods come from the watch cache' : 'aws-node pods come from a pod list (watch cache not synced)', {
          source: discovery.source, cache: { ...podCache.counters },
        });
        lastSource = discovery.source;
      }
      const { notRunning, notHostNetwork, podIPNotHostIP, duplicateOnNode } = discovery.skipped;
      if (notRunning + notHostNetwork + podIPNotHostIP + duplicateOnNode > 0) {
        // One line a cycle, whatever the number of pods skipped (each is also logged at debug).
        logger.debug('aws-node pods skipped', { ...discovery.skipped, kept: discovery.pods.length });
      }
      return discovery.pods;
    },
    collect: async (pods, cycleTime, signal) => {
      if (shards) {
        const sharded = await shards.collect(pods, cycleTime, signal);
        return { datums: aggregator.datumsOf(sharded.parts, cycleTime), scraped: sharded.scraped, failed: sharded.failed };
      }
      const share = await collectShare(scraper, aggregator, pods, cycleTime, signal);
      return { datums: aggregator.datumsOf([share.part], cycleTime), scraped: share.scraped, failed: share.failed };
    },
    extra: (cycleTime) => subnets?.datums(cycleTime) ?? [],
    sinks,
    publishWaitMs: tuning.publishWaitMs ?? Math.min(MAX_PUBLISH_WAIT_MS, (config.intervalSeconds * 1000) / 2),
    logger,
  };

  const runner = new CycleRunner(stages);

  return {
    runner,
    sinks,
    podCache,
    aggregator,
    resetAggregation: () => {
      aggregator.reset();
      shards?.reset();
    },
    cloudWatch,
    get subnets() {
      return subnets;
    },
    open: async () => {
      await prometheus?.start();
      podCache?.start();
      if (config.subnets && !subnets) {
        // Loaded only when asked for: without SUBNET_IDS the EC2 client is never evaluated.
        const { SubnetWatcher } = await import('./subnets');
        subnets = new SubnetWatcher({
          subnetIds: config.subnets.subnetIds,
          refreshMs: config.subnets.refreshSeconds * 1000,
          region: config.region,
          logger,
          ...(deps.ec2Client ? { client: deps.ec2Client } : {}),
        });
        // Not awaited: a slow EC2 endpoint must not hold the first cycle (it publishes no subnet figures yet).
        void subnets.start();
        logger.info('subnet watcher started', { subnets: config.subnets.subnetIds.length, refreshSeconds: config.subnets.refreshSeconds });
      }
    },
    flush: async (deadlineMs) => {
      await Promise.allSettled(sinks.map((s) => s.flush(deadlineMs)));
    },
    close: async () => {
      scraper.close();
      if (shards) await within(shards.close(), SINK_STOP_DEADLINE_MS).catch(() => undefined);
      if (podCache) await within(podCache.stop(), SINK_STOP_DEADLINE_MS).catch(() => undefined);
      if (subnets) {
        await within(subnets.stop(), SINK_STOP_DEADLINE_MS).catch((err: unknown) => {
          logger.error('subnet watcher failed to stop', { error: errorMessage(err) });
        });
      }
      await Promise.all(sinks.map((sink) => within(sink.stop(), SINK_STOP_DEADLINE_MS).then((done) => {
        if (!done) logger.warn('sink did not stop in time; exiting anyway', { sink: sink.name, deadlineMs: SINK_STOP_DEADLINE_MS });
      }, (err: unknown) => {
        logger.error('sink failed to stop', { sink: sink.name, error: errorMessage(err) });
      })));
    },
  };
}

/** Whether `promise` settles within `ms` (true) or not (false); rejections pass through. */
function within(promise: Promise<unknown>, ms: number): Promise<boolean> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<boolean>((resolve) => {
    timer = setTimeout(() => resolve(false), ms);
  });
  return Promise.race([promise.then(() => true), timeout]).finally(() => clearTimeout(timer));
}

/**
 * One collection cycle: discover → scrape → aggregate → add health → hand to every sink.
 * Stages come in as functions so the cycle can be tested without servers.
 */
import type { Logger } from './log';
import type { AwsNodePod, ClusterDatum, NodeScrapeResult, Sink } from './types';
import { catalogMetric } from '../common/catalog';

export interface CycleStages {
  discover(): Promise<AwsNodePod[]>;
  /** `cycleTime` is the cycle's start, the time its datums carry. */
  scrape(pods: readonly AwsNodePod[], signal?: AbortSignal, cycleTime?: Date): Promise<NodeScrapeResult[]>;
  aggregate(results: readonly NodeScrapeResult[], cycleTime: Date): ClusterDatum[];
  /** Datums the sinks dropped since the last cycle (buffer full, too old, rejected). */
  takeDroppedCount(): number;
  /** Datums CloudWatch has accepted so far, for the cycle's summary line. */
  sentCount?(): number;
  sinks: readonly Sink[];
  logger: Logger;
  /** Injected clock for tests. */
  now?: () => number;
}

export interface CycleReport {
  readonly cycleTime: Date;
  readonly discovered: number;
  readonly scraped: number;
  readonly failed: number;
  readonly durationMs: number;
  /** Everything handed to the sinks, health included. */
  readonly datums: readonly ClusterDatum[];
  /** Set when the pod list could not be read: the cycle published nothing from ipamd. */
  readonly discoveryError?: string;
}

export async function runCycle(stages: CycleStages, signal?: AbortSignal): Promise<CycleReport> {
  const now = stages.now ?? Date.now;
  const startedAt = now();
  const cycleTime = new Date(startedAt);

  let pods: AwsNodePod[];
  try {
    pods = await stages.discover();
  } catch (err) {
    const discoveryError = errorMessage(err);
    // Nothing from ipamd this cycle; the next cycle starts afresh. Only the drop count is still
    // published, so a "collector silent" alarm sees the gap.
    const datums = dropDatum(stages.takeDroppedCount(), cycleTime);
    await publishAll(stages, datums);
    const durationMs = now() - startedAt;
    stages.logger.error('cycle failed: could not list aws-node pods', { error: discoveryError, durationMs });
    return { cycleTime, discovered: 0, scraped: 0, failed: 0, durationMs, datums, discoveryError };
  }

  const results = await stages.scrape(pods, signal, cycleTime);
  const failedResults = results.filter((r) => !r.ok);
  for (const r of failedResults) {
    if (!r.ok) stages.logger.warn('node scrape failed', { node: r.pod.nodeName, pod: r.pod.podName, error: r.error });
  }
  const metricDatums = stages.aggregate(results, cycleTime);
  const durationMs = now() - startedAt;
  const scraped = results.length - failedResults.length;

  const health: ClusterDatum[] = [
    healthDatum('collectorNodesDiscovered', pods.length, cycleTime),
    healthDatum('collectorNodesScraped', scraped, cycleTime),
    healthDatum('collectorNodesFailed', failedResults.length, cycleTime),
    healthDatum('collectorCycleDuration', durationMs, cycleTime),
    ...dropDatum(stages.takeDroppedCount(), cycleTime),
  ];
  const datums = [...metricDatums, ...health];
  const sentBefore = stages.sentCount?.();
  await publishAll(stages, datums);

  stages.logger.info('cycle done', {
    nodes: pods.length,
    nodesOk: scraped,
    nodesFailed: failedResults.length,
    datums: datums.length,
    // Accepted by CloudWatch during this cycle's publish: this cycle's and any buffered ones.
    datumsSent: sentBefore === undefined ? undefined : (stages.sentCount?.() ?? 0) - sentBefore,
    durationMs,
  });
  return { cycleTime, discovered: pods.length, scraped, failed: failedResults.length, durationMs, datums };
}

async function publishAll(stages: CycleStages, datums: readonly ClusterDatum[]): Promise<void> {
  // Sinks do not throw by contract; allSettled keeps one misbehaving sink from starving the others.
  const outcomes = await Promise.allSettled(stages.sinks.map((s) => s.publish(datums)));
  outcomes.forEach((o, i) => {
    if (o.status === 'rejected') stages.logger.error('sink failed', { sink: stages.sinks[i].name, error: errorMessage(o.reason) });
  });
}

function healthDatum(metricName: string, value: number, timestamp: Date): ClusterDatum {
  return { metricName, unit: catalogMetric(metricName).unit, value, timestamp };
}

/** The drop count is published when non-zero, so a quiet buffer costs no datum. */
function dropDatum(dropped: number, timestamp: Date): ClusterDatum[] {
  return dropped > 0 ? [healthDatum('collectorDatumsDropped', dropped, timestamp)] : [];
}

export function errorMessage(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}

/**
 * One collection cycle: discover → collect (scrape each node, folded into the aggregator as it
 * arrives) → add health → hand to every sink, waiting for them only up to a deadline.
 * Stages come in as functions so the cycle can be tested without servers; runtime/pipeline.ts
 * builds the real ones.
 */
import type { Logger } from './log';
import { summarizeNodeFailures } from './node-failures';
import type { ClusterDatum, NodeOutcome, OnePodPerNode, Sink } from './types';
import { healthDatum } from './aggregate';

/** What the collect stage hands back: the cycle's cluster datums, how many nodes were scraped, the failed ones; no payloads. */
export interface CollectedCycle {
  readonly datums: readonly ClusterDatum[];
  readonly scraped: number;
  readonly failed: readonly NodeOutcome[];
}

export interface CycleStages {
  /** The aws-node pods, one per node; `signal` ends the list (stop). */
  discover(signal: AbortSignal): Promise<OnePodPerNode>;
  /**
   * Scrapes every pod's node and folds each result into the aggregator as it arrives; `cycleTime`
   * is the cycle's start, the time its datums carry; `signal` aborts the scrapes still open.
   */
  collect(pods: OnePodPerNode, cycleTime: Date, signal: AbortSignal): Promise<CollectedCycle>;
  /**
   * Datums from sources other than ipamd (the subnet watcher's cache), stamped `cycleTime`; added
   * to every cycle, one whose discovery failed included.
   */
  extra?(cycleTime: Date): readonly ClusterDatum[];
  sinks: readonly Sink[];
  /**
   * How long a cycle waits for its sinks' publish. Past it the cycle goes on and the sinks carry on
   * alone (bounded by their own buffers), so a hanging PutMetricData never holds the loop.
   */
  publishWaitMs: number;
  logger: Logger;
  /** Injected clock for tests. */
  now?: () => number;
}

export interface CycleReport {
  readonly cycleTime: Date;
  readonly discovered: number;
  readonly scraped: number;
  readonly failed: number;
  /** Discovery and collection, publishing left out. */
  readonly durationMs: number;
  /** Everything handed to the sinks, health included. */
  readonly datums: readonly ClusterDatum[];
  /** The nodes that failed this cycle, with their errors. */
  readonly failedNodes: readonly NodeOutcome[];
  /** Set when the pod list could not be read: the cycle published nothing from ipamd. */
  readonly discoveryError?: string;
  /**
   * Set when `mayPublish` said no at the end of the cycle (this replica stopped leading during it):
   * nothing of it was handed to the sinks.
   */
  readonly withheld?: true;
  /** Whether every sink's publish had settled when the cycle stopped waiting. */
  readonly publishSettled: boolean;
  /**
   * Consecutive cycles, this one included, whose publish failed: by the end of the publish wait a
   * holding sink had accepted nothing since the previous cycle's while it held datums, or a sink's
   * publish threw. 0 when it went well.
   */
  readonly publishFailureStreak: number;
}

/** What the holding sinks still owe at exit: datums not accepted, drops never published. */
export interface Outstanding {
  /** Datums held and not accepted: lost if the process ends now. */
  readonly held: number;
  /** Drops the sinks counted that no collectorDatumsDropped datum has carried yet. */
  readonly dropsUnreported: number;
}

/**
 * Runs cycles, keeping what one cycle tells the next: the sinks' totals already accounted for,
 * the publish failure streak, and sinks that threw.
 */
export interface RunOptions {
  /**
   * Asked once, after collection and before publishing: false withholds the whole cycle (a replica
   * that lost the Lease mid-cycle must not publish what the new leader publishes too). @default - always
   */
  readonly mayPublish?: () => boolean;
}

export class CycleRunner {
  private publishFailureStreak = 0;
  /** Sinks whose publish rejected since the last verdict (even after the cycle stopped waiting). */
  private readonly threwSince = new Set<string>();
  /** Sinks' drop totals already put in a collectorDatumsDropped datum, and sent totals already judged. */
  private readonly dropsReported = new Map<Sink, number>();
  private readonly sentSeen = new Map<Sink, number>();

  constructor(private readonly stages: CycleStages) {}

  async run(signal: AbortSignal = new AbortController().signal, options: RunOptions = {}): Promise<CycleReport> {
    const { stages } = this;
    const mayPublish = options.mayPublish ?? (() => true);
    const now = stages.now ?? Date.now;
    const startedAt = now();
    const cycleTime = new Date(startedAt);

    let pods: OnePodPerNode;
    try {
      pods = await stages.discover(signal);
    } catch (err) {
      const discoveryError = errorMessage(err);
      // Nothing from ipamd this cycle; the next cycle starts afresh. Only the drop count is still
      // published, so a "collector silent" alarm sees the gap.
      const durationMs = now() - startedAt;
      if (!mayPublish()) return this.withheld(cycleTime, 0, 0, 0, durationMs, [], discoveryError);
      const datums = [...(stages.extra?.(cycleTime) ?? []), ...dropDatum(this.takeNewDrops(), cycleTime)];
      stages.logger.error('cycle failed: could not list aws-node pods', { error: discoveryError, durationMs });
      const publishSettled = await this.publish(datums);
      const verdict = this.judgePublish();
      return {
        cycleTime, discovered: 0, scraped: 0, failed: 0, durationMs, datums, failedNodes: [], discoveryError,
        publishSettled, publishFailureStreak: verdict.streak,
      };
    }

    const collected = await stages.collect(pods, cycleTime, signal);
    const failedNodes = collected.failed;
    const { scraped } = collected;
    const durationMs = now() - startedAt;
    if (failedNodes.length > 0) stages.logger.warn('nodes failed this cycle', { ...summarizeNodeFailures(failedNodes) });
    if (!mayPublish()) return this.withheld(cycleTime, pods.length, scraped, failedNodes.length, durationMs, failedNodes);

    const health: ClusterDatum[] = [
      healthDatum('collectorNodesDiscovered', pods.length, cycleTime),
      healthDatum('collectorNodesScraped', scraped, cycleTime),
      healthDatum('collectorNodesFailed', failedNodes.length, cycleTime),
      healthDatum('collectorCycleDuration', durationMs, cycleTime),
      ...dropDatum(this.takeNewDrops(), cycleTime),
    ];
    const datums = [...collected.datums, ...(stages.extra?.(cycleTime) ?? []), ...health];
    const publishSettled = await this.publish(datums);
    const verdict = this.judgePublish();

    stages.logger.info('cycle done', {
      nodes: pods.length,
      nodesOk: scraped,
      nodesFailed: failedNodes.length,
      datums: datums.length,
      // Accepted by the holding sinks (CloudWatch) since the previous cycle's publish, this one's included; held now.
      datumsSent: verdict.reporting ? verdict.sent : undefined,
      datumsHeld: verdict.reporting ? verdict.held : undefined,
      publishFailureStreak: verdict.streak,
      durationMs,
    });
    return {
      cycleTime, discovered: pods.length, scraped, failed: failedNodes.length, durationMs, datums, failedNodes,
      publishSettled, publishFailureStreak: verdict.streak,
    };
  }

  /** A cycle not handed to the sinks: logged, and reported with no datums and an unchanged publish streak. */
  private withheld(
    cycleTime: Date, discovered: number, scraped: number, failed: number, durationMs: number,
    failedNodes: readonly NodeOutcome[], discoveryError?: string,
  ): CycleReport {
    this.stages.logger.info('cycle withheld: this replica is no longer the leader', { nodes: discovered, durationMs });
    return {
      cycleTime, discovered, scraped, failed, durationMs, datums: [], failedNodes,
      ...(discoveryError !== undefined ? { discoveryError } : {}),
      withheld: true, publishSettled: true, publishFailureStreak: this.publishFailureStreak,
    };
  }

  /** What the holding sinks still owe: read after the final flush, it is what an exit now loses. */
  outstanding(): Outstanding {
    let held = 0;
    let dropsUnreported = 0;
    for (const sink of this.stages.sinks) {
      const r = sink.report?.();
      if (!r) continue;
      held += r.held;
      dropsUnreported += r.dropped - (this.dropsReported.get(sink) ?? 0);
    }
    return { held, dropsUnreported };
  }

  /**
   * Hands the datums to every sink and waits for them up to publishWaitMs. Resolves true when all
   * settled in time. A sink that throws is logged whenever it does, and counts as a failed publish.
   */
  private async publish(datums: readonly ClusterDatum[]): Promise<boolean> {
    const { sinks, logger, publishWaitMs } = this.stages;
    const pending = new Set(sinks.map((s) => s.name));
    const all = Promise.all(sinks.map(async (sink) => {
      try {
        await sink.publish(datums);
      } catch (err) {
        // Sinks do not throw by contract; catching here keeps one misbehaving sink from starving the others.
        this.threwSince.add(sink.name);
        logger.error('sink failed', { sink: sink.name, error: errorMessage(err) });
      } finally {
        pending.delete(sink.name);
      }
    }));
    const settled = await settlesWithin(all, publishWaitMs);
    if (!settled) {
      logger.info('publish still running after its deadline; the cycle goes on', { sinks: [...pending], waitedMs: publishWaitMs });
    }
    return settled;
  }

  /** Drops the holding sinks counted since the last call, for this cycle's collectorDatumsDropped. */
  private takeNewDrops(): number {
    let fresh = 0;
    for (const sink of this.stages.sinks) {
      const r = sink.report?.();
      if (!r) continue;
      fresh += r.dropped - (this.dropsReported.get(sink) ?? 0);
      this.dropsReported.set(sink, r.dropped);
    }
    return fresh;
  }

  /**
   * This cycle's publish failed if a sink threw, or a holding sink accepted nothing since the last
   * verdict while it holds datums (the destination is down, slow or refusing).
   */
  private judgePublish(): { streak: number; reporting: boolean; sent: number; held: number } {
    let reporting = false;
    let sent = 0;
    let held = 0;
    let failed = this.threwSince.size > 0;
    this.threwSince.clear();
    for (const sink of this.stages.sinks) {
      const r = sink.report?.();
      if (!r) continue;
      reporting = true;
      const sentNow = r.sent - (this.sentSeen.get(sink) ?? 0);
      this.sentSeen.set(sink, r.sent);
      sent += sentNow;
      held += r.held;
      if (sentNow === 0 && r.held > 0) failed = true;
    }
    this.publishFailureStreak = failed ? this.publishFailureStreak + 1 : 0;
    return { streak: this.publishFailureStreak, reporting, sent, held };
  }
}

/** Whether `promise` settles within `ms`; the promise itself carries on either way. */
function settlesWithin(promise: Promise<unknown>, ms: number): Promise<boolean> {
  return new Promise<boolean>((resolve) => {
    const timer = setTimeout(() => resolve(false), ms);
    void promise.finally(() => {
      clearTimeout(timer);
      resolve(true);
    });
  });
}

/** The drop count is published when non-zero, so a quiet buffer costs no datum. */
function dropDatum(dropped: number, timestamp: Date): ClusterDatum[] {
  return dropped > 0 ? [healthDatum('collectorDatumsDropped', dropped, timestamp)] : [];
}

export function errorMessage(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}

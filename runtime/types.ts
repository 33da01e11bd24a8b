/**
 * The contracts between the collector's stages (discover → scrape → parse → aggregate → sinks).
 * Types only, so each stage can be built and tested alone.
 */
import type { CyclePart } from './aggregate';
import type { CloudWatchUnit } from '../common/catalog';

/** One sample line of the exposition: `name{labels} value [timestamp]`. */
export interface Sample {
  /** Full sample name, e.g. `awscni_aws_api_latency_ms_sum`. */
  readonly name: string;
  readonly labels: Readonly<Record<string, string>>;
  /** May be NaN, +Inf or -Inf. */
  readonly value: number;
  /** Milliseconds since the epoch, when the line carries one. */
  readonly timestampMs?: number;
}

export type FamilyType = 'counter' | 'gauge' | 'summary' | 'histogram' | 'untyped';

/** A metric family: the samples that share a base name (summary `_sum`/`_count` included). */
export interface MetricFamily {
  readonly name: string;
  readonly type: FamilyType;
  readonly help?: string;
  readonly samples: Sample[];
}

/** Parser output: families by name. */
export type ParsedMetrics = Map<string, MetricFamily>;

/**
 * An aws-node pod found by discovery: the few fields the collector reads, not the pod object. One per node: discovery keeps one when a rollout briefly
 * shows two (discover.ts keepOnePerNode), and the aggregator refuses a second result for a node
 * in one cycle.
 */
export interface AwsNodePod {
  readonly podName: string;
  readonly namespace: string;
  readonly nodeName: string;
  /** Pod IP; aws-node runs on the host network, so this is the node's IP. */
  readonly podIP?: string;
  /**
   * Start of the aws-node container (its `state.running.startedAt`, else the pod's `startTime`), ms
   * since the epoch. Restart detection falls back to it, with the three fields below, only when a
   * payload lacks `process_start_time_seconds`.
   */
  readonly startTimeMs?: number;
  /** The pod's `metadata.uid`: a new uid is a new pod (a pod name can be reused). */
  readonly podUid?: string;
  /** The aws-node container's `containerID` in the pod status: a new one is a new container. */
  readonly containerID?: string;
  /** The aws-node container's `restartCount` in the pod status. */
  readonly restartCount?: number;
}

declare const onePodPerNode: unique symbol;

/**
 * aws-node pods, at most one per node: discovery's rule (keepOnePerNode in discover.ts), so every
 * later stage may key its state by nodeName without checking for duplicates. Only discovery makes one.
 */
export type OnePodPerNode = readonly AwsNodePod[] & { readonly [onePodPerNode]: true };

/** The result of scraping one node in one cycle. */
export type NodeScrapeResult =
  | { readonly ok: true; readonly pod: AwsNodePod; readonly metrics: ParsedMetrics; readonly durationMs: number }
  | { readonly ok: false; readonly pod: AwsNodePod; readonly error: string; readonly durationMs: number };

/**
 * What one node came to in one cycle, after aggregation: no payload, only the verdict. The
 * aggregator may turn a scrape that answered into a failure (say, a payload with no ipamd family).
 */
export interface NodeOutcome {
  readonly nodeName: string;
  readonly podName: string;
  readonly ok: boolean;
  /** Why the node failed, when it did. */
  readonly error?: string;
  readonly durationMs: number;
  /** The node's ipamd is a new process since its previous scrape: its counters count from zero. */
  readonly restarted?: boolean;
  /** Series of this node not tracked because it passed the per-node series limit. */
  readonly seriesDropped?: number;
}

/**
 * One cycle of aggregation, fed as results arrive (the only way the collector aggregates):
 * `ClusterAggregator.startCycle(pods, cycleTime)` → `add(result)` for each node → `finish()`.
 */
export interface CycleAggregation {
  /**
   * Folds one node's result in; its parsed payload is not kept. Returns the node's outcome.
   * Throws when called twice for one node in the cycle, or after finish().
   */
  add(result: NodeScrapeResult): NodeOutcome;
  /**
   * Ends the cycle: every cluster datum the aggregator computed, stamped with the cycle's time,
   * including its own drop counts when non-zero.
   */
  finish(): ClusterDatum[];
  /**
   * Ends the cycle like finish(), but hands back its figures unmerged, for a caller that merges the
   * parts of several aggregators, each over a shard of the nodes (`ClusterAggregator.datumsOf`).
   */
  finishPart(): CyclePart;
}

/** One cluster-level value of one catalog metric for one cycle. */
export interface ClusterDatum {
  readonly metricName: string;
  readonly unit: CloudWatchUnit;
  readonly value: number;
  /** The cycle's time: every datum of a cycle carries the same one. */
  readonly timestamp: Date;
  /**
   * Dimensions after CLUSTER_ID, name to value, in the order the catalog's `extraDimensions` lists
   * them (a subnet's SubnetId and AvailabilityZone). Absent: CLUSTER_ID alone.
   */
  readonly dimensions?: Readonly<Record<string, string>>;
}

/**
 * A holding sink's (CloudWatch's) running totals since it started, read as often as wanted: the
 * cycle turns the growth of `dropped` into collectorDatumsDropped and judges each publish from
 * `sent` and `held`.
 */
export interface SinkReport {
  /** Datums the destination accepted. */
  readonly sent: number;
  /** Datums dropped for every reason, plus the counts carried by drop reports that were dropped themselves. */
  readonly dropped: number;
  /** Datums held now, not yet accepted. */
  readonly held: number;
}

/** Where cluster datums go. Sinks never throw from publish: they log, retry and keep what they can. */
export interface Sink {
  readonly name: string;
  /**
   * Hands one cycle's datums to the sink. The cycle waits for it only up to its publish deadline:
   * a sink keeps what it holds bounded whether or not anyone waits.
   */
  publish(datums: readonly ClusterDatum[]): Promise<void>;
  /** Running totals, for sinks that hold datums; sinks that hold nothing leave it out. */
  report?(): SinkReport;
  /** Sends everything still held; resolves when done or when the deadline passes. */
  flush(deadlineMs?: number): Promise<void>;
  /** Releases servers and timers; calling it twice is harmless. */
  stop(): Promise<void>;
}

/**
 * Cluster aggregation, one cycle at a time, fed as results arrive:
 * `startCycle(pods, cycleTime)` → `add(result)` for each node → `finish()` → one value per catalog metric.
 *
 * Counter state is kept per node and per series, so each node's increase is measured against
 * that node's own previous scrape. Upstream kept one cluster-wide last value and subtracted it
 * once per pod, which makes every counter wrong with more than one node (#3844, #1073).
 *
 * The rules (the README's "Aggregation rules" says the same for users):
 * - A restart is a new ipamd process: `process_start_time_seconds` in the payload moved by a second
 *   or more. Only when a payload lacks it: a new pod uid (the pod name where the uid is unknown), a
 *   new container ID, restart count or container start. A new pod name alone is not a restart: during
 *   a rollout the old ipamd may still hold the host port. After a restart every series counts from
 *   zero; a counter that dropped counts from zero on its own (Prometheus' reset rule).
 * - A node seen for the first time (or again after discovery stopped listing it) is a baseline:
 *   its counters count from the next cycle on, never its history.
 * - A series new on a known node counts whole: ipamd creates labelled counters on their first increment.
 * - A family or series missing from one scrape keeps its last value; it does not reset the baseline.
 * - A payload with no catalog family is not an ipamd payload: the node fails, with the reason.
 * - Every failure keeps the node's state; a node's state is released only when discovery no longer
 *   lists it. A cycle that is never finished changes no state.
 * - Counter datums are published, 0 included, whenever at least one node was compared with its own
 *   previous scrape. Gauge datums need at least one node exposing the family (never a false 0).
 * - Non-finite samples are skipped (a counter or summary that reads NaN keeps its previous value);
 *   a cluster value that is not finite (a sum that overflowed) is dropped, counted and logged.
 * - What one node can cost is bounded: at most `maxSeriesPerNode` tracked series (the rest are
 *   dropped, counted and logged), and at most `maxLayoutsPerFamily` shared series layouts per family.
 * - One result per node and cycle: discovery keeps one aws-node pod per node, so a second add() for
 *   a node is a programming error and throws.
 */
import { CATALOG, PROCESS_START_FAMILY, catalogMetric, type CatalogMetric, type CatalogMetricName } from '../common/catalog';
import { silentLogger, type Logger } from './log';
import type {
  AwsNodePod, ClusterDatum, CycleAggregation, MetricFamily, NodeOutcome, NodeScrapeResult, ParsedMetrics, Sample,
} from './types';

/** Layouts-by-slot arrays kept for sharing: the distinct payload shapes of a cluster's ipamd versions. */
const MAX_RECENT_SLOT_LAYOUTS = 8;

/** Tracked series one node may hold: real ipamd payloads track under 100, so this is 50 times that. */
export const DEFAULT_MAX_SERIES_PER_NODE = 5_000;
/** Series layouts shared between nodes per family; nodes whose series match none get their own. */
export const DEFAULT_MAX_LAYOUTS_PER_FAMILY = 32;
/** Distinct values one node may add to a distinctCount metric (ipamd serves one build_info series). */
const MAX_DISTINCT_VALUES_PER_NODE = 8;
/** process_start_time_seconds moves by less than this without a restart (boot-time clock adjustments). */
const PROCESS_START_TOLERANCE_SECONDS = 1;
/** Nodes named in the per-cycle limit log line; the rest are counted. */
const NODES_NAMED_IN_LOG = 5;
/** The quantile label value `latencyMaxP99` reads. */
const P99 = 0.99;
/** Catalog aggregations the aggregator does not compute: the cycle's health and EC2's subnet figures. */
const NOT_FROM_IPAMD: ReadonlySet<CatalogMetric['aggregation']> = new Set(['health', 'ec2Subnet']);
/** Aggregations that read each node's family against its `capacityFamily`. */
const WORST_NODE: ReadonlySet<CatalogMetric['aggregation']> = new Set(['maxNodeUtilization', 'nodesAtCapacity', 'minNodeHeadroom']);

export interface AggregatorOptions {
  /**
   * The metrics to aggregate. Entries with aggregation 'health' (the cycle runner adds those) and
   * 'ec2Subnet' (the subnet watcher's) are skipped.
   * @default CATALOG
   */
  readonly catalog?: readonly CatalogMetric[];
  /**
   * Tracked counter and summary series one node may hold; the excess is not tracked, counted in
   * `collectorSeriesDropped` and logged once per cycle.
   * @default DEFAULT_MAX_SERIES_PER_NODE
   */
  readonly maxSeriesPerNode?: number;
  /**
   * Series layouts shared between nodes, per family (least recently used evicted first).
   * @default DEFAULT_MAX_LAYOUTS_PER_FAMILY
   */
  readonly maxLayoutsPerFamily?: number;
  /** @default - silent */
  readonly logger?: Logger;
}

type Labels = Readonly<Record<string, string>>;

const hasOwn = (object: object, key: string): boolean => Object.prototype.hasOwnProperty.call(object, key);

/** The tracked series of a family, in order; shared by every node that exposes the same ones. */
interface SeriesLayout {
  readonly names: readonly string[];
  readonly labels: readonly Labels[];
  /** seriesKey → slot, built on the first lookup that is not positional. */
  index?: Map<string, number>;
  /** The last cycle a node's series matched or made this layout. */
  lastUsedCycle: number;
}

/** A node's last good value of each tracked series (NaN: none yet), slot for slot with its layout. */
interface RecordedFamily {
  readonly layout: SeriesLayout;
  readonly values: Float64Array;
}

/** What tells one ipamd process from the next on a node. */
interface ProcessIdentity {
  readonly processStartSeconds?: number;
  readonly podName: string;
  readonly podUid?: string;
  readonly containerID?: string;
  readonly restartCount?: number;
  readonly startTimeMs?: number;
}

/**
 * What the next scrape of a node is compared with, packed: the layout of each tracked family by
 * its slot (the aggregator's `trackedFamilies` order), and every family's values one after the
 * other in one array. A map and an array per family cost about 2 KB per node; this costs 0.8 KB
 * (bench/aggregator-memory.ts: 197 MiB against 74.5 MiB at 100,000 nodes).
 */
interface NodeState {
  readonly identity: ProcessIdentity;
  readonly layouts: readonly (SeriesLayout | undefined)[];
  readonly values: Float64Array;
}

/** A catalog metric this aggregator computes, with its family resolved. */
interface PlannedMetric {
  readonly metric: CatalogMetric;
  readonly family: string;
}

/**
 * Per-metric figures of one cycle, filled node by node. Every figure merges (sums, minimums,
 * maximums, unions), so the rollups of several shards of the nodes, made apart, add up to the rollup
 * of all of them (runtime/shards.ts): `CycleRollupParts` is its plain form, as it crosses threads.
 */
export interface CycleRollupParts {
  readonly totals: ReadonlyMap<string, number>;
  readonly latencySum: ReadonlyMap<string, number>;
  readonly latencyCount: ReadonlyMap<string, number>;
  readonly minimums: ReadonlyMap<string, number>;
  readonly maximums: ReadonlyMap<string, number>;
  readonly distinct: ReadonlyMap<string, ReadonlySet<string>>;
  /** Nodes that had a previous successful scrape to compare with. */
  readonly comparedNodes: number;
  readonly seriesDropped: number;
  readonly nodesOverLimit: readonly string[];
}

class CycleRollup implements CycleRollupParts {
  readonly totals = new Map<string, number>();
  readonly latencySum = new Map<string, number>();
  readonly latencyCount = new Map<string, number>();
  readonly minimums = new Map<string, number>();
  readonly maximums = new Map<string, number>();
  readonly distinct = new Map<string, Set<string>>();
  comparedNodes = 0;
  seriesDropped = 0;
  readonly nodesOverLimit: string[] = [];

  add(into: Map<string, number>, metricName: string, value: number): void {
    into.set(metricName, (into.get(metricName) ?? 0) + value);
  }

  keepMin(metricName: string, value: number): void {
    const current = this.minimums.get(metricName);
    if (current === undefined || value < current) this.minimums.set(metricName, value);
  }

  keepMax(metricName: string, value: number): void {
    const current = this.maximums.get(metricName);
    if (current === undefined || value > current) this.maximums.set(metricName, value);
  }

  addDistinct(metricName: string, value: string): void {
    let values = this.distinct.get(metricName);
    if (!values) this.distinct.set(metricName, (values = new Set()));
    values.add(value);
  }

  /** Folds in another shard's rollup of other nodes. */
  merge(part: CycleRollupParts): void {
    for (const [name, value] of part.totals) this.add(this.totals, name, value);
    for (const [name, value] of part.latencySum) this.add(this.latencySum, name, value);
    for (const [name, value] of part.latencyCount) this.add(this.latencyCount, name, value);
    for (const [name, value] of part.minimums) this.keepMin(name, value);
    for (const [name, value] of part.maximums) this.keepMax(name, value);
    for (const [name, values] of part.distinct) for (const value of values) this.addDistinct(name, value);
    this.comparedNodes += part.comparedNodes;
    this.seriesDropped += part.seriesDropped;
    for (const node of part.nodesOverLimit) this.nodesOverLimit.push(node);
  }
}

/** One cycle's figures of some nodes, ready to merge with other shards' (see `CycleAggregation.finishPart`). */
export interface CyclePart {
  readonly rollup: CycleRollupParts;
  /** Layouts evicted over the cap since the previous cycle, in this aggregator. */
  readonly layoutsEvicted: number;
}

/** One open cycle: what add() has folded in, committed by finish(). */
interface OpenCycle {
  readonly index: number;
  readonly timestamp: Date;
  readonly listed: ReadonlySet<string>;
  readonly added: Set<string>;
  readonly pending: Map<string, NodeState>;
  readonly rollup: CycleRollup;
  closed: boolean;
}

export class ClusterAggregator {
  private readonly planned: readonly PlannedMetric[];
  private readonly gauges: readonly PlannedMetric[];
  private readonly minimums: readonly PlannedMetric[];
  private readonly p99s: readonly PlannedMetric[];
  private readonly distincts: readonly PlannedMetric[];
  /** The worst-node metrics: each node's family read against its capacity family. */
  private readonly worstNode: readonly PlannedMetric[];
  /** counterDelta metrics by family: a family's series are tracked once, then matched per metric. */
  private readonly counterFamilies: ReadonlyMap<string, readonly CatalogMetric[]>;
  private readonly latencyFamilies: ReadonlyMap<string, readonly CatalogMetric[]>;
  /** The counter and summary families a node's state holds, in slot order. */
  private readonly trackedFamilies: readonly string[];
  /** Layouts-by-slot arrays most recently made, shared by the nodes that have the same layouts. */
  private readonly recentSlotLayouts: (readonly (SeriesLayout | undefined)[])[] = [];
  /** Families that make a payload an ipamd payload. */
  private readonly ipamdFamilies: readonly string[];
  private readonly maxSeriesPerNode: number;
  private readonly logger: Logger;
  private readonly nodes = new Map<string, NodeState>();
  private readonly layouts: LayoutCache;
  private cycles = 0;
  private open?: OpenCycle;

  constructor(options: AggregatorOptions = {}) {
    const catalog = options.catalog ?? CATALOG;
    this.planned = catalog.filter((m) => !NOT_FROM_IPAMD.has(m.aggregation)).map(planMetric);
    const withAggregation = (aggregation: CatalogMetric['aggregation']): PlannedMetric[] =>
      this.planned.filter((p) => p.metric.aggregation === aggregation);
    this.gauges = withAggregation('gaugeSum');
    this.minimums = withAggregation('minAvailableIps');
    this.p99s = withAggregation('latencyMaxP99');
    this.distincts = withAggregation('distinctCount');
    this.worstNode = this.planned.filter((p) => WORST_NODE.has(p.metric.aggregation));
    this.counterFamilies = byFamily(withAggregation('counterDelta'));
    this.latencyFamilies = byFamily(withAggregation('latencyMean'));
    this.trackedFamilies = [...new Set([...this.counterFamilies.keys(), ...this.latencyFamilies.keys()])];
    this.ipamdFamilies = [...new Set(this.planned.flatMap((p) => [p.family, p.metric.subtractsFamily, p.metric.capacityFamily]
      .filter((f): f is string => f !== undefined)))];
    this.maxSeriesPerNode = positiveInteger('maxSeriesPerNode', options.maxSeriesPerNode ?? DEFAULT_MAX_SERIES_PER_NODE);
    this.layouts = new LayoutCache(positiveInteger('maxLayoutsPerFamily', options.maxLayoutsPerFamily ?? DEFAULT_MAX_LAYOUTS_PER_FAMILY));
    this.logger = options.logger ?? silentLogger;
  }

  /** Nodes whose state is held (for memory/soak checks). */
  get trackedNodeCount(): number {
    return this.nodes.size;
  }

  /** Series layouts held for sharing between nodes, all families (for memory checks). */
  get sharedLayoutCount(): number {
    return this.layouts.size;
  }

  /**
   * Forgets every node's state and the shared layouts, and abandons a cycle still open: the next
   * cycle is a baseline for every node, as after a start. A replica that becomes the leader calls
   * it, so counters it last saw minutes ago (or never) do not come out as one cycle's increase.
   */
  reset(): void {
    if (this.open) this.open.closed = true;
    this.open = undefined;
    this.nodes.clear();
    this.layouts.clear();
    this.recentSlotLayouts.length = 0;
  }

  /**
   * Starts a cycle. `pods` are the cycle's discovered pods: at finish() the state of every node
   * they do not name is released. A cycle still open is abandoned and changes nothing.
   */
  startCycle(pods: readonly AwsNodePod[], cycleTime: Date): CycleAggregation {
    if (!(cycleTime instanceof Date) || !Number.isFinite(cycleTime.getTime())) {
      throw new Error('ClusterAggregator: cycleTime is an invalid Date; pass the time the cycle started');
    }
    if (this.open) this.open.closed = true;
    const cycle: OpenCycle = {
      index: ++this.cycles,
      timestamp: new Date(cycleTime.getTime()),
      listed: new Set(pods.map((p) => p.nodeName)),
      added: new Set(),
      pending: new Map(),
      rollup: new CycleRollup(),
      closed: false,
    };
    this.open = cycle;
    return {
      add: (result) => this.add(cycle, result),
      finish: () => this.datumsOf([this.finishPart(cycle)], cycle.timestamp),
      finishPart: () => this.finishPart(cycle),
    };
  }

  private add(cycle: OpenCycle, result: NodeScrapeResult): NodeOutcome {
    const { nodeName, podName } = result.pod;
    if (cycle.closed) throw new Error(`add() for node '${nodeName}' on a cycle that is finished or superseded; call startCycle() first`);
    if (cycle.added.has(nodeName)) {
      throw new Error(`add() called twice for node '${nodeName}' in one cycle: discovery must keep one aws-node pod per node`);
    }
    cycle.added.add(nodeName);
    const failed = (error: string): NodeOutcome => ({ nodeName, podName, ok: false, error, durationMs: result.durationMs });
    // A failure keeps the node's state: its next success carries the increase over the gap.
    if (!result.ok) return failed(result.error);
    if (!this.ipamdFamilies.some((family) => result.metrics.has(family))) {
      return failed('not an ipamd payload: none of the catalog\'s awscni_ families in it (empty body, or another exporter on the port)');
    }
    const previous = this.nodes.get(nodeName);
    const read = this.readNode(result.pod, result.metrics, previous, cycle);
    cycle.pending.set(nodeName, read.state);
    if (read.seriesDropped > 0) {
      cycle.rollup.seriesDropped += read.seriesDropped;
      cycle.rollup.nodesOverLimit.push(nodeName);
    }
    return {
      nodeName, podName, ok: true, durationMs: result.durationMs,
      ...(read.restarted ? { restarted: true } : {}),
      ...(read.seriesDropped > 0 ? { seriesDropped: read.seriesDropped } : {}),
    };
  }

  private finishPart(cycle: OpenCycle): CyclePart {
    if (cycle.closed) throw new Error('finish() on a cycle that is finished or superseded; call startCycle() first');
    cycle.closed = true;
    if (this.open === cycle) this.open = undefined;
    for (const [nodeName, state] of cycle.pending) this.nodes.set(nodeName, state);
    // Only discovery decides that a node is gone; a node that failed is still there.
    for (const nodeName of this.nodes.keys()) {
      if (!cycle.listed.has(nodeName) && !cycle.added.has(nodeName)) this.nodes.delete(nodeName);
    }
    const layoutsEvicted = this.layouts.endCycle(cycle.index);
    return { rollup: cycle.rollup, layoutsEvicted };
  }

  /** Adds one OK node's figures to the cycle and returns its new state. */
  private readNode(
    pod: AwsNodePod, metrics: ParsedMetrics, previous: NodeState | undefined, cycle: OpenCycle,
  ): { state: NodeState; restarted: boolean; seriesDropped: number } {
    const { rollup } = cycle;
    for (const { metric, family } of this.gauges) {
      const total = nodeGaugeTotal(metrics.get(family));
      if (total !== undefined) rollup.add(rollup.totals, metric.metricName, total);
    }
    for (const { metric, family } of this.minimums) {
      const total = nodeGaugeTotal(metrics.get(family));
      const subtracted = metric.subtractsFamily === undefined ? 0 : nodeGaugeTotal(metrics.get(metric.subtractsFamily));
      if (total !== undefined && subtracted !== undefined) rollup.keepMin(metric.metricName, total - subtracted);
    }
    for (const { metric, family } of this.p99s) {
      const p99 = nodeMaxP99(metrics.get(family));
      if (p99 !== undefined) rollup.keepMax(metric.metricName, p99);
    }
    for (const { metric, family } of this.worstNode) {
      addWorstNode(rollup, metric, nodeGaugeTotal(metrics.get(family)), nodeGaugeTotal(metrics.get(metric.capacityFamily as string)));
    }
    let seriesDropped = 0;
    for (const { metric, family } of this.distincts) {
      seriesDropped += addDistinctValues(rollup, metric, metrics.get(family));
    }

    const identity = identityOf(pod, metrics);
    const compared = previous !== undefined;
    const restarted = previous !== undefined && restartedSince(previous.identity, identity);
    // A restarted process starts from nothing: none of the old process's series carry over.
    const before = restarted ? undefined : previous;
    const families = this.trackedFamilies;
    const recorded = new Array<RecordedFamily | undefined>(families.length);
    let budget = this.maxSeriesPerNode;
    const tracked = (slot: number, samples: readonly Sample[], isTracked: (s: Sample) => boolean): TrackedFamily => {
      const previousFamily = before === undefined ? undefined : unpackFamily(before, slot);
      const reading = this.layouts.track(families[slot], samples, isTracked, previousFamily, budget, cycle.index);
      budget -= reading.recorded.values.length;
      seriesDropped += reading.dropped;
      recorded[slot] = reading.recorded;
      return reading;
    };

    for (let slot = 0; slot < families.length; slot++) {
      const key = families[slot];
      const family = metrics.get(key);
      if (!family) continue;
      const counterMetrics = this.counterFamilies.get(key);
      if (counterMetrics !== undefined) {
        // OpenMetrics names a counter's samples `<family>_total`; `_created` samples are not counts.
        const totalName = `${family.name}_total`;
        const reading = tracked(slot, family.samples, (s) => s.name === family.name || s.name === totalName);
        if (compared) addCounterIncreases(rollup, counterMetrics, reading);
        continue;
      }
      const latencyMetrics = this.latencyFamilies.get(key) as readonly CatalogMetric[];
      const sumName = `${family.name}_sum`;
      const countName = `${family.name}_count`;
      const reading = tracked(slot, family.samples, (s) => s.name === sumName || s.name === countName);
      const delta = summaryIncrease(reading, sumName, countName);
      if (compared) {
        for (const metric of latencyMetrics) {
          rollup.add(rollup.latencySum, metric.metricName, delta.sum);
          rollup.add(rollup.latencyCount, metric.metricName, delta.count);
        }
      }
    }
    // A family missing from this scrape keeps its last values (while the budget allows).
    if (before) {
      for (let slot = 0; slot < families.length; slot++) {
        if (recorded[slot] !== undefined) continue;
        const kept = unpackFamily(before, slot);
        if (kept === undefined) continue;
        if (kept.values.length <= budget) {
          recorded[slot] = kept;
          budget -= kept.values.length;
        } else {
          seriesDropped += kept.values.length;
        }
      }
    }
    if (compared) rollup.comparedNodes += 1;
    return { state: this.packState(identity, recorded, previous), restarted, seriesDropped };
  }

  /**
   * A node's state with every family's values in one array, so a node holds a handful of objects.
   * The layouts-by-slot array is shared with the node's previous state or another node's when they
   * hold the same layouts (states are never changed after they are made).
   */
  private packState(identity: ProcessIdentity, families: readonly (RecordedFamily | undefined)[], previous: NodeState | undefined): NodeState {
    let length = 0;
    for (const family of families) if (family !== undefined) length += family.values.length;
    const values = new Float64Array(length);
    let at = 0;
    for (const family of families) {
      if (family === undefined) continue;
      values.set(family.values, at);
      at += family.values.length;
    }
    const recent = this.recentSlotLayouts;
    let layouts = previous !== undefined && sameSlots(previous.layouts, families) ? previous.layouts : recent.find((r) => sameSlots(r, families));
    if (layouts === undefined) {
      layouts = families.map((family) => family?.layout);
      recent.unshift(layouts);
      if (recent.length > MAX_RECENT_SLOT_LAYOUTS) recent.pop();
    }
    return { identity, layouts, values };
  }

  /**
   * The cluster datums of one cycle from the parts of every shard of its nodes (one part when this
   * aggregator saw them all), stamped `timestamp`, with the drop counts when non-zero.
   */
  datumsOf(parts: readonly CyclePart[], timestamp: Date): ClusterDatum[] {
    let rollup: CycleRollupParts;
    if (parts.length === 1) {
      rollup = parts[0].rollup;
    } else {
      const merged = new CycleRollup();
      for (const part of parts) merged.merge(part.rollup);
      rollup = merged;
    }
    const layoutsEvicted = parts.reduce((n, part) => n + part.layoutsEvicted, 0);
    const datums: ClusterDatum[] = [];
    const nonFinite: string[] = [];
    for (const { metric } of this.planned) {
      const value = metricValue(metric, rollup);
      if (value === undefined) continue;
      // The last guard: no sink ever receives NaN or Infinity.
      if (Number.isFinite(value)) datums.push({ metricName: metric.metricName, unit: metric.unit, value, timestamp });
      else nonFinite.push(metric.metricName);
    }
    if (rollup.seriesDropped > 0 || layoutsEvicted > 0) {
      this.logger.warn('node limits reached: series over the per-node limit were not tracked', {
        seriesDropped: rollup.seriesDropped,
        maxSeriesPerNode: this.maxSeriesPerNode,
        nodesOverLimit: rollup.nodesOverLimit.length,
        nodes: rollup.nodesOverLimit.slice(0, NODES_NAMED_IN_LOG),
        layoutsEvicted,
      });
    }
    if (nonFinite.length > 0) {
      this.logger.warn('cluster values that are not finite numbers were dropped', { metrics: nonFinite });
    }
    if (rollup.seriesDropped > 0) datums.push(healthDatum('collectorSeriesDropped', rollup.seriesDropped, timestamp));
    if (nonFinite.length > 0) datums.push(healthDatum('collectorNonFiniteDropped', nonFinite.length, timestamp));
    return datums;
  }
}

/** A datum of a catalog metric (its unit from the catalog): the collector's own figures, here and in the cycle. */
export function healthDatum(metricName: CatalogMetricName, value: number, timestamp: Date): ClusterDatum {
  return { metricName, unit: catalogMetric(metricName).unit, value, timestamp };
}

function planMetric(metric: CatalogMetric): PlannedMetric {
  if (!metric.family) {
    throw new Error(
      `Catalog metric '${metric.metricName}' aggregates with '${metric.aggregation}' but names no ipamd family; ` +
      "set its 'family' or use aggregation 'health'",
    );
  }
  if (WORST_NODE.has(metric.aggregation) && !metric.capacityFamily) {
    throw new Error(`Catalog metric '${metric.metricName}' aggregates with '${metric.aggregation}' but names no capacity; set its 'capacityFamily'`);
  }
  if (metric.aggregation === 'distinctCount' && !metric.distinctLabel) {
    throw new Error(`Catalog metric '${metric.metricName}' aggregates with 'distinctCount' but names no label; set its 'distinctLabel'`);
  }
  return { metric, family: metric.family };
}

function byFamily(planned: readonly PlannedMetric[]): Map<string, CatalogMetric[]> {
  const families = new Map<string, CatalogMetric[]>();
  for (const { metric, family } of planned) families.set(family, [...(families.get(family) ?? []), metric]);
  return families;
}

function positiveInteger(option: string, value: number): number {
  if (!Number.isInteger(value) || value < 1) {
    throw new Error(`ClusterAggregator: ${option} must be a whole number of at least 1, got ${value}`);
  }
  return value;
}

/** The cycle value of one metric, or undefined when it has none this cycle. */
function metricValue(metric: CatalogMetric, rollup: CycleRollupParts): number | undefined {
  const name = metric.metricName;
  switch (metric.aggregation) {
    case 'gaugeSum':
      return rollup.totals.get(name);
    case 'counterDelta':
      return rollup.comparedNodes > 0 ? rollup.totals.get(name) ?? 0 : undefined;
    case 'latencyMean': {
      const count = rollup.latencyCount.get(name) ?? 0;
      // No API call in the cycle: no datum, never a 0 ms mean.
      return count > 0 ? (rollup.latencySum.get(name) ?? 0) / count : undefined;
    }
    case 'latencyMaxP99':
    case 'maxNodeUtilization':
      return rollup.maximums.get(name);
    case 'minAvailableIps':
    case 'minNodeHeadroom':
      return rollup.minimums.get(name);
    case 'nodesAtCapacity':
      return rollup.totals.get(name);
    case 'distinctCount':
      return rollup.distinct.get(name)?.size;
    case 'ec2Subnet':
    case 'health':
      return undefined;
  }
}

function sameSlots(layouts: readonly (SeriesLayout | undefined)[], families: readonly (RecordedFamily | undefined)[]): boolean {
  if (layouts.length !== families.length) return false;
  for (let slot = 0; slot < families.length; slot++) if (layouts[slot] !== families[slot]?.layout) return false;
  return true;
}

/** One family of a packed state (a view on its values, read only), or undefined when it holds none. */
function unpackFamily(state: NodeState, slot: number): RecordedFamily | undefined {
  const layout = state.layouts[slot];
  if (layout === undefined) return undefined;
  let at = 0;
  for (let s = 0; s < slot; s++) at += state.layouts[s]?.names.length ?? 0;
  return { layout, values: state.values.subarray(at, at + layout.names.length) };
}

/** The start time a payload reports for its process, in seconds, when it has a usable one. */
function identityOf(pod: AwsNodePod, metrics: ParsedMetrics): ProcessIdentity {
  let processStartSeconds: number | undefined;
  const family = metrics.get(PROCESS_START_FAMILY);
  for (const sample of family?.samples ?? []) {
    if (sample.name === PROCESS_START_FAMILY && Number.isFinite(sample.value) && sample.value > 0) {
      processStartSeconds = sample.value;
      break;
    }
  }
  return {
    processStartSeconds,
    podName: pod.podName,
    podUid: pod.podUid,
    containerID: pod.containerID,
    restartCount: pod.restartCount,
    startTimeMs: pod.startTimeMs,
  };
}

/**
 * Whether the node's ipamd is another process than at its last successful scrape. The process's
 * own start time decides when both scrapes carry it, so a rollout's new pod that still reaches the
 * old ipamd is not a restart. Otherwise the pod and container say it.
 */
function restartedSince(before: ProcessIdentity, now: ProcessIdentity): boolean {
  if (before.processStartSeconds !== undefined && now.processStartSeconds !== undefined) {
    return Math.abs(now.processStartSeconds - before.processStartSeconds) >= PROCESS_START_TOLERANCE_SECONDS;
  }
  const changed = <T>(a: T | undefined, b: T | undefined): boolean => a !== undefined && b !== undefined && a !== b;
  const newPod = before.podUid !== undefined && now.podUid !== undefined
    ? before.podUid !== now.podUid
    : before.podName !== now.podName;
  return newPod
    || changed(before.containerID, now.containerID)
    || changed(before.restartCount, now.restartCount)
    || changed(before.startTimeMs, now.startTimeMs);
}

/**
 * Adds one node to a worst-node metric. A node without both families, or without a positive
 * capacity (ipamd before it read its instance type), tells nothing about headroom and is left out.
 */
function addWorstNode(rollup: CycleRollup, metric: CatalogMetric, used: number | undefined, capacity: number | undefined): void {
  if (used === undefined || capacity === undefined || !(capacity > 0)) return;
  const name = metric.metricName;
  switch (metric.aggregation) {
    case 'maxNodeUtilization':
      rollup.keepMax(name, (100 * used) / capacity);
      break;
    case 'nodesAtCapacity':
      rollup.add(rollup.totals, name, used >= capacity ? 1 : 0);
      break;
    case 'minNodeHeadroom':
      rollup.keepMin(name, capacity - used);
      break;
  }
}

/** Sum of a gauge family's finite samples on one node, or undefined when it has none. */
function nodeGaugeTotal(family: MetricFamily | undefined): number | undefined {
  if (!family) return undefined;
  let total: number | undefined;
  for (const sample of family.samples) {
    if (sample.name === family.name && Number.isFinite(sample.value)) total = (total ?? 0) + sample.value;
  }
  return total;
}

/** Largest finite `quantile="0.99"` sample of a summary family on one node. */
function nodeMaxP99(family: MetricFamily | undefined): number | undefined {
  if (!family) return undefined;
  let max: number | undefined;
  for (const sample of family.samples) {
    if (sample.name !== family.name || !hasOwn(sample.labels, 'quantile') || Number(sample.labels.quantile) !== P99) continue;
    if (Number.isFinite(sample.value) && (max === undefined || sample.value > max)) max = sample.value;
  }
  return max;
}

/** Adds a node's values of the metric's label to the cycle's set; returns how many were over the per-node limit. */
function addDistinctValues(rollup: CycleRollup, metric: CatalogMetric, family: MetricFamily | undefined): number {
  const label = metric.distinctLabel as string;
  if (!family) return 0;
  let seen = 0;
  let dropped = 0;
  for (const sample of family.samples) {
    if (sample.name !== family.name || !hasOwn(sample.labels, label)) continue;
    if (seen++ >= MAX_DISTINCT_VALUES_PER_NODE) {
      dropped++;
      continue;
    }
    rollup.addDistinct(metric.metricName, flat(sample.labels[label]));
  }
  return dropped;
}

/**
 * Adds a node's counter increases to every metric of the family whose `seriesMatch` the series
 * fits: the whole value after a restart, a drop (counter reset) or for a series new on the node.
 */
function addCounterIncreases(rollup: CycleRollup, metrics: readonly CatalogMetric[], reading: TrackedFamily): void {
  const { samples, before } = reading;
  for (let i = 0; i < samples.length; i++) {
    const value = samples[i].value;
    if (!Number.isFinite(value)) continue;
    const last = before[i];
    const increase = Number.isNaN(last) || value < last ? value : value - last;
    for (const metric of metrics) {
      if (matches(samples[i].labels, metric.seriesMatch)) rollup.add(rollup.totals, metric.metricName, increase);
    }
  }
}

function matches(labels: Labels, wanted: Readonly<Record<string, string>> | undefined): boolean {
  if (!wanted) return true;
  for (const name of Object.keys(wanted)) {
    if (!hasOwn(labels, name) || labels[name] !== wanted[name]) return false;
  }
  return true;
}

/**
 * A node's summed `_sum` and `_count` increases for one summary family. A label set whose sum or
 * count is not finite keeps both its previous values; one whose sum or count dropped counts from zero.
 */
function summaryIncrease(reading: TrackedFamily, sumName: string, countName: string): { sum: number; count: number } {
  const { samples, before, recorded } = reading;
  const delta = { sum: 0, count: 0 };
  for (let i = 0; i < samples.length; i++) {
    if (samples[i].name !== sumName) continue;
    // ipamd writes each label set's `_count` right after its `_sum`.
    const c = i + 1 < samples.length && samples[i + 1].name === countName && sameLabels(samples[i + 1].labels, samples[i].labels)
      ? i + 1 : slotByKey(recorded.layout, countName, samples[i].labels);
    if (c === undefined || c >= samples.length) continue;
    const sum = samples[i].value;
    const count = samples[c].value;
    if (!Number.isFinite(sum) || !Number.isFinite(count)) {
      recorded.values[i] = before[i];
      recorded.values[c] = before[c];
      continue;
    }
    const lastSum = before[i];
    const lastCount = before[c];
    const fromZero = Number.isNaN(lastSum) || Number.isNaN(lastCount) || sum < lastSum || count < lastCount;
    delta.sum += fromZero ? sum : sum - lastSum;
    delta.count += fromZero ? count : count - lastCount;
  }
  return delta;
}

/** One family of one node read against its previous values. */
interface TrackedFamily {
  /** The node's new values: this scrape's series first (slot i is samples[i]), then the ones it kept. */
  readonly recorded: RecordedFamily;
  /** This scrape's tracked samples, at most the node's remaining budget. */
  readonly samples: readonly Sample[];
  /** The previous value of each of those samples' series (NaN: none). */
  readonly before: Float64Array;
  /** Series not tracked for lack of budget. */
  readonly dropped: number;
}

/**
 * Layouts seen per family, most recently used first: a node's series usually match the first. A
 * layout no node used in a cycle is evicted at its end, so a node whose labels change every scrape
 * holds one layout at a time, not one per scrape.
 */
class LayoutCache {
  private readonly byFamily = new Map<string, SeriesLayout[]>();
  private evicted = 0;

  constructor(private readonly maxPerFamily: number) {}

  clear(): void {
    this.byFamily.clear();
    this.evicted = 0;
  }

  get size(): number {
    let size = 0;
    for (const layouts of this.byFamily.values()) size += layouts.length;
    return size;
  }

  /**
   * Reads a family's tracked samples against `previous`: which series are this scrape's, which
   * previous ones are kept because this scrape lacks them, and which of them fit in `budget`.
   */
  track(
    key: string, all: readonly Sample[], isTracked: (s: Sample) => boolean, previous: RecordedFamily | undefined,
    budget: number, cycle: number,
  ): TrackedFamily {
    let dropped = 0;
    let trackedCount = 0;
    for (const s of all) if (isTracked(s)) trackedCount++;
    // Mostly every sample is tracked and within budget: the payload's array is used as is.
    let samples: readonly Sample[] = all;
    if (trackedCount !== all.length || trackedCount > budget) {
      const chosen: Sample[] = [];
      for (const s of all) {
        if (!isTracked(s)) continue;
        if (chosen.length < budget) chosen.push(s);
        else dropped++;
      }
      samples = chosen;
    }
    const kept: number[] = [];
    // The common case: the same series as last time, in the same order, on the same layout.
    if (previous && fits(previous.layout, samples, undefined, kept)) {
      const layout = this.keep(key, previous.layout, cycle);
      const values = new Float64Array(samples.length);
      for (let i = 0; i < samples.length; i++) {
        const value = samples[i].value;
        values[i] = Number.isFinite(value) ? value : previous.values[i];
      }
      return { recorded: { layout, values }, samples, before: previous.values, dropped };
    }
    const before = new Float64Array(samples.length).fill(NaN);
    if (previous) {
      // Match by series key: new series get no previous value; the previous ones this scrape lacks are kept.
      const old = previous.layout;
      const matched = new Uint8Array(old.names.length);
      for (let i = 0; i < samples.length; i++) {
        const at = slotByKey(old, samples[i].name, samples[i].labels);
        if (at === undefined) continue;
        before[i] = previous.values[at];
        matched[at] = 1;
      }
      for (let at = 0; at < old.names.length; at++) {
        if (matched[at] || Number.isNaN(previous.values[at])) continue;
        if (samples.length + kept.length < budget) kept.push(at);
        else dropped++;
      }
    }
    const layout = this.match(
      key, samples.length + kept.length,
      (l) => fits(l, samples, previous?.layout, kept),
      () => newLayout(key, samples, previous?.layout, kept),
      cycle,
    );
    const values = new Float64Array(layout.names.length);
    for (let i = 0; i < samples.length; i++) {
      const value = samples[i].value;
      values[i] = Number.isFinite(value) ? value : before[i];
    }
    for (let j = 0; j < kept.length; j++) values[samples.length + j] = (previous as RecordedFamily).values[kept[j]];
    return { recorded: { layout, values }, samples, before, dropped };
  }

  /** Marks a node's unchanged layout used, putting it back in the cache if it was evicted. */
  private keep(key: string, layout: SeriesLayout, cycle: number): SeriesLayout {
    if (layout.lastUsedCycle === cycle) return layout;
    const known = this.byFamily.get(key);
    if (known?.includes(layout)) {
      layout.lastUsedCycle = cycle;
      return layout;
    }
    // Evicted (or never shared): another node may already have made the same one this cycle.
    return this.match(key, layout.names.length, (l) => sameLayout(l, layout), () => layout, cycle);
  }

  /** Evicts the layouts no node used in `cycle`; returns how many were evicted over the cap since the last call. */
  endCycle(cycle: number): number {
    for (const [family, layouts] of this.byFamily) {
      const used = layouts.filter((l) => l.lastUsedCycle >= cycle);
      if (used.length === 0) this.byFamily.delete(family);
      else if (used.length !== layouts.length) this.byFamily.set(family, used);
    }
    const evicted = this.evicted;
    this.evicted = 0;
    return evicted;
  }

  /** The cached layout `fitting` accepts, or a new one from `make`, marked used in `cycle`. */
  private match(
    key: string, length: number, fitting: (layout: SeriesLayout) => boolean, make: () => SeriesLayout, cycle: number,
  ): SeriesLayout {
    const known = this.byFamily.get(key) ?? [];
    for (let i = 0; i < known.length; i++) {
      const layout = known[i];
      if (layout.names.length !== length || !fitting(layout)) continue;
      layout.lastUsedCycle = cycle;
      if (i > 0) {
        known.splice(i, 1);
        known.unshift(layout);
      }
      return layout;
    }
    const layout = make();
    layout.lastUsedCycle = cycle;
    known.unshift(layout);
    if (known.length > this.maxPerFamily) {
      known.pop();
      this.evicted++;
    }
    this.byFamily.set(key, known);
    return layout;
  }
}

/** A new layout of `samples` then the `kept` slots of `old`, holding no reference into the payload. */
function newLayout(key: string, samples: readonly Sample[], old: SeriesLayout | undefined, kept: readonly number[]): SeriesLayout {
  const names = new Array<string>(samples.length + kept.length);
  const labels = new Array<Labels>(samples.length + kept.length);
  const nameOf = interner(key);
  samples.forEach((s, i) => {
    names[i] = nameOf(s.name);
    labels[i] = flatLabels(s.labels);
  });
  kept.forEach((at, j) => {
    // Kept series come from the node's previous layout, already free of the payload.
    names[samples.length + j] = (old as SeriesLayout).names[at];
    labels[samples.length + j] = (old as SeriesLayout).labels[at];
  });
  return { names, labels, lastUsedCycle: 0 };
}

function sameLayout(a: SeriesLayout, b: SeriesLayout): boolean {
  if (a === b) return true;
  for (let i = 0; i < a.names.length; i++) {
    if (a.names[i] !== b.names[i] || !sameLabels(a.labels[i], b.labels[i])) return false;
  }
  return true;
}

/** Whether `layout` is exactly `samples` then the `kept` slots of `old`, in order. */
function fits(layout: SeriesLayout, samples: readonly Sample[], old: SeriesLayout | undefined, kept: readonly number[]): boolean {
  if (layout.names.length !== samples.length + kept.length) return false;
  for (let i = 0; i < samples.length; i++) {
    if (layout.names[i] !== samples[i].name || !sameLabels(layout.labels[i], samples[i].labels)) return false;
  }
  for (let j = 0; j < kept.length; j++) {
    const at = samples.length + j;
    const from = (old as SeriesLayout);
    if (layout.names[at] !== from.names[kept[j]] || !sameLabels(layout.labels[at], from.labels[kept[j]])) return false;
  }
  return true;
}

function slotByKey(layout: SeriesLayout, name: string, labels: Labels): number | undefined {
  if (!layout.index) {
    layout.index = new Map();
    for (let i = 0; i < layout.names.length; i++) layout.index.set(seriesKey(layout.names[i], layout.labels[i]), i);
  }
  return layout.index.get(seriesKey(name, labels));
}

/**
 * The sample names a family's layouts hold, made from the catalog's family name: a name sliced
 * from a payload would keep the whole payload in memory.
 */
function interner(key: string): (name: string) => string {
  const known = [key, `${key}_total`, `${key}_sum`, `${key}_count`];
  return (name) => known.find((k) => k === name) ?? flat(name);
}

function flatLabels(labels: Labels): Labels {
  // fromEntries defines own properties, so a label named `__proto__` stays a label.
  return Object.fromEntries(Object.keys(labels).map((name) => [flat(name), flat(labels[name])]));
}

/** A copy of `s` that holds no reference to the payload it was sliced from. */
function flat(s: string): string {
  return (' ' + s).slice(1);
}

/** Same label names and values, own properties only (`toString` is not a label). */
function sameLabels(a: Labels, b: Labels): boolean {
  if (a === b) return true;
  let count = 0;
  for (const name in a) {
    if (!hasOwn(a, name)) continue;
    count++;
    if (!hasOwn(b, name) || a[name] !== b[name]) return false;
  }
  for (const name in b) if (hasOwn(b, name)) count--;
  return count === 0;
}

/**
 * A compact key for one series: the sample name, then `\0name\1value` per label in name order.
 * Label names cannot hold control characters, so the key is unambiguous.
 */
function seriesKey(sampleName: string, labels: Labels): string {
  let key = sampleName;
  for (const name of Object.keys(labels).sort()) key += '\u0000' + name + '\u0001' + labels[name];
  return key;
}

/**
 * Cluster aggregation: one cycle's per-node scrapes in, one value per catalog metric out.
 *
 * Counter state is kept per node and per series, so each node's increase is measured against
 * that node's own previous scrape. Upstream kept one cluster-wide last value and subtracted it
 * once per pod, which makes every counter wrong with more than one node (#3844, #1073).
 *
 * Decisions worth knowing (see also the Aggregation doc in catalog.ts):
 * - A node seen for the first time (or again after it vanished from discovery) is a baseline:
 *   its counters count from the next cycle on, never its history.
 * - Counter datums are published, 0 included, whenever at least one node scraped OK was compared
 *   with its own previous scrape. A family absent from every payload then reads 0: ipamd's
 *   labeled counters only appear on their first increment, so absence means nothing happened.
 * - Gauge datums need at least one OK node exposing the family: no node, no datum (never 0).
 * - A failed scrape keeps the node's state, so its next success gives the increase across the gap.
 * - Non-finite samples are skipped; a counter that reads NaN keeps its previous value.
 * - If a node appears twice in one cycle (two aws-node pods during a rollout), one result is used:
 *   an OK one over a failed one, then the pod started last.
 */
import { CATALOG, catalogMetric, type CatalogMetric } from '../common/catalog';
import type { AwsNodePod, ClusterDatum, CycleAggregation, MetricFamily, NodeScrapeResult, ParsedMetrics, Sample } from './types';

export interface AggregatorOptions {
  /**
   * The metrics to aggregate. Entries with aggregation 'health' are skipped: the cycle runner adds those.
   * @default CATALOG
   */
  readonly catalog?: readonly CatalogMetric[];
}

/** The family that `minAvailableIps` subtracts from the metric's own (total IPs) family. */
const ASSIGNED_IPS_FAMILY = catalogMetric('assignIPAddresses').family as string;

/** The quantile label value `latencyMaxP99` reads. */
const P99 = 0.99;

type Labels = Readonly<Record<string, string>>;

/**
 * Counter and summary values of a node's last successful scrape, by family: what its next scrape
 * is compared with. Compact (a Float64Array on a shared layout), and no reference into the payload.
 */
type RecordedFamilies = Map<string, RecordedFamily>;

/** The tracked series of a family, in exposition order; shared by every node that exposes the same ones. */
interface SeriesLayout {
  readonly names: readonly string[];
  readonly labels: readonly Labels[];
  /** seriesKey → slot, built on the first lookup that is not positional. */
  index?: Map<string, number>;
}

/** A node's last good value of each tracked series (NaN: none yet), slot for slot with its layout. */
interface RecordedFamily {
  readonly layout: SeriesLayout;
  readonly values: Float64Array;
}

/** Layouts remembered per family; a node whose series match none gets a new one (nodes keep theirs). */
const LAYOUTS_PER_FAMILY = 32;

/** Layouts seen per family, most recent first: a node's series usually match the first. */
class LayoutCache {
  private readonly byFamily = new Map<string, SeriesLayout[]>();

  match(familyName: string, samples: readonly Sample[], tracked: (s: Sample) => boolean): SeriesLayout {
    const known = this.byFamily.get(familyName) ?? [];
    for (const layout of known) if (fits(layout, samples, tracked)) return layout;
    const names: string[] = [];
    const labels: Labels[] = [];
    for (const s of samples) {
      if (!tracked(s)) continue;
      names.push(flat(s.name));
      labels.push(Object.fromEntries(Object.entries(s.labels).map(([k, v]) => [flat(k), flat(v)])));
    }
    const layout: SeriesLayout = { names, labels };
    known.unshift(layout);
    if (known.length > LAYOUTS_PER_FAMILY) known.pop();
    this.byFamily.set(familyName, known);
    return layout;
  }
}

/** A copy of `s` that holds no reference to the payload it was sliced from. */
function flat(s: string): string {
  return (' ' + s).slice(1);
}

function fits(layout: SeriesLayout, samples: readonly Sample[], tracked: (s: Sample) => boolean): boolean {
  let j = 0;
  for (const s of samples) {
    if (!tracked(s)) continue;
    if (j >= layout.names.length || layout.names[j] !== s.name || !sameLabels(layout.labels[j], s.labels)) return false;
    j++;
  }
  return j === layout.names.length;
}

function slotByKey(layout: SeriesLayout, name: string, labels: Labels): number | undefined {
  if (!layout.index) {
    layout.index = new Map();
    for (let i = 0; i < layout.names.length; i++) layout.index.set(seriesKey(layout.names[i], layout.labels[i]), i);
  }
  return layout.index.get(seriesKey(name, labels));
}

/** The node's previous good value for `layout`'s slot, or undefined. */
function previousValue(previous: RecordedFamily | undefined, layout: SeriesLayout, slot: number): number | undefined {
  if (!previous) return undefined;
  const at = previous.layout === layout ? slot : slotByKey(previous.layout, layout.names[slot], layout.labels[slot]);
  if (at === undefined) return undefined;
  const value = previous.values[at];
  return Number.isNaN(value) ? undefined : value;
}

interface NodeState {
  readonly podName: string;
  readonly podStartTimeMs: number | undefined;
  /** cycleTime (ms) of the node's last successful scrape. */
  readonly lastScrapeCycleMs: number;
  readonly recorded: RecordedFamilies;
  /** The last cycle whose results named this node (OK or failed); older states are released. */
  seenInCycle: number;
}

/** A catalog metric this aggregator computes, with its family resolved. */
interface PlannedMetric {
  readonly metric: CatalogMetric;
  readonly family: string;
}

/** Per-family figures of one cycle, filled node by node. */
class CycleRollup {
  readonly gaugeTotals = new Map<string, number>();
  readonly counterDeltas = new Map<string, number>();
  readonly latencySum = new Map<string, number>();
  readonly latencyCount = new Map<string, number>();
  readonly p99Max = new Map<string, number>();
  readonly minAvailable = new Map<string, number>();
  /** Nodes scraped OK this cycle that had a previous successful scrape to compare with. */
  comparedNodes = 0;

  add(into: Map<string, number>, family: string, value: number): void {
    into.set(family, (into.get(family) ?? 0) + value);
  }

  min(into: Map<string, number>, family: string, value: number): void {
    const current = into.get(family);
    if (current === undefined || value < current) into.set(family, value);
  }

  max(into: Map<string, number>, family: string, value: number): void {
    const current = into.get(family);
    if (current === undefined || value > current) into.set(family, value);
  }
}

export class ClusterAggregator {
  private readonly planned: readonly PlannedMetric[];
  private readonly gaugeFamilies: readonly string[];
  private readonly counterFamilies: readonly string[];
  private readonly latencyMeanFamilies: readonly string[];
  private readonly p99Families: readonly string[];
  private readonly availableIpsFamilies: readonly string[];
  private readonly nodes = new Map<string, NodeState>();
  private readonly layouts = new LayoutCache();
  private cycle = 0;

  constructor(options: AggregatorOptions = {}) {
    const catalog = options.catalog ?? CATALOG;
    this.planned = catalog.filter((m) => m.aggregation !== 'health').map(planMetric);
    const familiesOf = (aggregation: CatalogMetric['aggregation']): string[] => [
      ...new Set(this.planned.filter((p) => p.metric.aggregation === aggregation).map((p) => p.family)),
    ];
    this.gaugeFamilies = familiesOf('gaugeSum');
    this.counterFamilies = familiesOf('counterDelta');
    this.latencyMeanFamilies = familiesOf('latencyMean');
    this.p99Families = familiesOf('latencyMaxP99');
    this.availableIpsFamilies = familiesOf('minAvailableIps');
  }

  /** Nodes whose state is held (for memory/soak checks). */
  get trackedNodeCount(): number {
    return this.nodes.size;
  }

  private streaming?: { rollup: CycleRollup; cycleMs: number; expected: Map<string, number>; held: Map<string, NodeScrapeResult[]> };

  /**
   * Starts a cycle: the stage production runs. Results are added as they arrive; finish() ends it.
   * (Interim shape over begin/fold/finish; the aggregator's internals follow it.)
   */
  startCycle(pods: readonly AwsNodePod[], cycleTime: Date): CycleAggregation {
    this.begin(pods, cycleTime.getTime());
    const time = new Date(cycleTime.getTime());
    return {
      add: (result) => {
        this.fold(result);
        return result.ok
          ? { nodeName: result.pod.nodeName, podName: result.pod.podName, ok: true, durationMs: result.durationMs }
          : { nodeName: result.pod.nodeName, podName: result.pod.podName, ok: false, error: result.error, durationMs: result.durationMs };
      },
      finish: () => this.finish(time),
    };
  }

  /**
   * Starts a cycle whose results come one by one through fold(), so each node's parsed payload
   * can be dropped as soon as it is folded in (10,000 payloads are never held at once).
   * `pods` are the cycle's discovered pods; `cycleMs` the cycle's start time.
   */
  begin(pods: readonly AwsNodePod[], cycleMs: number): void {
    if (!Number.isFinite(cycleMs)) {
      throw new Error('ClusterAggregator: cycleTime is an invalid Date; pass the time the cycle started');
    }
    this.cycle += 1;
    const expected = new Map<string, number>();
    for (const pod of pods) expected.set(pod.nodeName, (expected.get(pod.nodeName) ?? 0) + 1);
    this.streaming = { rollup: new CycleRollup(), cycleMs, expected, held: new Map() };
  }

  /** Folds one result into the cycle; a node with two pods is folded once both are in. */
  fold(result: NodeScrapeResult): void {
    const st = this.streaming;
    if (!st) throw new Error('fold() before begin()');
    const nodeName = result.pod.nodeName;
    let chosen = result;
    if ((st.expected.get(nodeName) ?? 1) > 1) {
      const held = st.held.get(nodeName) ?? [];
      held.push(result);
      st.held.set(nodeName, held);
      if (held.length < (st.expected.get(nodeName) as number)) return;
      st.held.delete(nodeName);
      chosen = [...onePerNode(held)][0];
    }
    const previous = this.nodes.get(nodeName);
    if (chosen.ok) this.nodes.set(nodeName, this.readNode(chosen.pod, chosen.metrics, previous, st.cycleMs, st.rollup));
    else if (previous) previous.seenInCycle = this.cycle;
  }

  /** Ends the cycle: releases vanished nodes and returns the cluster datums, all stamped `cycleTime`. */
  finish(cycleTime: Date): ClusterDatum[] {
    const st = this.streaming;
    if (!st) throw new Error('finish() before begin()');
    this.streaming = undefined;
    for (const held of st.held.values()) {
      for (const r of onePerNode(held)) {
        const previous = this.nodes.get(r.pod.nodeName);
        if (r.ok) this.nodes.set(r.pod.nodeName, this.readNode(r.pod, r.metrics, previous, st.cycleMs, st.rollup));
        else if (previous) previous.seenInCycle = this.cycle;
      }
    }
    this.releaseVanishedNodes();
    return this.datums(st.rollup, new Date(cycleTime.getTime()));
  }

  /**
   * One cycle: every scraped node's result (ok or failed) and the set of node names discovered this cycle
   * (the nodes the results name; a node named by none is forgotten).
   * Returns one ClusterDatum per catalog metric that has a value this cycle, all stamped `cycleTime`.
   */
  aggregate(results: readonly NodeScrapeResult[], cycleTime: Date): ClusterDatum[] {
    this.begin(results.map((r) => r.pod), cycleTime.getTime());
    for (const result of results) this.fold(result);
    return this.finish(cycleTime);
  }

  /** Adds one OK node's figures to the rollup and returns its new state. */
  private readNode(
    pod: AwsNodePod, metrics: ParsedMetrics, previous: NodeState | undefined, cycleMs: number, rollup: CycleRollup,
  ): NodeState {
    for (const family of this.gaugeFamilies) {
      const total = nodeGaugeTotal(metrics.get(family));
      if (total !== undefined) rollup.add(rollup.gaugeTotals, family, total);
    }
    for (const family of this.availableIpsFamilies) {
      const total = nodeGaugeTotal(metrics.get(family));
      const assigned = nodeGaugeTotal(metrics.get(ASSIGNED_IPS_FAMILY));
      if (total !== undefined && assigned !== undefined) rollup.min(rollup.minAvailable, family, total - assigned);
    }
    for (const family of this.p99Families) {
      const p99 = nodeMaxP99(metrics.get(family));
      if (p99 !== undefined) rollup.max(rollup.p99Max, family, p99);
    }

    // A first sighting only records the baseline: nothing is counted without a previous scrape.
    const restarted = previous !== undefined && ipamdRestarted(previous, pod);
    const recorded: RecordedFamilies = new Map();
    for (const family of this.counterFamilies) {
      const delta = readCounterFamily(family, metrics.get(family), previous?.recorded, restarted, recorded, this.layouts);
      if (previous) rollup.add(rollup.counterDeltas, family, delta);
    }
    for (const family of this.latencyMeanFamilies) {
      const delta = readSummaryFamily(family, metrics.get(family), previous?.recorded, restarted, recorded, this.layouts);
      if (previous) {
        rollup.add(rollup.latencySum, family, delta.sum);
        rollup.add(rollup.latencyCount, family, delta.count);
      }
    }
    if (previous) rollup.comparedNodes += 1;

    return {
      podName: pod.podName,
      podStartTimeMs: pod.startTimeMs,
      lastScrapeCycleMs: cycleMs,
      recorded,
      seenInCycle: this.cycle,
    };
  }

  /** Drops nodes that this cycle's results did not name at all, so memory stays flat with churn. */
  private releaseVanishedNodes(): void {
    for (const [nodeName, state] of this.nodes) {
      if (state.seenInCycle !== this.cycle) this.nodes.delete(nodeName);
    }
  }

  private datums(rollup: CycleRollup, timestamp: Date): ClusterDatum[] {
    const datums: ClusterDatum[] = [];
    for (const { metric, family } of this.planned) {
      const value = metricValue(metric, family, rollup);
      // The last guard: no sink ever receives NaN or Infinity.
      if (value !== undefined && Number.isFinite(value)) {
        datums.push({ metricName: metric.metricName, unit: metric.unit, value, timestamp });
      }
    }
    return datums;
  }
}

function planMetric(metric: CatalogMetric): PlannedMetric {
  if (!metric.family) {
    throw new Error(
      `Catalog metric '${metric.metricName}' aggregates with '${metric.aggregation}' but names no ipamd family; ` +
      "set its 'family' or use aggregation 'health'",
    );
  }
  return { metric, family: metric.family };
}

/** The cycle value of one metric, or undefined when it has none this cycle. */
function metricValue(metric: CatalogMetric, family: string, rollup: CycleRollup): number | undefined {
  switch (metric.aggregation) {
    case 'gaugeSum':
      return rollup.gaugeTotals.get(family);
    case 'counterDelta':
      return rollup.comparedNodes > 0 ? rollup.counterDeltas.get(family) ?? 0 : undefined;
    case 'latencyMean': {
      const count = rollup.latencyCount.get(family) ?? 0;
      // No API call in the cycle: no datum, never a 0 ms mean.
      return count > 0 ? (rollup.latencySum.get(family) ?? 0) / count : undefined;
    }
    case 'latencyMaxP99':
      return rollup.p99Max.get(family);
    case 'minAvailableIps':
      return rollup.minAvailable.get(family);
    case 'health':
      return undefined;
  }
}

/**
 * Keeps one result per node name, in first-seen order: an OK one over a failed one, then the
 * pod started last. Two aws-node pods can briefly share a node during a rollout, and both
 * would read the same ipamd.
 */
function onePerNode(results: readonly NodeScrapeResult[]): Iterable<NodeScrapeResult> {
  const chosen = new Map<string, NodeScrapeResult>();
  for (const result of results) {
    const held = chosen.get(result.pod.nodeName);
    if (!held || prefer(result, held)) chosen.set(result.pod.nodeName, result);
  }
  return chosen.values();
}

function prefer(candidate: NodeScrapeResult, held: NodeScrapeResult): boolean {
  if (candidate.ok !== held.ok) return candidate.ok;
  return (candidate.pod.startTimeMs ?? -Infinity) > (held.pod.startTimeMs ?? -Infinity);
}

/**
 * Whether the node's ipamd started afresh since its last successful scrape: another pod on the
 * node, or a pod start later than that scrape's cycle. A start time already recorded at that
 * scrape is not a new restart, so a pod that started just after the cycle time (clock skew
 * between API server and collector) is not counted from zero twice.
 */
function ipamdRestarted(previous: NodeState, pod: AwsNodePod): boolean {
  if (pod.podName !== previous.podName) return true;
  const start = pod.startTimeMs;
  return start !== undefined && start > previous.lastScrapeCycleMs && start !== previous.podStartTimeMs;
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
    const quantile = sample.labels.quantile;
    if (quantile === undefined || sample.name !== family.name || Number(quantile) !== P99) continue;
    if (Number.isFinite(sample.value) && (max === undefined || sample.value > max)) max = sample.value;
  }
  return max;
}

/**
 * The increase of a counter since the node's previous scrape: the whole current value after a
 * restart, a drop (counter reset) or for a series the node did not have before (labeled
 * counters appear on their first increment).
 */
function counterIncrease(current: number, previous: number | undefined, restarted: boolean): number {
  if (restarted || previous === undefined || current < previous) return current;
  return current - previous;
}

/**
 * Returns a node's summed counter increase for one family (0 on a baseline: `before` undefined)
 * and records the family's samples in `recorded`.
 */
function readCounterFamily(
  /** The catalog's family name: kept as the key, never the parser's string, which may pin the payload. */
  key: string,
  family: MetricFamily | undefined, before: RecordedFamilies | undefined, restarted: boolean, recorded: RecordedFamilies,
  layouts: LayoutCache,
): number {
  if (!family) return 0;
  // OpenMetrics names a counter's samples `<family>_total`; `_created` samples are not counts.
  const name = family.name;
  const totalName = `${name}_total`;
  const tracked = (s: Sample): boolean => s.name === name || s.name === totalName;
  const layout = layouts.match(key, family.samples, tracked);
  const previous = before?.get(key);
  const values = new Float64Array(layout.names.length);
  let slot = 0;
  let delta = 0;
  for (const sample of family.samples) {
    if (!tracked(sample)) continue;
    const at = slot++;
    const last = previousValue(previous, layout, at);
    if (!Number.isFinite(sample.value)) {
      values[at] = last ?? NaN;
      continue;
    }
    values[at] = sample.value;
    if (before) delta += counterIncrease(sample.value, last, restarted);
  }
  recorded.set(key, { layout, values });
  return delta;
}

function readSummaryFamily(
  key: string,
  family: MetricFamily | undefined, before: RecordedFamilies | undefined, restarted: boolean, recorded: RecordedFamilies,
  layouts: LayoutCache,
): { sum: number; count: number } {
  const delta = { sum: 0, count: 0 };
  if (!family) return delta;
  const sumName = `${family.name}_sum`;
  const countName = `${family.name}_count`;
  const tracked = (s: Sample): boolean => s.name === sumName || s.name === countName;
  const layout = layouts.match(key, family.samples, tracked);
  const previous = before?.get(key);
  const values = new Float64Array(layout.names.length);
  let slot = 0;
  for (const sample of family.samples) if (tracked(sample)) values[slot++] = sample.value;
  const current = Float64Array.from(values);
  for (let i = 0; i < layout.names.length; i++) {
    if (layout.names[i] !== sumName) continue;
    // ipamd writes each label set's `_count` right after its `_sum`.
    const c = i + 1 < layout.names.length && layout.names[i + 1] === countName && sameLabels(layout.labels[i + 1], layout.labels[i])
      ? i + 1 : slotByKey(layout, countName, layout.labels[i]);
    if (c === undefined) continue;
    const sum = current[i];
    const count = current[c];
    const lastSum = previousValue(previous, layout, i);
    const lastCount = previousValue(previous, layout, c);
    if (!Number.isFinite(sum) || !Number.isFinite(count)) {
      values[i] = lastSum ?? NaN;
      values[c] = lastCount ?? NaN;
      continue;
    }
    if (!before) continue;
    const fromZero = restarted || lastSum === undefined || lastCount === undefined || sum < lastSum || count < lastCount;
    delta.sum += fromZero ? sum : sum - (lastSum as number);
    delta.count += fromZero ? count : count - (lastCount as number);
  }
  recorded.set(key, { layout, values });
  return delta;
}

function sameLabels(a: Labels, b: Labels): boolean {
  if (a === b) return true;
  for (const name in a) if (a[name] !== b[name]) return false;
  for (const name in b) if (a[name] === undefined) return false;
  return true;
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

/**
 * Runs one aggregator cycle the way production does (startCycle → add each result → finish), from
 * a list of results, for tests that state a cycle as a list.
 */
import type { ClusterAggregator } from '../../runtime/aggregate';
import type { AwsNodePod, ClusterDatum, NodeOutcome, NodeScrapeResult } from '../../runtime/types';

export interface AggregatedCycle {
  readonly datums: ClusterDatum[];
  readonly outcomes: NodeOutcome[];
}

/**
 * One cycle: `pods` are what discovery listed (by default the pods the results name), the results
 * are added in order.
 */
export function runAggregatorCycle(
  aggregator: ClusterAggregator, results: readonly NodeScrapeResult[], cycleTime: Date,
  pods: readonly AwsNodePod[] = results.map((r) => r.pod),
): AggregatedCycle {
  const cycle = aggregator.startCycle(pods, cycleTime);
  const outcomes = results.map((r) => cycle.add(r));
  return { datums: cycle.finish(), outcomes };
}

/** The datums of one cycle (see runAggregatorCycle). */
export function aggregateCycle(
  aggregator: ClusterAggregator, results: readonly NodeScrapeResult[], cycleTime: Date, pods?: readonly AwsNodePod[],
): ClusterDatum[] {
  return runAggregatorCycle(aggregator, results, cycleTime, pods).datums;
}

/**
 * One cycle's collect over a set of nodes: scrape each, fold its result into the aggregator as it
 * arrives and drop the payload, then end the cycle in a mergeable part. The main thread runs it
 * over all the nodes (pipeline.ts), each scrape worker over its share (shard-worker.ts).
 */
import type { ClusterAggregator, CyclePart } from './aggregate';
import type { Scraper } from './scrape';
import type { AwsNodePod, NodeOutcome, ParsedMetrics } from './types';

export interface CollectedShare {
  readonly part: CyclePart;
  /** Nodes scraped and folded in. */
  readonly scraped: number;
  /** The failed nodes' outcomes (the scraped ones are only counted). */
  readonly failed: readonly NodeOutcome[];
}

export async function collectShare(
  scraper: Scraper, aggregator: ClusterAggregator, pods: readonly AwsNodePod[], cycleTime: Date, signal: AbortSignal,
): Promise<CollectedShare> {
  const cycle = aggregator.startCycle(pods, cycleTime);
  const failed: NodeOutcome[] = [];
  let scraped = 0;
  // Each node is added as it arrives and its payload dropped, so no cycle holds every payload at once.
  await scraper.scrapeAll(pods, signal, (result) => {
    const outcome = cycle.add(result);
    if (outcome.ok) scraped++;
    else failed.push(outcome);
    return result.ok ? { ...result, metrics: NO_METRICS } : result;
  });
  return { part: cycle.finishPart(), scraped, failed };
}

const NO_METRICS: ParsedMetrics = new Map();

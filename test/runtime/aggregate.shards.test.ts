/**
 * Shards: the nodes split over several aggregators (one per scrape worker, runtime/shards.ts), each
 * finishing its part, give the same cluster datums as one aggregator over all of them. Figures are
 * worked out by hand for two cycles, counter deltas included.
 */
import { ClusterAggregator } from '../../runtime/aggregate';
import { catalogMetric } from '../../common/catalog';
import type { ClusterDatum, NodeScrapeResult } from '../../runtime/types';
import { failedNode, metrics, okNode } from './parsed-metrics-builder';

const family = (name: Parameters<typeof catalogMetric>[0]): string => catalogMetric(name).family as string;
const ASSIGNED = family('assignIPAddresses');
const IP_MAX = family('maxIPAddresses');
const ADD_REQ = family('addReqCount');
const LATENCY = family('awsAPILatency');
const BUILD_INFO = family('cniVersionCount');

/** A node with `assigned` of `ipMax` IPs, an add-request counter, one API latency series and a CNI version. */
function node(name: string, o: { assigned: number; ipMax: number; addReq: number; latency: [number, number, number]; version: string }): NodeScrapeResult {
  const [sum, count, p99] = o.latency;
  return okNode(name, metrics()
    .gauge(ASSIGNED, o.assigned).gauge(IP_MAX, o.ipMax).counter(ADD_REQ, o.addReq)
    .summary(LATENCY, { sum, count, labels: { api: 'AssignPrivateIpAddresses', error: 'false' }, quantiles: { '0.99': p99 } })
    .gauge(BUILD_INFO, 1, { version: o.version }));
}

const CYCLE_1 = new Date(Date.UTC(2026, 0, 1, 1, 0));
const CYCLE_2 = new Date(Date.UTC(2026, 0, 1, 1, 1));

const cycleOne = [
  node('a', { assigned: 10, ipMax: 29, addReq: 100, latency: [500, 10, 90], version: 'v1.19.0' }),
  node('b', { assigned: 29, ipMax: 29, addReq: 40, latency: [300, 3, 150], version: 'v1.19.0' }),
  node('c', { assigned: 50, ipMax: 58, addReq: 7, latency: [0, 0, 0], version: 'v1.20.1' }),
  failedNode('d'),
];
const cycleTwo = [
  node('a', { assigned: 12, ipMax: 29, addReq: 130, latency: [800, 14, 95], version: 'v1.20.1' }),
  node('b', { assigned: 20, ipMax: 29, addReq: 41, latency: [300, 3, 150], version: 'v1.20.1' }),
  node('c', { assigned: 57, ipMax: 58, addReq: 27, latency: [100, 2, 60], version: 'v1.20.1' }),
  failedNode('d'),
];

/** One cycle over `shards` aggregators: node i goes to shard i mod count; the parts are merged by `merger`. */
function shardedCycle(merger: ClusterAggregator, shards: readonly ClusterAggregator[], results: readonly NodeScrapeResult[], at: Date): ClusterDatum[] {
  const parts = shards.map((shard, s) => {
    const mine = results.filter((_, i) => i % shards.length === s);
    const cycle = shard.startCycle(mine.map((r) => r.pod), at);
    for (const r of mine) cycle.add(r);
    return cycle.finishPart();
  });
  return merger.datumsOf(parts, at);
}

const byName = (datums: readonly ClusterDatum[]): Record<string, number> => Object.fromEntries(datums.map((d) => [d.metricName, d.value]));

describe('ClusterAggregator shards', () => {
  test.each([1, 2, 3])('%i shard(s) give the hand-computed cluster figures over two cycles', (count) => {
    const merger = new ClusterAggregator();
    const shards = Array.from({ length: count }, () => new ClusterAggregator());

    const first = byName(shardedCycle(merger, shards, cycleOne, CYCLE_1));
    // Gauges sum over the three scraped nodes: 10 + 29 + 50 = 89 assigned; no counter delta yet (baselines).
    expect(first.assignIPAddresses).toBe(89);
    expect(first.addReqCount).toBeUndefined();
    // The fullest node is b (29 of 29 = 100 %), one node is full, the least headroom is b's 0.
    expect(first.maxNodeIPUtilization).toBe(100);
    expect(first.nodesAtIPCapacity).toBe(1);
    expect(first.minFreeIPCapacityPerNode).toBe(0);
    // Two CNI versions; the largest p99 is b's 150 ms.
    expect(first.cniVersionCount).toBe(2);
    expect(first.awsAPILatencyMaxP99).toBe(150);

    const second = byName(shardedCycle(merger, shards, cycleTwo, CYCLE_2));
    // Counter increases: a 130 − 100 = 30, b 41 − 40 = 1, c 27 − 7 = 20: 51 in all.
    expect(second.addReqCount).toBe(51);
    // Latency mean of the cycle's calls: sums (800 − 500) + 0 + 100 = 400 over counts 4 + 0 + 2 = 6.
    expect(second.awsAPILatency).toBeCloseTo(400 / 6, 10);
    expect(second.assignIPAddresses).toBe(12 + 20 + 57);
    // The fullest node is now c: 100 × 57 / 58; none full; least headroom c's 1.
    expect(second.maxNodeIPUtilization).toBeCloseTo((100 * 57) / 58, 10);
    expect(second.nodesAtIPCapacity).toBe(0);
    expect(second.minFreeIPCapacityPerNode).toBe(1);
    // a and b moved to v1.20.1: one version left.
    expect(second.cniVersionCount).toBe(1);
  });

  test('a shard that saw no node adds nothing and takes nothing away', () => {
    const merger = new ClusterAggregator();
    const busy = new ClusterAggregator();
    const idle = new ClusterAggregator();
    const run = (results: readonly NodeScrapeResult[], at: Date): ClusterDatum[] => {
      const busyCycle = busy.startCycle(results.map((r) => r.pod), at);
      for (const r of results) busyCycle.add(r);
      return merger.datumsOf([busyCycle.finishPart(), idle.startCycle([], at).finishPart()], at);
    };
    run(cycleOne, CYCLE_1);
    // 30 + 1 + 20 = 51, as with one aggregator; the idle shard's empty minimum does not win.
    const second = byName(run(cycleTwo, CYCLE_2));
    expect(second.addReqCount).toBe(51);
    expect(second.minFreeIPCapacityPerNode).toBe(1);
  });
});

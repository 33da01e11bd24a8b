/**
 * The worst node: the fullest node's utilization, how many nodes are full, and the least headroom,
 * each one cluster datum per cycle, checked against figures worked out by hand.
 */
import { ClusterAggregator } from '../../runtime/aggregate';
import { catalogMetric } from '../../common/catalog';
import type { ClusterDatum } from '../../runtime/types';
import { aggregateCycle } from './aggregator-cycle';
import { failedNode, metrics, okNode } from './parsed-metrics-builder';

const ASSIGNED = catalogMetric('assignIPAddresses').family as string;
const IP_MAX = catalogMetric('maxIPAddresses').family as string;
const CYCLE = new Date(Date.UTC(2026, 0, 1, 1, 0));
const WORST = ['maxNodeIPUtilization', 'nodesAtIPCapacity', 'minFreeIPCapacityPerNode'];

const node = (name: string, assigned: number, ipMax: number) => okNode(name, metrics().gauge(ASSIGNED, assigned).gauge(IP_MAX, ipMax));

function worst(datums: readonly ClusterDatum[]): Record<string, number> {
  return Object.fromEntries(datums.filter((d) => WORST.includes(d.metricName)).map((d) => [d.metricName, d.value]));
}

describe('ClusterAggregator reset', () => {
  test('after reset every node is a baseline again: no increase from counters seen before it', () => {
    // GIVEN a node seen at 100, then at 130 (an increase of 30 published)
    const ADD_REQ = catalogMetric('addReqCount').family as string;
    const aggregator = new ClusterAggregator();
    const addReq = (value: number) => okNode('a', metrics().counter(ADD_REQ, value));
    aggregateCycle(aggregator, [addReq(100)], CYCLE);
    expect(aggregateCycle(aggregator, [addReq(130)], CYCLE).find((d) => d.metricName === 'addReqCount')?.value).toBe(30);
    // WHEN the aggregator is reset (this replica became the leader again) and the node reads 180
    aggregator.reset();
    expect(aggregator.trackedNodeCount).toBe(0);
    const afterReset = aggregateCycle(aggregator, [addReq(180)], CYCLE);
    // THEN no addReqCount (a baseline, not 50), and the next cycle counts from 180
    expect(afterReset.some((d) => d.metricName === 'addReqCount')).toBe(false);
    expect(aggregateCycle(aggregator, [addReq(185)], CYCLE).find((d) => d.metricName === 'addReqCount')?.value).toBe(5);
  });

  test('a cycle open at reset is abandoned: finishing it throws', () => {
    const aggregator = new ClusterAggregator();
    const cycle = aggregator.startCycle([], CYCLE);
    aggregator.reset();
    expect(() => cycle.finish()).toThrow(/finished or superseded/);
  });
});

describe('ClusterAggregator worst node', () => {
  test('reads the fullest node, the full nodes and the least headroom, not the sums', () => {
    // GIVEN three nodes: 10 of 29 IPs, 29 of 29 (full), 50 of 58
    const datums = aggregateCycle(new ClusterAggregator(), [node('a', 10, 29), node('b', 29, 29), node('c', 50, 58)], CYCLE);
    // THEN the fullest node is b at 100 %, one node is full, and b has 0 headroom
    // (the sum would read 89 of 116 = 76.7 %, hiding the full node)
    expect(worst(datums)).toEqual({ maxNodeIPUtilization: 100, nodesAtIPCapacity: 1, minFreeIPCapacityPerNode: 0 });
  });

  test('a node with more assigned than its maximum counts as full, with negative headroom', () => {
    // GIVEN a node that reports 31 assigned of 30 (a max lowered under it) and one at 12 of 48
    const datums = aggregateCycle(new ClusterAggregator(), [node('a', 31, 30), node('b', 12, 48)], CYCLE);
    // THEN 100 × 31 / 30, one full node, headroom 30 − 31 = −1
    expect(worst(datums)).toEqual({ maxNodeIPUtilization: (100 * 31) / 30, nodesAtIPCapacity: 1, minFreeIPCapacityPerNode: -1 });
  });

  test('with no node full the count is 0, a real figure', () => {
    const datums = aggregateCycle(new ClusterAggregator(), [node('a', 3, 12), node('b', 9, 36)], CYCLE);
    // 25 % on both, 0 full, headroom min(9, 27) = 9
    expect(worst(datums)).toEqual({ maxNodeIPUtilization: 25, nodesAtIPCapacity: 0, minFreeIPCapacityPerNode: 9 });
  });

  test('sums every series of a family on a node before comparing (one value per node)', () => {
    // GIVEN a node whose assigned IPs come in two series (5 + 7) against a max of 14 in two series (8 + 6)
    const split = okNode('a', metrics().gauge(ASSIGNED, 5, { eni: '1' }).gauge(ASSIGNED, 7, { eni: '2' })
      .gauge(IP_MAX, 8, { eni: '1' }).gauge(IP_MAX, 6, { eni: '2' }));
    const datums = aggregateCycle(new ClusterAggregator(), [split], CYCLE);
    expect(worst(datums)).toEqual({ maxNodeIPUtilization: (100 * 12) / 14, nodesAtIPCapacity: 0, minFreeIPCapacityPerNode: 2 });
  });

  test('nodes without a positive maximum, without both families, or that failed are left out', () => {
    // GIVEN a node still starting (max 0), one without its max family, one that failed, and one real node at 6 of 10
    const datums = aggregateCycle(new ClusterAggregator(), [
      node('starting', 0, 0),
      okNode('no-max', metrics().gauge(ASSIGNED, 99)),
      failedNode('down'),
      node('real', 6, 10),
    ], CYCLE);
    // THEN only the real node counts: 60 %, not full, 4 free
    expect(worst(datums)).toEqual({ maxNodeIPUtilization: 60, nodesAtIPCapacity: 0, minFreeIPCapacityPerNode: 4 });
  });

  test('no datum at all when no node has both figures (never a false 0 or 0 %)', () => {
    const datums = aggregateCycle(new ClusterAggregator(), [node('starting', 0, 0), failedNode('down')], CYCLE);
    expect(worst(datums)).toEqual({});
  });

  test('each is published once per cycle, with the catalog unit and the cycle time, and no per-node dimension', () => {
    const datums = aggregateCycle(new ClusterAggregator(), [node('a', 1, 4), node('b', 2, 4)], CYCLE);
    const found = datums.filter((d) => WORST.includes(d.metricName));
    expect(found.map((d) => [d.metricName, d.unit, d.timestamp.getTime(), d.dimensions]).sort()).toEqual([
      ['maxNodeIPUtilization', 'Percent', CYCLE.getTime(), undefined],
      ['minFreeIPCapacityPerNode', 'Count', CYCLE.getTime(), undefined],
      ['nodesAtIPCapacity', 'Count', CYCLE.getTime(), undefined],
    ]);
  });
});

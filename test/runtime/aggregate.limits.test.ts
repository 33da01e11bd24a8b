/**
 * What one node can cost the aggregator is bounded (issue 11): series per node and shared layouts
 * per family are capped, the excess counted and logged once per cycle; a cluster value that is not
 * a finite number is dropped, counted and logged. The figures are worked out in the comments.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { ClusterAggregator, DEFAULT_MAX_SERIES_PER_NODE } from '../../runtime/aggregate';
import { catalogMetric, CATALOG, PROCESS_START_FAMILY, SCRAPED_FAMILIES } from '../../common/catalog';
import { parseExposition } from '../../runtime/parse';
import type { Logger } from '../../runtime/log';
import type { ClusterDatum } from '../../runtime/types';
import { aggregateCycle, runAggregatorCycle } from './aggregator-cycle';
import { metrics, okNode } from './parsed-metrics-builder';

const ADD_REQ = catalogMetric('addReqCount').family as string;
const EC2_REQ = catalogMetric('ec2ApiReqCount').family as string;
const TOTAL_IPS = catalogMetric('totalIPAddresses').family as string;
const STARTED = 1_767_225_600.5;
const cycleAt = (n: number): Date => new Date(Date.UTC(2026, 0, 1, 1, 0, n));

function valueOf(datums: readonly ClusterDatum[], metricName: string): number | undefined {
  return datums.find((d) => d.metricName === metricName)?.value;
}

function recordingLogger(): { logger: Logger; lines: Array<{ level: string; msg: string; fields?: Record<string, unknown> }> } {
  const lines: Array<{ level: string; msg: string; fields?: Record<string, unknown> }> = [];
  const at = (level: string) => (msg: string, fields?: Record<string, unknown>) => lines.push({ level, msg, fields });
  return { logger: { debug: at('debug'), info: at('info'), warn: at('warn'), error: at('error') }, lines };
}

/** A node with one ec2 series per function name, each at `value`. */
const ec2Node = (nodeName: string, fns: readonly string[], value: number) => {
  const built = metrics().processStart(STARTED);
  for (const fn of fns) built.counter(EC2_REQ, value, { fn });
  return okNode(nodeName, built);
};
const fnNames = (prefix: string, count: number): string[] => Array.from({ length: count }, (_, i) => `${prefix}${i}`);

describe('series per node', () => {
  test('series past the limit are not tracked, counted in collectorSeriesDropped and logged once per cycle', () => {
    const { logger, lines } = recordingLogger();
    const aggregator = new ClusterAggregator({ maxSeriesPerNode: 5, logger });
    // GIVEN node big with 8 series and node small with 2
    aggregateCycle(aggregator, [ec2Node('big', fnNames('f', 8), 10), ec2Node('small', fnNames('f', 2), 10)], cycleAt(0));
    // WHEN every series grows by 1
    const { datums, outcomes } = runAggregatorCycle(aggregator, [ec2Node('big', fnNames('f', 8), 11), ec2Node('small', fnNames('f', 2), 11)], cycleAt(1));
    // THEN big's first 5 series count (5) and small's 2 (2); big's other 3 are dropped each cycle
    expect(valueOf(datums, 'ec2ApiReqCount')).toBe(7);
    expect(valueOf(datums, 'collectorSeriesDropped')).toBe(3);
    expect(outcomes.map((o) => o.seriesDropped)).toEqual([3, undefined]);
    const warnings = lines.filter((l) => l.level === 'warn');
    expect(warnings).toHaveLength(2);
    expect(warnings[1].fields).toMatchObject({ seriesDropped: 3, maxSeriesPerNode: 5, nodesOverLimit: 1, nodes: ['big'] });
  });

  test('series a scrape lacks are kept only within the limit, after the scrape\'s own', () => {
    const aggregator = new ClusterAggregator({ maxSeriesPerNode: 4 });
    aggregateCycle(aggregator, [ec2Node('a', ['x0', 'x1', 'x2'], 10)], cycleAt(0));
    // WHEN the next scrape has 2 other series: 2 + 3 kept = 5 > 4, so one kept series is dropped
    const next = aggregateCycle(aggregator, [ec2Node('a', ['y0', 'y1'], 1)], cycleAt(1));
    expect(valueOf(next, 'collectorSeriesDropped')).toBe(1);
    // y0 and y1 are new series on a known node: 1 + 1
    expect(valueOf(next, 'ec2ApiReqCount')).toBe(2);
    // AND of the x series x0 and x1 were kept, x2 was not: when they return at 11, x0 +1, x1 +1, and
    // x2 counts whole as a series new to the node (11): a dropped series trades exactness for memory
    const back = aggregateCycle(aggregator, [ec2Node('a', ['x0', 'x1', 'x2'], 11)], cycleAt(2));
    expect(valueOf(back, 'ec2ApiReqCount')).toBe(13);
    // (3 + y0 kept = 4: y1 is dropped this time)
    expect(valueOf(back, 'collectorSeriesDropped')).toBe(1);
  });

  test('the default limit fits real ipamd payloads fifty times over', () => {
    const dirs = [path.resolve(__dirname, '..', 'fixtures', 'ipamd'), path.resolve(__dirname, '..', '..', '..', 'shared', 'fixtures', 'ipamd')];
    const tracked = ['counter', 'summary'];
    const sizes: Record<string, number> = {};
    for (const dir of dirs.filter((d) => fs.existsSync(d))) {
      for (const file of fs.readdirSync(dir).filter((f) => f.startsWith('node-') || f.startsWith('upstream-'))) {
        const parsed = parseExposition(fs.readFileSync(path.join(dir, file), 'utf8'), SCRAPED_FAMILIES);
        sizes[file] = CATALOG.filter((m) => m.family && tracked.includes(m.familyType ?? ''))
          .map((m) => m.family as string).filter((f, i, all) => all.indexOf(f) === i)
          .reduce((n, family) => n + (parsed.get(family)?.samples.filter((s) => !s.labels.quantile).length ?? 0), 0);
      }
    }
    // node-a, node-b, node-prefix, node-quantiles at least; the upstream samples when ../shared is there
    expect(Object.keys(sizes).length).toBeGreaterThanOrEqual(4);
    expect(Math.max(...Object.values(sizes))).toBeGreaterThan(20);
    expect(Math.max(...Object.values(sizes)) * 50).toBeLessThanOrEqual(DEFAULT_MAX_SERIES_PER_NODE);
  });
});

describe('shared layouts', () => {
  test('a node whose labels change every scrape holds no more layouts over 200 cycles than after 2', () => {
    const aggregator = new ClusterAggregator({ maxSeriesPerNode: 1_000 });
    const steady = (n: number) => ec2Node('steady', ['CreateTags', 'AttachNetworkInterface'], n);
    const held: number[] = [];
    let published = 0;
    for (let cycle = 0; cycle < 200; cycle++) {
      // 300 series with labels never seen before, every scrape
      const datums = aggregateCycle(aggregator, [steady(cycle), ec2Node('churn', fnNames(`c${cycle}-`, 300), 1)], cycleAt(cycle));
      held.push(aggregator.sharedLayoutCount);
      published += valueOf(datums, 'ec2ApiReqCount') ?? 0;
    }
    // Two families tracked per node at most (ec2 here), one layout each for steady and churn
    expect(Math.max(...held)).toBe(held[1]);
    expect(held[199]).toBe(2);
    // AND the figures stay right: steady +2 a cycle for 199 cycles; churn's new series count whole (300 a cycle)
    expect(published).toBe(199 * 2 + 199 * 300);
  });

  test('past the layout limit nodes get layouts of their own: figures unchanged, evictions logged', () => {
    const { logger, lines } = recordingLogger();
    const limited = new ClusterAggregator({ maxLayoutsPerFamily: 1, logger });
    const unlimited = new ClusterAggregator();
    const cycle = (n: number) => ['a', 'b', 'c'].map((node, i) => ec2Node(node, fnNames(`${node}-`, i + 1), n));
    for (let n = 0; n < 3; n++) {
      expect(aggregateCycle(limited, cycle(n), cycleAt(n))).toEqual(aggregateCycle(unlimited, cycle(n), cycleAt(n)));
    }
    expect(limited.sharedLayoutCount).toBe(1);
    expect(lines.filter((l) => l.level === 'warn').every((l) => (l.fields?.layoutsEvicted as number) > 0)).toBe(true);
  });
});

describe('non-finite cluster values', () => {
  test('a gauge sum that overflows to Infinity is dropped, counted and logged, and the others are published', () => {
    const { logger, lines } = recordingLogger();
    const huge = (name: string) => okNode(name, metrics().gauge(TOTAL_IPS, 1.7e308).counter(ADD_REQ, 1).processStart(STARTED));
    const datums = aggregateCycle(new ClusterAggregator({ logger }), [huge('a'), huge('b')], cycleAt(0));
    expect(valueOf(datums, 'totalIPAddresses')).toBeUndefined();
    // minAvailableIPsPerNode (1.7e308 − nothing assigned) is not published either: no assigned family
    expect(valueOf(datums, 'collectorNonFiniteDropped')).toBe(1);
    expect(datums.every((d) => Number.isFinite(d.value))).toBe(true);
    expect(lines).toEqual([expect.objectContaining({ level: 'warn', fields: { metrics: ['totalIPAddresses'] } })]);
  });

  test('a quiet cycle carries no health datum of the aggregator', () => {
    const datums = aggregateCycle(new ClusterAggregator(), [okNode('a', metrics().gauge(TOTAL_IPS, 3).processStart(STARTED))], cycleAt(0));
    expect(datums.map((d) => d.metricName)).toEqual(['totalIPAddresses']);
    expect(PROCESS_START_FAMILY).toBe('process_start_time_seconds');
  });
});

describe('options', () => {
  test('limits that are not whole numbers of at least 1 fail at construction with the rule', () => {
    expect(() => new ClusterAggregator({ maxSeriesPerNode: 0 })).toThrow(/maxSeriesPerNode must be a whole number of at least 1, got 0/);
    expect(() => new ClusterAggregator({ maxLayoutsPerFamily: 2.5 })).toThrow(/maxLayoutsPerFamily must be a whole number of at least 1, got 2.5/);
  });
});

import { runCycle, CycleStages } from '../../runtime/cycle';
import { silentLogger } from '../../runtime/log';
import type { AwsNodePod, ClusterDatum, NodeScrapeResult, Sink } from '../../runtime/types';

class MemorySink implements Sink {
  readonly name = 'memory';
  readonly received: ClusterDatum[][] = [];
  async publish(datums: readonly ClusterDatum[]) { this.received.push([...datums]); }
  async flush() {}
  async stop() {}
}

const pod = (n: number): AwsNodePod => ({ podName: `aws-node-${n}`, namespace: 'kube-system', nodeName: `node-${n}` });

function stages(overrides: Partial<CycleStages>, sink = new MemorySink()): CycleStages {
  let clock = 1_700_000_000_000;
  return {
    discover: async () => [pod(1), pod(2)],
    scrape: async (pods) => pods.map((p, i): NodeScrapeResult => (i === 0
      ? { ok: true, pod: p, metrics: new Map(), durationMs: 3 }
      : { ok: false, pod: p, error: 'timed out after 100 ms', durationMs: 100 })),
    aggregate: (_results, cycleTime) => [{ metricName: 'eniAllocated', unit: 'Count', value: 4, timestamp: cycleTime }],
    takeDroppedCount: () => 0,
    sinks: [sink],
    logger: silentLogger,
    now: () => (clock += 250),
    ...overrides,
  };
}

describe('runCycle', () => {
  test('hands ipamd datums and health datums, all with the cycle time, to every sink', async () => {
    // GIVEN two nodes, one failing
    const a = new MemorySink();
    const b = new MemorySink();
    // WHEN a cycle runs
    const report = await runCycle(stages({ sinks: [a, b] }));
    // THEN both sinks got the same datums, stamped with the cycle's start
    expect(report).toMatchObject({ discovered: 2, scraped: 1, failed: 1, durationMs: 250 });
    expect(a.received).toEqual([report.datums]);
    expect(b.received).toEqual([report.datums]);
    const byName = Object.fromEntries(report.datums.map((d) => [d.metricName, d.value]));
    expect(byName).toEqual({
      eniAllocated: 4,
      collectorNodesDiscovered: 2,
      collectorNodesScraped: 1,
      collectorNodesFailed: 1,
      collectorCycleDuration: 250,
    });
    expect(new Set(report.datums.map((d) => d.timestamp.getTime()))).toEqual(new Set([report.cycleTime.getTime()]));
  });

  test('publishes the drop count only when something was dropped', async () => {
    const report = await runCycle(stages({ takeDroppedCount: () => 7 }));
    expect(report.datums.find((d) => d.metricName === 'collectorDatumsDropped')?.value).toBe(7);
  });

  test('a failed pod list reports the error, publishes no ipamd or node datums, and does not throw', async () => {
    const sink = new MemorySink();
    const aggregate = jest.fn();
    const report = await runCycle(stages({ discover: async () => { throw new Error('connect ECONNREFUSED 127.0.0.1:6443'); }, aggregate, takeDroppedCount: () => 2 }, sink));
    expect(report.discoveryError).toMatch(/ECONNREFUSED/);
    expect(aggregate).not.toHaveBeenCalled();
    expect(sink.received).toEqual([[expect.objectContaining({ metricName: 'collectorDatumsDropped', value: 2 })]]);
  });

  test('a sink that throws does not keep the others from publishing', async () => {
    const good = new MemorySink();
    const bad: Sink = { name: 'bad', publish: async () => { throw new Error('boom'); }, flush: async () => {}, stop: async () => {} };
    await runCycle(stages({ sinks: [bad, good] }));
    expect(good.received).toHaveLength(1);
  });

  test('passes the abort signal to the scrape stage', async () => {
    const controller = new AbortController();
    const scrape = jest.fn(async () => [] as NodeScrapeResult[]);
    await runCycle(stages({ scrape }), controller.signal);
    expect(scrape).toHaveBeenCalledWith(expect.any(Array), controller.signal, expect.any(Date));
  });
});

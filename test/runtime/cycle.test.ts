import { CycleRunner, CycleStages, CollectedCycle } from '../../runtime/cycle';
import { NAMED_FAILURES } from '../../runtime/node-failures';
import { createLogger, silentLogger } from '../../runtime/log';
import type { AwsNodePod, ClusterDatum, NodeOutcome, OnePodPerNode, Sink, SinkReport } from '../../runtime/types';

class MemorySink implements Sink {
  readonly name: string;
  readonly received: ClusterDatum[][] = [];
  constructor(name = 'memory') {
    this.name = name;
  }
  async publish(datums: readonly ClusterDatum[]) { this.received.push([...datums]); }
  async flush() {}
  async stop() {}
}

/** A sink that holds datums; the test sets its running totals, or `onPublish` moves them. */
class ReportingSink extends MemorySink {
  totals: SinkReport = { sent: 0, dropped: 0, held: 0 };
  constructor(name = 'holding', private readonly onPublish?: (sink: ReportingSink, count: number) => void) {
    super(name);
  }
  async publish(datums: readonly ClusterDatum[]) {
    await super.publish(datums);
    this.onPublish?.(this, datums.length);
  }
  report(): SinkReport {
    return this.totals;
  }
}

const pod = (n: number): AwsNodePod => ({ podName: `aws-node-${n}`, namespace: 'kube-system', nodeName: `node-${n}` });
/** Distinct nodes, as discovery hands them over (only discovery makes a OnePodPerNode). */
const onePerNode = (pods: AwsNodePod[]): OnePodPerNode => pods as readonly AwsNodePod[] as OnePodPerNode;
const ok = (p: AwsNodePod): NodeOutcome => ({ nodeName: p.nodeName, podName: p.podName, ok: true, durationMs: 3 });
const failed = (p: AwsNodePod, error: string): NodeOutcome => ({ nodeName: p.nodeName, podName: p.podName, ok: false, error, durationMs: 100 });

function stages(overrides: Partial<CycleStages>, sink: Sink = new MemorySink()): CycleStages {
  let clock = 1_700_000_000_000;
  return {
    discover: async () => onePerNode([pod(1), pod(2)]),
    collect: async (pods, cycleTime): Promise<CollectedCycle> => ({
      datums: [{ metricName: 'eniAllocated', unit: 'Count', value: 4, timestamp: cycleTime }],
      scraped: 1,
      failed: [failed(pods[1], 'node node-2 (pod kube-system/aws-node-2): timed out after 100 ms while reading the body')],
    }),
    sinks: [sink],
    publishWaitMs: 1000,
    logger: silentLogger,
    now: () => (clock += 250),
    ...overrides,
  };
}

function capturingLogger(): { logger: ReturnType<typeof createLogger>; lines: () => Array<Record<string, unknown> & { msg: string }>; raw: string[] } {
  const raw: string[] = [];
  const logger = createLogger('debug', (line) => raw.push(line));
  return { logger, raw, lines: () => raw.map((l) => JSON.parse(l)) };
}

describe('CycleRunner', () => {
  test('hands ipamd datums and health datums, all with the cycle time, to every sink', async () => {
    // GIVEN two nodes, one failing
    const a = new MemorySink('a');
    const b = new MemorySink('b');
    // WHEN a cycle runs
    const { logger, lines } = capturingLogger();
    const report = await new CycleRunner(stages({ sinks: [a, b], logger })).run();
    // THEN both sinks got the same datums, stamped with the cycle's start
    expect(report).toMatchObject({ discovered: 2, scraped: 1, failed: 1, durationMs: 250, publishSettled: true, publishFailureStreak: 0 });
    expect(report.failedNodes.map((o) => o.nodeName)).toEqual(['node-2']);
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
    // AND no sink holds datums, so the summary says nothing of sent or held ones
    expect(lines().find((l) => l.msg === 'cycle done')).toMatchObject({ nodes: 2, nodesOk: 1, nodesFailed: 1, datums: 5, durationMs: 250 });
    expect(lines().find((l) => l.msg === 'cycle done')).not.toHaveProperty('datumsSent');
  });

  test("the summary line counts what the holding sink accepted during the cycle's publish", async () => {
    const sink = new ReportingSink('holding', (self, count) => { self.totals = { ...self.totals, sent: self.totals.sent + count }; });
    const { logger, lines } = capturingLogger();
    const runner = new CycleRunner(stages({ logger }, sink));
    await runner.run();
    await runner.run();
    expect(lines().filter((l) => l.msg === 'cycle done').map((l) => [l.datums, l.datumsSent, l.datumsHeld])).toEqual([[5, 5, 0], [5, 5, 0]]);
  });

  test('publishes the drops the sinks report, summed, and only when something was dropped', async () => {
    // GIVEN two holding sinks
    const first = new ReportingSink('first');
    const second = new ReportingSink('second');
    const runner = new CycleRunner(stages({ sinks: [first, second] }));
    // WHEN a cycle runs with nothing dropped, then the sinks drop 3 and 4 datums, then 2 more in the first
    const quiet = await runner.run();
    first.totals = { sent: 10, dropped: 3, held: 0 };
    second.totals = { sent: 5, dropped: 4, held: 0 };
    const dropping = await runner.run();
    first.totals = { sent: 20, dropped: 5, held: 0 };
    const again = await runner.run();
    // THEN the first cycle has no drop datum, the second reports 3 + 4 and the third the 2 new ones
    const dropsOf = (r: typeof quiet): number[] => r.datums.filter((d) => d.metricName === 'collectorDatumsDropped').map((d) => d.value);
    expect([dropsOf(quiet), dropsOf(dropping), dropsOf(again)]).toEqual([[], [7], [2]]);
    expect(runner.outstanding()).toEqual({ held: 0, dropsUnreported: 0 });
    // AND drops after the last cycle are what an exit would leave unreported
    second.totals = { sent: 5, dropped: 10, held: 3 };
    expect(runner.outstanding()).toEqual({ held: 3, dropsUnreported: 6 });
  });

  test('a failed pod list reports the error, publishes only the drop count, and does not collect', async () => {
    const sink = new ReportingSink();
    sink.totals = { sent: 0, dropped: 2, held: 0 };
    const collect = jest.fn();
    const report = await new CycleRunner(stages({ discover: async () => { throw new Error('connect ECONNREFUSED 127.0.0.1:6443'); }, collect }, sink)).run();
    expect(report.discoveryError).toMatch(/ECONNREFUSED/);
    expect(collect).not.toHaveBeenCalled();
    expect(sink.received).toEqual([[expect.objectContaining({ metricName: 'collectorDatumsDropped', value: 2 })]]);
  });

  test('a sink that throws does not keep the others from publishing, and counts as a failed publish', async () => {
    const good = new MemorySink('good');
    const bad: Sink = { name: 'bad', publish: async () => { throw new Error('boom'); }, flush: async () => {}, stop: async () => {} };
    const report = await new CycleRunner(stages({ sinks: [bad, good] })).run();
    expect(good.received).toHaveLength(1);
    expect(report.publishFailureStreak).toBe(1);
  });

  test('extra datums (the subnet watcher\'s) join every cycle with its time, one whose pod list failed included', async () => {
    const sink = new MemorySink();
    const extraCalls: number[] = [];
    let failList = false;
    const runner = new CycleRunner(stages({
      discover: async () => {
        if (failList) throw new Error('HTTP 401');
        return onePerNode([pod(1), pod(2)]);
      },
      extra: (cycleTime) => {
        extraCalls.push(cycleTime.getTime());
        return [{ metricName: 'subnetAvailableIPs', unit: 'Count', value: 9, timestamp: cycleTime, dimensions: { SubnetId: 'subnet-1', AvailabilityZone: 'az-1' } }];
      },
    }, sink));
    const first = await runner.run();
    failList = true;
    const second = await runner.run();
    expect(extraCalls).toEqual([first.cycleTime.getTime(), second.cycleTime.getTime()]);
    for (const [i, report] of [first, second].entries()) {
      expect(sink.received[i].filter((d) => d.metricName === 'subnetAvailableIPs'))
        .toEqual([{ metricName: 'subnetAvailableIPs', unit: 'Count', value: 9, timestamp: report.cycleTime, dimensions: { SubnetId: 'subnet-1', AvailabilityZone: 'az-1' } }]);
    }
  });

  test('a cycle whose mayPublish says no at its end hands nothing to any sink, and the drops wait for the next cycle', async () => {
    const sink = new ReportingSink();
    sink.totals = { sent: 0, dropped: 4, held: 0 };
    const extra = jest.fn(() => []);
    const runner = new CycleRunner(stages({ extra }, sink));
    let asked = 0;
    const withheld = await runner.run(undefined, { mayPublish: () => { asked++; return false; } });
    expect(asked).toBe(1);
    expect(withheld).toMatchObject({ withheld: true, datums: [], scraped: 1, failed: 1, publishFailureStreak: 0 });
    expect(sink.received).toEqual([]);
    expect(extra).not.toHaveBeenCalled();
    // The next published cycle carries the 4 drops counted before
    await runner.run();
    expect(sink.received[0].find((d) => d.metricName === 'collectorDatumsDropped')?.value).toBe(4);
  });

  test('passes the abort signal to discovery and collection', async () => {
    const controller = new AbortController();
    const discover = jest.fn(async () => onePerNode([pod(1)]));
    const collect = jest.fn(async (): Promise<CollectedCycle> => ({ datums: [], scraped: 0, failed: [] }));
    await new CycleRunner(stages({ discover, collect })).run(controller.signal);
    expect(discover).toHaveBeenCalledWith(controller.signal);
    expect(collect).toHaveBeenCalledWith([pod(1)], expect.any(Date), controller.signal);
  });

  test('a publish that never settles holds no cycle longer than the publish wait', async () => {
    // GIVEN a sink whose publish hangs forever, and a 50 ms publish wait
    const published: number[] = [];
    const hanging: Sink = {
      name: 'hanging',
      publish: (datums) => { published.push(datums.length); return new Promise<void>(() => {}); },
      flush: async () => {}, stop: async () => {},
    };
    const { logger, lines } = capturingLogger();
    const runner = new CycleRunner(stages({ sinks: [hanging], publishWaitMs: 50, logger }));
    // WHEN three cycles run back to back
    const started = Date.now();
    const reports = [await runner.run(), await runner.run(), await runner.run()];
    const elapsed = Date.now() - started;
    // THEN each handed its datums over, waited about 50 ms and went on
    expect(published).toEqual([5, 5, 5]);
    expect(reports.map((r) => r.publishSettled)).toEqual([false, false, false]);
    expect(elapsed).toBeGreaterThanOrEqual(150);
    expect(elapsed).toBeLessThan(1000);
    expect(lines().filter((l) => l.msg === 'publish still running after its deadline; the cycle goes on')).toHaveLength(3);
  });

  test('counts consecutive cycles in which a holding sink accepted nothing while it held datums', async () => {
    // GIVEN a sink that accepts each cycle's datums, except in cycles 2 to 4 where it only holds them
    let accepting = true;
    const sink = new ReportingSink('holding', (self, count) => {
      const { sent, dropped, held } = self.totals;
      self.totals = accepting ? { sent: sent + held + count, dropped, held: 0 } : { sent, dropped, held: held + count };
    });
    const runner = new CycleRunner(stages({}, sink));
    // WHEN six cycles run
    const reports = [];
    for (let cycle = 1; cycle <= 6; cycle++) {
      accepting = cycle < 2 || cycle > 4;
      reports.push(await runner.run());
    }
    // THEN the streak counts the failing cycles and resets when the sink accepts again
    expect(reports.map((r) => r.publishFailureStreak)).toEqual([0, 1, 2, 3, 0, 0]);
  });

  test('logs one bounded summary line for any number of failed nodes: ten named, the rest counted by reason', async () => {
    // GIVEN 10,000 nodes of which 3,000 time out, 2,000 answer HTTP 500, 1,000 refuse and 4,000 answer
    const pods = onePerNode(Array.from({ length: 10_000 }, (_, i) => pod(i)));
    const outcomes = pods.map((p, i): NodeOutcome => {
      const prefix = `node ${p.nodeName} (pod kube-system/${p.podName}): `;
      if (i < 3000) return failed(p, `${prefix}timed out after 3000 ms while connecting and waiting for response headers (GET http://10.0.0.1:61678/metrics)`);
      if (i < 5000) return failed(p, `${prefix}HTTP 500 Internal Server Error: ${'x'.repeat(300)}… (GET http://10.0.0.2:61678/metrics)`);
      if (i < 6000) return failed(p, `${prefix}connection refused (connect ECONNREFUSED 10.0.0.3:61678): is ipamd listening on that port?`);
      return ok(p);
    });
    const { logger, lines, raw } = capturingLogger();
    // WHEN the cycle runs
    await new CycleRunner(stages({ discover: async () => pods, collect: async () => ({ datums: [], scraped: outcomes.filter((o) => o.ok).length, failed: outcomes.filter((o) => !o.ok) }), logger })).run();
    // THEN one warn line names the first ten and counts all 6,000 by reason
    const summaries = lines().filter((l) => l.msg === 'nodes failed this cycle');
    expect(summaries).toHaveLength(1);
    expect(summaries[0]).toMatchObject({
      level: 'warn',
      failed: 6000,
      byReason: { timeout: 3000, 'HTTP 500': 2000, 'connection refused': 1000 },
    });
    expect(NAMED_FAILURES).toBe(10);
    expect((summaries[0].named as Array<{ node: string }>).map((n) => n.node)).toEqual(Array.from({ length: 10 }, (_, i) => `node-${i}`));
    // AND the cycle's whole log is a few lines of a few KB, not one line per node
    expect(raw.length).toBeLessThanOrEqual(3);
    expect(raw.join('').length).toBeLessThan(8192);
  });
});

/**
 * CloudWatch faults: throttling, 5xx and refused connections for many cycles, then back. Nothing is
 * lost without being counted: every datum the collector produced is either stored by CloudWatch,
 * with its original timestamp, or dropped as one of the oldest beyond the buffer bound, counted
 * in the collectorDatumsDropped figure CloudWatch receives, and logged.
 */
import { CATALOG, catalogMetric } from '../../common/catalog';
import { CloudWatchSink } from '../../runtime/cloudwatch-sink';
import type { ClusterDatum } from '../../runtime/types';
import { createTestCloudWatchClient, startCloudWatchServer, type CloudWatchServer } from '../support/cloudwatch-server';
import { startCollector } from '../support/collector-process';
import {
  CLUSTER_ID, LoopbackCluster, NODE_A, NODE_B, asStored, logsNamed, printedDatums, startLoopbackCluster, waitForLogCount,
  waitForPrintedCycles,
} from '../support/loopback-cluster';

const SEND_FAILED = 'CloudWatch sink: PutMetricData failed; datums kept for retry';
const SEND_WORKS_AGAIN = 'CloudWatch sink: PutMetricData works again';
const BUFFER_FULL = 'CloudWatch sink: buffer full; dropped the oldest datums';
const DROPPED_METRIC = catalogMetric('collectorDatumsDropped').metricName;

describe('bundled collector: CloudWatch outage', () => {
  let cluster: LoopbackCluster | undefined;
  afterEach(async () => {
    await cluster?.stop();
    cluster = undefined;
  });

  test('throttling, 5xx and refused connections for many cycles: datums produced = stored (original timestamps) + dropped (oldest, counted, logged)', async () => {
    // GIVEN room for 40 datums (two cycles or less), and CloudWatch throttling, then failing with 500 and 503
    cluster = await startLoopbackCluster([NODE_A, NODE_B], [], { CLOUDWATCH_BUFFER_MAX_DATUMS: '40' });
    const firstServer = cluster.cloudWatch;
    firstServer.faults.push('throttling', 'internalError', 'serviceUnavailable');
    const run = startCollector(['--print'], cluster.env, 40_000);

    // WHEN the first send fails on those answers (the SDK retries them within one attempt) ...
    await waitForLogCount(run, SEND_FAILED, 1);
    expect(firstServer.requests.map((r) => r.answer)).toEqual(['throttling', 'internalError', 'serviceUnavailable']);
    // ... then CloudWatch stops listening until the next retry has been refused ...
    await firstServer.close();
    await waitForLogCount(run, SEND_FAILED, 2, 15_000);
    expect(String(logsNamed(run, SEND_FAILED)[1].error)).toMatch(/ECONNREFUSED/);
    // ... and comes back on the same endpoint
    cluster.cloudWatch = await startCloudWatchServer({ port: firstServer.port });
    await waitForLogCount(run, SEND_WORKS_AGAIN, 1, 15_000);
    const backAtMs = Date.parse(String(logsNamed(run, SEND_WORKS_AGAIN)[0].time));
    const cyclesWhenBack = logsNamed(run, 'cycle done').length;
    await waitForLogCount(run, 'cycle done', cyclesWhenBack + 2);
    run.child.kill('SIGTERM');
    expect(await run.exited).toBe(0);

    // THEN the outage lasted several cycles and cost datums beyond the bound, each drop logged
    const produced = printedDatums(run);
    const stored = cluster.cloudWatch.datums;
    const droppedLogged = logsNamed(run, BUFFER_FULL).reduce((sum, l) => sum + Number(l.dropped), 0);
    expect(new Set(produced.filter((d) => Date.parse(d.timestamp) < backAtMs).map((d) => d.timestamp)).size).toBeGreaterThanOrEqual(4);
    expect(droppedLogged).toBeGreaterThan(40);
    // AND the dropped are exactly the oldest: CloudWatch stored every later datum once, in order,
    // with the value and timestamp it was produced with
    expect(stored).toEqual(produced.slice(droppedLogged).map(asStored));
    expect(stored[0].Timestamp!.getTime()).toBeLessThan(backAtMs);
    // AND CloudWatch was told how many were dropped: produced = stored + dropped (as reported)
    const droppedReported = stored.filter((d) => d.MetricName === DROPPED_METRIC).reduce((sum, d) => sum + (d.Value ?? 0), 0);
    expect({ produced: produced.length, storedPlusReportedDropped: stored.length + droppedReported })
      .toEqual({ produced: produced.length, storedPlusReportedDropped: produced.length });
    expect(droppedReported).toBe(droppedLogged);
    expect(logsNamed(run, 'collector stopped')[0]).toMatchObject({ unsentDatums: 0, sentDatums: stored.length });
    expect(cluster.cloudWatch.protocolErrors).toEqual([]);
  }, 40_000);
});

describe('bundled collector: CloudWatch refuses one datum', () => {
  let cluster: LoopbackCluster | undefined;
  afterEach(async () => {
    await cluster?.stop();
    cluster = undefined;
  });

  test('every cycle the refused datum is isolated and dropped, every other datum is stored, and the drops are reported', async () => {
    // GIVEN CloudWatch refuses any request that carries an eniAllocated datum (as it refuses a request for one bad datum)
    cluster = await startLoopbackCluster([NODE_A, NODE_B]);
    const bad = catalogMetric('eniAllocated').metricName;
    cluster.cloudWatch.rejectDatum = (d) => d.MetricName === bad;

    // WHEN the bundle runs three cycles
    const run = startCollector(['--print'], cluster.env, 30_000);
    await waitForPrintedCycles(run, 3);
    await waitForLogCount(run, 'cycle done', 3);
    run.child.kill('SIGTERM');
    expect(await run.exited).toBe(0);

    // THEN CloudWatch stored exactly the printed datums but the refused ones, in order
    const produced = printedDatums(run);
    const refused = produced.filter((d) => d.metric === bad);
    expect(refused.length).toBeGreaterThanOrEqual(3);
    expect(cluster.cloudWatch.datums).toEqual(produced.filter((d) => d.metric !== bad).map(asStored));
    // AND each refusal was logged once with its count, and reported in the next cycle's drop figure
    // (the last cycle's drop has no next cycle to report it before the exit)
    const refusedLogs = run.logs().filter((l) => String(l.msg).startsWith('CloudWatch sink: PutMetricData refused datums'));
    expect(refusedLogs.map((l) => [l.dropped, l.metrics])).toEqual(refused.map(() => [1, [bad]]));
    const reported = cluster.cloudWatch.datums.filter((d) => d.MetricName === DROPPED_METRIC).reduce((sum, d) => sum + (d.Value ?? 0), 0);
    expect(reported).toBe(refused.length - 1);
    expect(cluster.cloudWatch.protocolErrors).toEqual([]);
  }, 30_000);
});

describe('CloudWatchSink against a loopback CloudWatch: the bound under outage', () => {
  let server: CloudWatchServer | undefined;
  let sink: CloudWatchSink | undefined;
  let destroyClient: (() => void) | undefined;
  afterEach(async () => {
    await sink?.stop();
    destroyClient?.();
    await server?.close();
    sink = undefined;
    server = undefined;
  });

  const T0 = Date.now() - 60_000;
  /** `count` datums of one cycle, values telling cycles apart. */
  function cycle(index: number, count: number, droppedBefore = 0): ClusterDatum[] {
    const timestamp = new Date(T0 + index * 1000);
    const datums: ClusterDatum[] = Array.from({ length: count }, (_, i) => ({
      metricName: CATALOG[i].metricName, unit: CATALOG[i].unit, value: index * 100 + i, timestamp,
    }));
    if (droppedBefore > 0) datums.push({ metricName: DROPPED_METRIC, unit: 'Count', value: droppedBefore, timestamp });
    return datums;
  }

  async function setUp(bufferMaxDatums: number): Promise<{ server: CloudWatchServer; sink: CloudWatchSink }> {
    server = await startCloudWatchServer();
    const { client } = createTestCloudWatchClient(server.url, { maxAttempts: 1 });
    destroyClient = () => client.destroy();
    // Backoff long enough that no retry timer fires during the test: the test drives every send.
    sink = new CloudWatchSink({ clusterId: CLUSTER_ID, namespace: 'Kubernetes', bufferMaxDatums, client, baseBackoffMs: 600_000, maxBackoffMs: 600_000 });
    return { server, sink };
  }

  test('a cycle that arrives while a send is in flight and then fails keeps the newest datums, dropping the oldest', async () => {
    // GIVEN room for 10 datums, and a request for cycle 0 that CloudWatch never answers
    const { server: first, sink } = await setUp(10);
    first.faults.push('hang');
    const sendingCycle0 = sink.publish(cycle(0, 10));
    await first.waitForRequests(1);

    // WHEN cycle 1 arrives during that request, and the request then fails (the connection is dropped)
    const queuingCycle1 = sink.publish(cycle(1, 10));
    await first.close();
    await Promise.all([sendingCycle0, queuingCycle1]);

    // THEN the bound is kept by dropping cycle 0, the oldest; cycle 1 is sent when CloudWatch is back
    expect(sink.bufferedCount).toBe(10);
    expect(sink.takeDroppedCount()).toBe(10);
    server = await startCloudWatchServer({ port: first.port });
    await sink.flush(Date.now() + 5000);
    expect(server.datums.map((d) => d.Value)).toEqual(cycle(1, 10).map((d) => d.value));
  });

  test('a dropped collectorDatumsDropped datum hands its count back, so the drops it reported are reported again', async () => {
    // GIVEN room for 3 datums, CloudWatch down, and a cycle that reports 5 earlier drops
    const { server, sink } = await setUp(3);
    server.faults.push(...Array<'serviceUnavailable'>(10).fill('serviceUnavailable'));
    await sink.publish(cycle(0, 2, 5));
    expect(sink.takeDroppedCount()).toBe(0);

    // WHEN the next cycle pushes that cycle out of the buffer
    await sink.publish(cycle(1, 3));

    // THEN the next figure covers the 3 datums just dropped and the 5 whose report was among them
    expect([sink.takeDroppedCount(), sink.takeLostDropReports()]).toEqual([3, 5]);
    expect([sink.takeDroppedCount(), sink.takeLostDropReports()]).toEqual([0, 0]);
  });
});

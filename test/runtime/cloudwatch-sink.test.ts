import { PutMetricDataCommand } from '@aws-sdk/client-cloudwatch';
import { CATALOG, CLUSTER_DIMENSION } from '../../common/catalog';
import { CloudWatchSink, MAX_DATUMS_PER_REQUEST, MAX_REQUEST_BYTES, type CloudWatchSinkOptions } from '../../runtime/cloudwatch-sink';
import { createLogger } from '../../runtime/log';
import type { ClusterDatum } from '../../runtime/types';
import {
  createTestCloudWatchClient, startCloudWatchServer, type CloudWatchServer, type ReceivedDatum, type TestCloudWatchClient,
} from '../support/cloudwatch-server';
import { isolateFromAwsEnvironment } from '../support/isolated-aws-env';

// No test may read ~/.aws or reach AWS.
isolateFromAwsEnvironment('AWS_ENDPOINT_URL_CLOUDWATCH');

const CLUSTER_ID = 'test-cluster';
const NAMESPACE = 'Kubernetes';
/** Recent enough for CloudWatch, with milliseconds to prove they survive the wire. */
const T0 = new Date(Math.floor(Date.now() / 1000) * 1000 - 10 * 60_000 + 123);
/** Long enough that no retry timer fires during a test that drives retries itself. */
const NO_TIMER_BACKOFF = { baseBackoffMs: 10 * 60_000, maxBackoffMs: 10 * 60_000 };

/** One cycle's datums: `count` of them, catalog names and units in turn, values that tell cycles apart. */
function cycle(index: number, count = CATALOG.length): ClusterDatum[] {
  const timestamp = new Date(T0.getTime() + index * 30_000);
  return Array.from({ length: count }, (_, i) => {
    const metric = CATALOG[i % CATALOG.length];
    return { metricName: metric.metricName, unit: metric.unit, value: index * 1000 + i + 0.5, timestamp };
  });
}

/** What CloudWatch should have stored for these datums. */
function expected(datums: readonly ClusterDatum[], clusterId = CLUSTER_ID): ReceivedDatum[] {
  return datums.map((d) => ({
    Namespace: NAMESPACE, MetricName: d.metricName, Unit: d.unit, Value: d.value, Timestamp: d.timestamp,
    Dimensions: [{ Name: CLUSTER_DIMENSION, Value: clusterId }],
  }));
}

async function waitUntil(condition: () => boolean, what: string, timeoutMs = 5000): Promise<void> {
  const giveUpAt = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > giveUpAt) throw new Error(`timed out waiting until ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
}

interface LogLine { level: string; msg: string; [field: string]: unknown }

describe('CloudWatchSink', () => {
  const cleanups: (() => Promise<void> | void)[] = [];
  afterEach(async () => {
    for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
  });

  async function setUp(options: Partial<CloudWatchSinkOptions> = {}, sdk: { maxAttempts?: number } = {}): Promise<{
    server: CloudWatchServer; sink: CloudWatchSink; sdkClient: TestCloudWatchClient; logs: LogLine[];
  }> {
    const server = await startCloudWatchServer();
    cleanups.push(() => server.close());
    const sdkClient = createTestCloudWatchClient(server.url, sdk);
    cleanups.push(() => sdkClient.client.destroy());
    const logs: LogLine[] = [];
    const sink = new CloudWatchSink({
      clusterId: CLUSTER_ID, namespace: NAMESPACE, bufferMaxDatums: 10_000, client: sdkClient.client,
      logger: createLogger('debug', (line) => logs.push(JSON.parse(line))), ...NO_TIMER_BACKOFF, ...options,
    });
    cleanups.push(() => sink.stop());
    return { server, sink, sdkClient, logs };
  }

  describe('what CloudWatch receives', () => {
    test('a cycle arrives as the exact datums: names, values, units, own timestamps, cluster dimension, namespace', async () => {
      const { server, sink } = await setUp();
      const datums = cycle(0);

      await sink.publish(datums);

      expect(server.datums).toEqual(expected(datums));
      expect(server.protocolErrors).toEqual([]);
      expect(sink.sentCount).toBe(datums.length);
      expect(sink.bufferedCount).toBe(0);
      // Sent the way the SDK speaks JSON 1.0, signed for CloudWatch in the client's region.
      const [request] = server.requests;
      expect(request.headers['x-amz-target']).toBe('GraniteServiceVersion20100801.PutMetricData');
      expect(request.signedFor).toEqual({ accessKeyId: 'AKIDLOOPBACKTEST', region: 'us-east-1', service: 'monitoring' });
    });

    test('a cycle of 30 datums goes in one request', async () => {
      const { server, sink } = await setUp();

      await sink.publish(cycle(0, 30));

      expect(server.requests).toHaveLength(1);
      expect(server.requests[0].input.MetricData).toHaveLength(30);
    });

    test('more datums than one request may carry are split into several, in order', async () => {
      // GIVEN 2,500 datums held (CloudWatch was down), WHEN they are flushed
      const { server, sink } = await setUp();
      server.faults.push('serviceUnavailable', 'serviceUnavailable');
      const datums = cycle(0, 2500);
      await sink.publish(datums);
      expect(sink.bufferedCount).toBe(2500);

      await sink.flush(Date.now() + 5000);

      // THEN three requests of at most 1,000 carry them all, gzipped as the SDK does above 10 KB
      const delivered = server.requests.filter((r) => r.answer === 'ok');
      expect(delivered.map((r) => r.input.MetricData.length)).toEqual([MAX_DATUMS_PER_REQUEST, MAX_DATUMS_PER_REQUEST, 500]);
      expect(delivered.every((r) => r.gzipped)).toBe(true);
      expect(server.datums).toEqual(expected(datums));
      expect(server.protocolErrors).toEqual([]);
    });

    test('requests stay under the 1 MB payload limit when long cluster ids make datums large', async () => {
      // GIVEN the longest cluster id CloudWatch accepts as a dimension value
      const longClusterId = 'c'.repeat(1024);
      const { server, sink } = await setUp({ clusterId: longClusterId });
      server.faults.push('serviceUnavailable', 'serviceUnavailable');
      const datums = cycle(0, MAX_DATUMS_PER_REQUEST);
      await sink.publish(datums);

      await sink.flush(Date.now() + 5000);

      // THEN 1,000 such datums (over 1 MB together) go in two requests, each within the limit
      const delivered = server.requests.filter((r) => r.answer === 'ok');
      expect(delivered.length).toBe(2);
      for (const request of delivered) expect(request.bodyBytes).toBeLessThanOrEqual(MAX_REQUEST_BYTES);
      expect(server.datums).toEqual(expected(datums, longClusterId));
      expect(server.protocolErrors).toEqual([]);
    });
  });

  describe('extra dimensions', () => {
    /** Per-subnet datums of one cycle: `count` subnets, with dimension values `pad` characters long. */
    function subnetDatums(count: number, pad = 0): ClusterDatum[] {
      return Array.from({ length: count }, (_, i) => ({
        metricName: 'subnetAvailableIPs', unit: 'Count' as const, value: 1000 - i, timestamp: T0,
        dimensions: { SubnetId: `subnet-${String(i).padStart(8, '0')}${'f'.repeat(pad)}`, AvailabilityZone: `eu-west-1${'abc'[i % 3]}` },
      }));
    }

    test('go on the wire after CLUSTER_ID, in order, one datum per dimension set', async () => {
      const { server, sink } = await setUp();
      const datums = subnetDatums(3);

      await sink.publish(datums);

      expect(server.datums).toEqual(datums.map((d) => ({
        Namespace: NAMESPACE, MetricName: 'subnetAvailableIPs', Unit: 'Count', Value: d.value, Timestamp: T0,
        Dimensions: [
          { Name: CLUSTER_DIMENSION, Value: CLUSTER_ID },
          { Name: 'SubnetId', Value: d.dimensions?.SubnetId },
          { Name: 'AvailabilityZone', Value: d.dimensions?.AvailabilityZone },
        ],
      })));
      expect(server.protocolErrors).toEqual([]);
    });

    test('their bytes count toward the 1 MB request limit', async () => {
      // GIVEN 1,000 datums whose SubnetId values are about 1,000 characters (about 1.1 MB of dimensions)
      const { server, sink } = await setUp();
      server.faults.push('serviceUnavailable', 'serviceUnavailable');
      const datums = subnetDatums(MAX_DATUMS_PER_REQUEST, 1000);
      await sink.publish(datums);

      await sink.flush(Date.now() + 5000);

      // THEN they go in two requests, each within the limit, all of them delivered in order
      const delivered = server.requests.filter((r) => r.answer === 'ok');
      expect(delivered.length).toBe(2);
      for (const request of delivered) expect(request.bodyBytes).toBeLessThanOrEqual(MAX_REQUEST_BYTES);
      expect(server.datums.map((d) => d.Dimensions[1].Value)).toEqual(datums.map((d) => d.dimensions?.SubnetId));
      expect(server.protocolErrors).toEqual([]);
    });

    test('a datum with an empty dimension value is dropped and counted, the others sent', async () => {
      const { server, sink } = await setUp();
      const good = subnetDatums(2);
      const bad: ClusterDatum = { ...good[0], dimensions: { SubnetId: '', AvailabilityZone: 'eu-west-1a' } };

      await sink.publish([good[0], bad, good[1]]);

      expect(server.datums.map((d) => d.Dimensions[1].Value)).toEqual(good.map((d) => d.dimensions?.SubnetId));
      expect(sink.takeDropsToReport()).toBe(1);
    });
  });

  describe('when CloudWatch fails', () => {
    test('throttling keeps the datums, and they arrive later with their original timestamps', async () => {
      // GIVEN CloudWatch throttles both of the SDK's attempts
      const { server, sink, sdkClient } = await setUp({}, { maxAttempts: 2 });
      server.faults.push('throttling', 'throttling');
      const first = cycle(0);
      const second = cycle(1);

      // WHEN a cycle is published, THEN the SDK saw throttling and the sink kept everything
      await sink.publish(first);
      expect(sdkClient.sdkErrorTypes).toEqual(['THROTTLING', 'THROTTLING']);
      expect(sink.sentCount).toBe(0);
      expect(sink.bufferedCount).toBe(first.length);

      // WHEN the next cycle comes during the backoff, THEN it waits with the first
      await sink.publish(second);
      expect(server.requests).toHaveLength(2);
      expect(sink.bufferedCount).toBe(first.length + second.length);

      // WHEN flushed, THEN both cycles arrive in one request, in order, timestamps untouched
      await sink.flush(Date.now() + 5000);
      expect(server.requests).toHaveLength(3);
      expect(server.datums).toEqual(expected([...first, ...second]));
      expect(sink.droppedCounts).toEqual({ bufferFull: 0, rejected: 0, expired: 0, invalid: 0 });
    });

    test('after 5xx answers over several cycles, every buffered datum is sent in order by the retry timer', async () => {
      // GIVEN CloudWatch answers 503 and 500 five times, and the sink retries on its own after a short backoff
      const { server, sink, sdkClient } = await setUp({ baseBackoffMs: 5, maxBackoffMs: 20 }, { maxAttempts: 1 });
      server.faults.push('serviceUnavailable', 'internalError', 'serviceUnavailable', 'internalError', 'serviceUnavailable');
      const cycles = [cycle(0), cycle(1), cycle(2), cycle(3)];

      // WHEN four cycles are published while it is down
      for (const datums of cycles) {
        await sink.publish(datums);
        await new Promise((resolve) => setTimeout(resolve, 10));
      }
      await waitUntil(() => sink.bufferedCount === 0, 'the buffer is empty');

      // THEN all of them arrived once, in publish order, with their own cycle's timestamps
      expect(server.requests.filter((r) => r.answer !== 'ok')).toHaveLength(5);
      expect(server.datums).toEqual(expected(cycles.flat()));
      expect(sink.sentCount).toBe(4 * CATALOG.length);
      expect(new Set(sdkClient.sdkErrorTypes)).toEqual(new Set(['TRANSIENT']));
    });

    test('a full buffer drops the oldest datums first, counts them and logs each drop once', async () => {
      // GIVEN room for 50 datums and CloudWatch down
      const { server, sink, logs } = await setUp({ bufferMaxDatums: 50 }, { maxAttempts: 1 });
      server.faults.push('serviceUnavailable');
      const cycles = [cycle(0, 28), cycle(1, 28), cycle(2, 28)];

      // WHEN three cycles of 28 arrive (84 datums)
      for (const datums of cycles) await sink.publish(datums);

      // THEN the 34 oldest were dropped, in two drop events, and counted once
      expect(sink.bufferedCount).toBe(50);
      expect(sink.takeDroppedCount()).toBe(34);
      expect(sink.takeDroppedCount()).toBe(0);
      expect(sink.droppedCounts.bufferFull).toBe(34);
      const dropLogs = logs.filter((l) => l.msg.includes('buffer full'));
      expect(dropLogs.map((l) => [l.level, l.dropped])).toEqual([['warn', 6], ['warn', 28]]);

      // WHEN CloudWatch is back, THEN the 50 newest arrive
      await sink.flush(Date.now() + 5000);
      expect(server.datums).toEqual(expected(cycles.flat().slice(34)));
    });

    test('with CloudWatch unreachable, datums wait and reach it when it listens again on the same endpoint', async () => {
      // GIVEN the endpoint refuses connections
      const { server, sink, sdkClient } = await setUp({ baseBackoffMs: 20, maxBackoffMs: 100 }, { maxAttempts: 2 });
      await server.close();
      const datums = cycle(0);

      // WHEN a cycle is published, THEN the SDK retried it as transient and the sink kept it
      await sink.publish(datums);
      expect(sdkClient.sdkErrorTypes).toEqual(['TRANSIENT', 'TRANSIENT']);
      expect(sink.bufferedCount).toBe(datums.length);

      // WHEN CloudWatch comes back on the same port, THEN the retry timer delivers it with its timestamps
      const revived = await startCloudWatchServer({ port: server.port });
      cleanups.push(() => revived.close());
      await waitUntil(() => sink.bufferedCount === 0, 'the buffer is empty');
      expect(revived.datums).toEqual(expected(datums));
    });

    test('one datum CloudWatch refuses is isolated by halving the batch: the others are sent, it is dropped, counted and logged once', async () => {
      // GIVEN CloudWatch refuses any request that carries datum 5 of 8 (InvalidParameterValue, as for a bad datum)
      const { server, sink, sdkClient, logs } = await setUp({}, { maxAttempts: 3 });
      const datums = cycle(0, 8);
      server.rejectDatum = (d) => d.Value === datums[5].value;

      // WHEN the cycle is published
      await sink.publish(datums);

      // THEN [0..8) refused, [0..4) sent, [4,5] refused, [4] sent, [5] refused alone and dropped, [6,7] sent
      expect(server.requests.map((r) => [r.input.MetricData.length, r.answer])).toEqual([
        [8, 'invalidParameter'], [4, 'ok'], [2, 'invalidParameter'], [1, 'ok'], [1, 'invalidParameter'], [2, 'ok'],
      ]);
      expect(server.datums).toEqual(expected([...datums.slice(0, 5), ...datums.slice(6)]));
      // the SDK does not retry a client error either
      expect(sdkClient.sdkErrorTypes).toEqual(['CLIENT_ERROR', 'CLIENT_ERROR', 'CLIENT_ERROR']);
      expect(sink.bufferedCount).toBe(0);
      expect(sink.droppedCounts).toEqual({ bufferFull: 0, rejected: 1, expired: 0, invalid: 0 });
      expect(sink.takeDroppedCount()).toBe(1);
      expect(sink.takeDroppedCount()).toBe(0);
      const refusedLines = logs.filter((l) => l.level === 'error');
      expect(refusedLines).toHaveLength(1);
      expect(refusedLines[0]).toMatchObject({ dropped: 1, metrics: [datums[5].metricName] });
      expect(String(refusedLines[0].error)).toContain('InvalidParameterValue');

      // WHEN the next cycle is clean, THEN it goes in one request: the refused datum never comes back
      server.rejectDatum = undefined;
      await sink.publish(cycle(1, 8));
      expect(server.requests).toHaveLength(7);
      expect(server.datums.slice(7)).toEqual(expected(cycle(1, 8)));
    });

    test('two bad datums are each isolated; the six good ones arrive in order', async () => {
      const { server, sink } = await setUp();
      const datums = cycle(0, 8);
      const bad = new Set([datums[1].value, datums[6].value]);
      server.rejectDatum = (d) => bad.has(d.Value as number);

      await sink.publish(datums);

      // [0..8)R [0..4)R [0,1]R [0]ok [1]R, then [2..8)R [2..5)ok [5,6]R [5]ok [6]R [7]ok: hand-traced halving
      expect(server.requests.map((r) => r.input.MetricData.length)).toEqual([8, 4, 2, 1, 1, 6, 3, 2, 1, 1, 1]);
      expect(server.datums).toEqual(expected([0, 2, 3, 4, 5, 7].map((i) => datums[i])));
      expect(sink.droppedCounts.rejected).toBe(2);
    });

    test('past the isolation budget a refused batch is dropped whole, still counted', async () => {
      // GIVEN every datum refused and a budget of 3 isolation requests
      const { server, sink, logs } = await setUp({ maxIsolationRequests: 3 });
      server.rejectDatum = () => true;

      await sink.publish(cycle(0, 8));

      // THEN 8 R, 4 R, 2 R, 1 R (dropped alone; budget spent), then the other 7 R and dropped whole
      expect(server.requests.map((r) => r.input.MetricData.length)).toEqual([8, 4, 2, 1, 7]);
      expect(server.datums).toEqual([]);
      expect(sink.droppedCounts.rejected).toBe(8);
      expect(sink.bufferedCount).toBe(0);
      expect(logs.filter((l) => l.level === 'error')).toEqual([expect.objectContaining({ dropped: 8, droppedWholeBatches: 1 })]);
    });

    test('throttling and 5xx keep the whole batch for retry: nothing is split or dropped', async () => {
      const { server, sink } = await setUp({}, { maxAttempts: 1 });
      server.faults.push('throttling', 'internalError');

      await sink.publish(cycle(0, 8));
      await sink.flush();
      await sink.flush();

      expect(server.requests.map((r) => [r.input.MetricData.length, r.answer])).toEqual([[8, 'throttling'], [8, 'internalError'], [8, 'ok']]);
      expect(server.datums).toEqual(expected(cycle(0, 8)));
      expect(sink.droppedCounts).toEqual({ bufferFull: 0, rejected: 0, expired: 0, invalid: 0 });
    });

    test('flush returns by its deadline while CloudWatch keeps failing, keeping the datums', async () => {
      // GIVEN CloudWatch answers 503 to everything
      const { server, sink } = await setUp({ baseBackoffMs: 20, maxBackoffMs: 50 }, { maxAttempts: 1 });
      server.faults.push(...Array<'serviceUnavailable'>(1000).fill('serviceUnavailable'));
      await sink.publish(cycle(0));

      // WHEN flushed with a deadline 300 ms away
      const deadline = Date.now() + 300;
      await sink.flush(deadline);

      // THEN it retried until the deadline and returned then, the datums still held
      expect(Date.now() - deadline).toBeLessThan(1000);
      expect(server.requests.length).toBeGreaterThan(2);
      expect(sink.bufferedCount).toBe(CATALOG.length);
    });

    test('flush aborts a request that never answers when its deadline passes, and the datums stay', async () => {
      // GIVEN datums held after a 503, and a CloudWatch that then never answers (the client's own timeout is 5 s)
      const { server, sink } = await setUp({}, { maxAttempts: 1 });
      server.faults.push('serviceUnavailable', 'hang');
      await sink.publish(cycle(0));

      // WHEN flushed with a deadline 300 ms away
      const deadline = Date.now() + 300;
      await sink.flush(deadline);

      // THEN flush returned at the deadline, well before the client would have given up, datums kept
      expect(Date.now() - deadline).toBeLessThan(1000);
      expect(server.requests.map((r) => r.answer)).toEqual(['serviceUnavailable', 'hang']);
      expect(sink.bufferedCount).toBe(CATALOG.length);

      // WHEN CloudWatch answers again, THEN the same datums are delivered
      await sink.flush(Date.now() + 5000);
      expect(server.datums).toEqual(expected(cycle(0)));
    });
  });

  describe('deadlines and the stop signal', () => {
    test('a PutMetricData that never answers ends when the stop signal aborts the publish; the datums stay', async () => {
      // GIVEN CloudWatch never answers, and the sink's own request deadline is far (10 s)
      const { server, sink } = await setUp({ requestTimeoutMs: 10_000 });
      server.faults.push('hang');
      const stop = new AbortController();

      // WHEN a publish is under way and the stop signal fires 200 ms in
      const started = performance.now();
      const publishing = sink.publish(cycle(0, 8), stop.signal);
      setTimeout(() => stop.abort(), 200);
      await publishing;

      // THEN the publish returns soon after the abort (1 s of margin for a loaded machine), not at 10 s, the datums kept for the flush
      const elapsedMs = performance.now() - started;
      expect(elapsedMs).toBeGreaterThanOrEqual(190);
      expect(elapsedMs).toBeLessThan(200 + 1000);
      expect(sink.bufferedCount).toBe(8);
      await sink.flush(Date.now() + 5000);
      expect(server.datums).toEqual(expected(cycle(0, 8)));
    });

    test('an answer trickling one byte every 2 s is cut at requestTimeoutMs, counted as a failed send, and the datums are retried', async () => {
      // GIVEN CloudWatch sends its 200 headers at once and the body a byte every 2 s (64 bytes: over 2 minutes)
      const server = await startCloudWatchServer({ trickleMs: 2000 });
      cleanups.push(() => server.close());
      // the sink's own client, configured as in production but for its deadline
      process.env.AWS_ENDPOINT_URL_CLOUDWATCH = server.url;
      process.env.AWS_ACCESS_KEY_ID = 'AKIDFROMENV';
      process.env.AWS_SECRET_ACCESS_KEY = 'env-secret';
      process.env.AWS_REGION = 'us-east-1';
      process.env.AWS_MAX_ATTEMPTS = '1';
      cleanups.push(() => {
        for (const name of ['AWS_ENDPOINT_URL_CLOUDWATCH', 'AWS_ACCESS_KEY_ID', 'AWS_SECRET_ACCESS_KEY', 'AWS_REGION', 'AWS_MAX_ATTEMPTS']) delete process.env[name];
      });
      const logs: LogLine[] = [];
      const sink = new CloudWatchSink({
        clusterId: CLUSTER_ID, namespace: NAMESPACE, bufferMaxDatums: 100, requestTimeoutMs: 600, ...NO_TIMER_BACKOFF,
        logger: createLogger('debug', (line) => logs.push(JSON.parse(line))),
      });
      cleanups.push(() => sink.stop());
      server.faults.push('trickle');

      // WHEN a cycle is published
      const started = performance.now();
      await sink.publish(cycle(0, 4));

      // THEN the publish ends at the 600 ms deadline, not after the trickle, with a warning and the datums kept
      const elapsedMs = performance.now() - started;
      expect(elapsedMs).toBeGreaterThanOrEqual(590);
      expect(elapsedMs).toBeLessThan(600 + 1000);
      expect(server.requests.map((r) => r.answer)).toEqual(['trickle']);
      expect(sink.bufferedCount).toBe(4);
      expect(logs.some((l) => l.level === 'warn' && String(l.error).includes('did not complete within 600 ms'))).toBe(true);

      // AND the next attempt delivers them
      await sink.flush();
      expect(server.datums).toEqual(expected(cycle(0, 4)));
    });

    test('flush with a distant deadline ends when its signal aborts, a hung request included', async () => {
      const { server, sink } = await setUp({ requestTimeoutMs: 10_000 }, { maxAttempts: 1 });
      server.faults.push('serviceUnavailable', 'hang');
      await sink.publish(cycle(0, 8));
      const stop = new AbortController();

      const started = performance.now();
      const flushing = sink.flush(Date.now() + 10_000, stop.signal);
      setTimeout(() => stop.abort(), 200);
      await flushing;

      const elapsedMs = performance.now() - started;
      expect(elapsedMs).toBeLessThan(200 + 1000);
      expect(server.requests.map((r) => r.answer)).toEqual(['serviceUnavailable', 'hang']);
      expect(sink.bufferedCount).toBe(8);
    });
  });

  describe('datums CloudWatch would refuse', () => {
    test('datums older than two weeks are dropped and counted; newer ones are sent', async () => {
      const { server, sink } = await setUp();
      const stale: ClusterDatum[] = cycle(0).map((d) => ({ ...d, timestamp: new Date(Date.now() - 15 * 24 * 3600 * 1000) }));
      const fresh = cycle(1);

      await sink.publish([...stale, ...fresh]);

      expect(sink.droppedCounts.expired).toBe(stale.length);
      expect(server.datums).toEqual(expected(fresh));
      // The loopback CloudWatch refuses stale timestamps as the service does: none reached it.
      expect(server.protocolErrors).toEqual([]);
    });

    test('non-finite values are dropped, counted and logged by metric; the rest of the cycle is sent', async () => {
      const { server, sink, logs } = await setUp();
      const datums = cycle(0, 3);
      const bad: ClusterDatum[] = [{ ...datums[0], value: Number.NaN }, { ...datums[1], value: Number.POSITIVE_INFINITY }];

      await sink.publish([...bad, datums[2]]);

      expect(sink.droppedCounts.invalid).toBe(2);
      expect(server.datums).toEqual(expected([datums[2]]));
      expect(server.requests).toHaveLength(1);
      expect(logs.filter((l) => l.level === 'warn')).toEqual([
        expect.objectContaining({ dropped: 2, metrics: [datums[0].metricName, datums[1].metricName] }),
      ]);
    });
  });

  describe('the loopback CloudWatch itself', () => {
    test('reports requests the SDK would not send, so tests that expect none can fail', async () => {
      const server = await startCloudWatchServer();
      cleanups.push(() => server.close());

      const response = await fetch(server.url, {
        method: 'POST', headers: { 'content-type': 'application/x-amz-json-1.0', 'x-amz-target': 'GraniteServiceVersion20100801.PutMetricAlarm' }, body: '{}',
      });

      expect(response.status).toBe(400);
      expect(response.headers.get('x-amzn-query-error')).toBe('UnknownOperation;Sender');
      expect(server.protocolErrors).toEqual([expect.stringContaining('PutMetricAlarm')]);
      expect(server.requests).toEqual([]);
    });

    test('refuses a request over the 1,000-datum limit as CloudWatch does', async () => {
      const { server } = await setUp();
      const { client } = createTestCloudWatchClient(server.url, { maxAttempts: 1 });
      cleanups.push(() => client.destroy());
      const tooMany = Array.from({ length: 1001 }, (_, i) => ({ MetricName: `m${i}`, Value: i, Timestamp: T0 }));

      await expect(client.send(new PutMetricDataCommand({ Namespace: NAMESPACE, MetricData: tooMany })))
        .rejects.toMatchObject({ name: 'InvalidParameterValueException' });
      expect(server.protocolErrors).toEqual([expect.stringContaining('1001 datums')]);
    });
  });

  describe('configuration and lifecycle', () => {
    test('its own client honours AWS_ENDPOINT_URL_CLOUDWATCH and the region from the environment', async () => {
      const server = await startCloudWatchServer();
      cleanups.push(() => server.close());
      process.env.AWS_ENDPOINT_URL_CLOUDWATCH = server.url;
      process.env.AWS_ACCESS_KEY_ID = 'AKIDFROMENV';
      process.env.AWS_SECRET_ACCESS_KEY = 'env-secret';
      process.env.AWS_REGION = 'eu-west-1';
      cleanups.push(() => {
        for (const name of ['AWS_ENDPOINT_URL_CLOUDWATCH', 'AWS_ACCESS_KEY_ID', 'AWS_SECRET_ACCESS_KEY', 'AWS_REGION']) delete process.env[name];
      });
      const sink = new CloudWatchSink({ clusterId: CLUSTER_ID, namespace: NAMESPACE, bufferMaxDatums: 100 });
      cleanups.push(() => sink.stop());

      await sink.publish(cycle(0, 2));

      expect(server.datums).toEqual(expected(cycle(0, 2)));
      expect(server.requests[0].signedFor).toEqual({ accessKeyId: 'AKIDFROMENV', region: 'eu-west-1', service: 'monitoring' });
    });

    test('stop aborts retries, is harmless twice, and a publish after it sends nothing', async () => {
      const { server, sink, logs } = await setUp({ baseBackoffMs: 5, maxBackoffMs: 5 }, { maxAttempts: 1 });
      server.faults.push('serviceUnavailable');
      await sink.publish(cycle(0));

      await sink.stop();
      await sink.stop();
      await sink.publish(cycle(1));
      await new Promise((resolve) => setTimeout(resolve, 30));

      expect(server.requests).toHaveLength(1);
      expect(logs.some((l) => l.msg.includes('stopped with datums not sent') && l.buffered === CATALOG.length)).toBe(true);
    });

    test.each([
      [{ clusterId: '' }, /clusterId must be 1 to 1024 characters/],
      [{ namespace: '' }, /namespace must be 1 to 255 characters/],
      [{ bufferMaxDatums: 0 }, /bufferMaxDatums must be a positive integer, got 0/],
      [{ baseBackoffMs: 100, maxBackoffMs: 10 }, /baseBackoffMs <= maxBackoffMs/],
      [{ requestTimeoutMs: 0 }, /requestTimeoutMs must be a positive integer, got 0/],
    ])('rejects bad options %p', (bad, message) => {
      const client = createTestCloudWatchClient('http://127.0.0.1:9').client;
      cleanups.push(() => client.destroy());
      expect(() => new CloudWatchSink({ clusterId: CLUSTER_ID, namespace: NAMESPACE, bufferMaxDatums: 10, client, ...bad })).toThrow(message);
    });
  });
});

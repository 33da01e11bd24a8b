/**
 * The CloudWatch sink: sends each cycle's cluster datums with PutMetricData, and keeps what
 * could not be sent in a bounded buffer to resend later, each datum with its own cycle's timestamp.
 *
 * Upstream sends batches of 20 and drops a batch whose call fails; here a cycle goes in one
 * request, failures are retried with capped exponential backoff, and every datum that is not
 * delivered is counted and logged: dropped for a full buffer, rejected by CloudWatch as invalid,
 * refused locally as unsendable, or too old for CloudWatch to accept. CloudWatch refuses a whole
 * request for one bad datum: the refused batch is split in halves until the bad datum is alone, so
 * the good ones are sent and only the bad one is dropped.
 *
 * Every PutMetricData has a deadline (`requestTimeoutMs`, the SDK's own retries included, from
 * connect to the last byte of the answer) and ends at once when the caller's signal or stop()
 * aborts it, so a CloudWatch that hangs or answers a byte at a time cannot hold a publish or a flush.
 *
 * The client is created without an endpoint, so the SDK's standard settings apply
 * (AWS_ENDPOINT_URL_CLOUDWATCH, then AWS_ENDPOINT_URL: read by @smithy/core's endpoints
 * `getEndpointUrlConfig("CloudWatch")` in the installed SDK), as do AWS_REGION and AWS_MAX_ATTEMPTS.
 */
import { CloudWatchClient, PutMetricDataCommand, type MetricDatum, type PutMetricDataInput } from '@aws-sdk/client-cloudwatch';
import { CLUSTER_DIMENSION, catalogMetric } from '../common/catalog';
import { joinAbort, sleep } from './abort';
import { silentLogger, type Logger } from './log';
import type { ClusterDatum, Sink, SinkReport } from './types';

// PutMetricData limits, from the API reference
// (https://docs.aws.amazon.com/AmazonCloudWatch/latest/APIReference/API_PutMetricData.html) and the
// installed SDK's docs (client-cloudwatch PutMetricDataCommand.d.ts): "Each PutMetricData request is
// limited to 1 MB in size for HTTP POST requests ... no more than 1000 different metrics",
// "time stamps that are as much as two weeks before the current date, and as much as 2 hours after",
// "Values must be in the range of -2^360 to 2^360 ... NaN, +Infinity, -Infinity are not supported".
/** Datums in one request (was 20 when upstream was written). */
export const MAX_DATUMS_PER_REQUEST = 1000;
/** Request body bytes, counted before gzip; 1 MB read as 10^6 to stay on the safe side. */
export const MAX_REQUEST_BYTES = 1_000_000;
/** Oldest timestamp CloudWatch accepts, relative to now. */
export const MAX_DATUM_AGE_MS = 14 * 24 * 60 * 60 * 1000;
/** Furthest future timestamp CloudWatch accepts, relative to now. */
export const MAX_DATUM_FUTURE_MS = 2 * 60 * 60 * 1000;
const MAX_ABS_VALUE = 2 ** 360;
/** Datums this close to the two-week limit are dropped rather than sent to be refused in transit. */
const EXPIRY_MARGIN_MS = 5 * 60 * 1000;
/** Longest accepted dimension value (the cluster id) and namespace, per the API reference. */
const MAX_DIMENSION_VALUE_CHARS = 1024;
const MAX_NAMESPACE_CHARS = 255;
/** Dimensions on one datum and the longest dimension name, per the API reference. */
const MAX_DIMENSIONS = 30;
const MAX_DIMENSION_NAME_CHARS = 255;

const DEFAULT_BASE_BACKOFF_MS = 2_000;
const DEFAULT_MAX_BACKOFF_MS = 60_000;
/** One PutMetricData, SDK retries included: well under a cycle, so a hung call cannot hold one. */
export const DEFAULT_REQUEST_TIMEOUT_MS = 10_000;
/**
 * Requests one send pass may spend isolating refused datums by halving: one bad datum in a batch of
 * 1,000 costs about 20, so this finds about five; past it a refused batch is dropped whole (counted).
 */
export const MAX_ISOLATION_REQUESTS = 100;

/**
 * Errors that blame the request itself: sending the same batch again can only fail again, so the
 * batch is dropped. Names are the SDK's exception names and the service's awsQuery codes.
 * Everything else (throttling, 5xx, network, credentials, access denied) is retried: those clear
 * up without the data changing, and the buffer bound keeps retrying from growing without limit.
 */
const REQUEST_FAULT_ERRORS: ReadonlySet<string> = new Set([
  'InvalidParameterValueException', 'InvalidParameterValue',
  'InvalidParameterCombinationException', 'InvalidParameterCombination',
  'MissingRequiredParameterException', 'MissingParameter',
  'ValidationError', 'ValidationException', 'SerializationException', 'InvalidFormat',
]);
const HTTP_PAYLOAD_TOO_LARGE = 413;
/** The health datum that carries the drop count (takeDroppedCount) to CloudWatch. */
const DROP_REPORT_METRIC = catalogMetric('collectorDatumsDropped').metricName;

export interface CloudWatchSinkOptions {
  /** Value of the CLUSTER_ID dimension on every datum. */
  readonly clusterId: string;
  /** CloudWatch namespace, `Kubernetes` as upstream unless configured. */
  readonly namespace: string;
  /** Region for the client this sink creates; ignored when `client` is given. @default - the SDK's (AWS_REGION) */
  readonly region?: string;
  /**
   * Most datums held for resending; past it the oldest are dropped first, and counted. While a
   * request is in flight its datums are held on top of this, until its answer is in.
   */
  readonly bufferMaxDatums: number;
  /** @default - silent */
  readonly logger?: Logger;
  /** A client to use instead of creating one (tests point it at a loopback server). @default - a new client */
  readonly client?: CloudWatchClient;
  /** Wait after the first failed send; doubles per consecutive failure. @default 2000 */
  readonly baseBackoffMs?: number;
  /** Longest wait between retries. @default 60000 */
  readonly maxBackoffMs?: number;
  /**
   * Deadline of one PutMetricData, SDK retries included, connect to the last byte of the answer;
   * past it the request is aborted and counts as a failed send (datums kept, backoff).
   * @default DEFAULT_REQUEST_TIMEOUT_MS
   */
  readonly requestTimeoutMs?: number;
  /** Requests one send pass may spend isolating refused datums. @default MAX_ISOLATION_REQUESTS */
  readonly maxIsolationRequests?: number;
}

/** Datums not delivered, by reason, since the sink started. */
export interface CloudWatchDropCounts {
  /** Oldest datums pushed out of a full buffer. */
  readonly bufferFull: number;
  /**
   * Refused by CloudWatch as the request's fault (e.g. InvalidParameterValue): each isolated alone
   * by splitting its batch, or in a batch dropped whole once the isolation budget was spent.
   */
  readonly rejected: number;
  /** Older than CloudWatch accepts (two weeks) by the time they could be sent. */
  readonly expired: number;
  /** Never sendable: a value CloudWatch refuses (NaN, infinite, beyond ±2^360) or a timestamp beyond 2 h ahead. */
  readonly invalid: number;
}

export class CloudWatchSink implements Sink {
  readonly name = 'cloudwatch';
  private readonly clusterId: string;
  private readonly namespace: string;
  private readonly bufferMaxDatums: number;
  private readonly baseBackoffMs: number;
  private readonly maxBackoffMs: number;
  private readonly requestTimeoutMs: number;
  private readonly maxIsolationRequests: number;
  private readonly logger: Logger;
  private readonly client: CloudWatchClient;
  private readonly ownsClient: boolean;
  /** Datums waiting to be sent, oldest first; the first `inFlight` are in the request being sent. */
  private readonly queue: ClusterDatum[] = [];
  private inFlight = 0;
  private consecutiveFailures = 0;
  private nextAttemptAtMs = 0;
  private retryTimer?: NodeJS.Timeout;
  private draining?: Promise<boolean>;
  private stopped = false;
  /** Aborts the request in flight when the sink stops. */
  private readonly lifetime = new AbortController();
  /** Drops already reported by takeDroppedCount. */
  private dropsTaken = 0;
  /** Counts carried by drop-report datums that were dropped themselves, to be reported again. */
  private lostDropReports = 0;
  private sent = 0;
  /** Running total behind report().dropped. */
  private reportedDrops = 0;
  private readonly drops = { bufferFull: 0, rejected: 0, expired: 0, invalid: 0 };

  constructor(options: CloudWatchSinkOptions) {
    this.clusterId = options.clusterId;
    this.namespace = options.namespace;
    this.bufferMaxDatums = options.bufferMaxDatums;
    this.baseBackoffMs = options.baseBackoffMs ?? DEFAULT_BASE_BACKOFF_MS;
    this.maxBackoffMs = options.maxBackoffMs ?? DEFAULT_MAX_BACKOFF_MS;
    this.requestTimeoutMs = options.requestTimeoutMs ?? DEFAULT_REQUEST_TIMEOUT_MS;
    this.maxIsolationRequests = options.maxIsolationRequests ?? MAX_ISOLATION_REQUESTS;
    this.logger = options.logger ?? silentLogger;

    if (this.clusterId.length < 1 || this.clusterId.length > MAX_DIMENSION_VALUE_CHARS) {
      throw new Error(`CloudWatch sink: clusterId must be 1 to ${MAX_DIMENSION_VALUE_CHARS} characters (a CloudWatch dimension value), got ${this.clusterId.length}; set AWS_CLUSTER_ID`);
    }
    if (this.namespace.length < 1 || this.namespace.length > MAX_NAMESPACE_CHARS) {
      throw new Error(`CloudWatch sink: namespace must be 1 to ${MAX_NAMESPACE_CHARS} characters, got '${this.namespace}'`);
    }
    if (!Number.isInteger(this.bufferMaxDatums) || this.bufferMaxDatums < 1) {
      throw new Error(`CloudWatch sink: bufferMaxDatums must be a positive integer, got ${this.bufferMaxDatums}`);
    }
    if (!(this.baseBackoffMs > 0) || !(this.maxBackoffMs >= this.baseBackoffMs)) {
      throw new Error(`CloudWatch sink: need 0 < baseBackoffMs <= maxBackoffMs, got ${this.baseBackoffMs} and ${this.maxBackoffMs}`);
    }
    if (!Number.isInteger(this.requestTimeoutMs) || this.requestTimeoutMs < 1) {
      throw new Error(`CloudWatch sink: requestTimeoutMs must be a positive integer, got ${this.requestTimeoutMs}`);
    }
    if (!Number.isInteger(this.maxIsolationRequests) || this.maxIsolationRequests < 0) {
      throw new Error(`CloudWatch sink: maxIsolationRequests must be a whole number, got ${this.maxIsolationRequests}`);
    }

    this.ownsClient = options.client === undefined;
    this.client = options.client ?? new CloudWatchClient({
      region: options.region,
      // The SDK's requestTimeout ends at the answer's headers and its socket timeout restarts with
      // every byte: the sink's own deadline (requestTimeoutMs) covers the body. These stop a hung
      // connection early; without throwOnRequestTimeout the SDK would only warn.
      requestHandler: {
        connectionTimeout: Math.min(5_000, this.requestTimeoutMs),
        requestTimeout: this.requestTimeoutMs,
        throwOnRequestTimeout: true,
      },
    });
  }

  /**
   * Datums dropped since the last call, for every reason (buffer full, rejected, expired, invalid):
   * the collectorDatumsDropped figure, so that no datum is lost without being counted.
   */
  takeDroppedCount(): number {
    const d = this.drops;
    const total = d.bufferFull + d.rejected + d.expired + d.invalid;
    const count = total - this.dropsTaken;
    this.dropsTaken = total;
    return count;
  }

  /**
   * The counts carried by collectorDatumsDropped datums that were themselves dropped since the last
   * call. A dropped drop report takes its count with it: added to the next collectorDatumsDropped
   * figure, it keeps the drops CloudWatch is told of equal to the drops that happened.
   */
  takeLostDropReports(): number {
    const lost = this.lostDropReports;
    this.lostDropReports = 0;
    return lost;
  }

  /** The next collectorDatumsDropped figure: new drops plus the counts of lost drop reports. */
  takeDropsToReport(): number {
    return this.takeDroppedCount() + this.takeLostDropReports();
  }

  /**
   * Running totals for the cycle runner (Sink.report): sent, held, and dropped, where dropped is the
   * running total of takeDropsToReport() (drops plus the counts of drop reports dropped themselves).
   */
  report(): SinkReport {
    this.reportedDrops += this.takeDropsToReport();
    return { sent: this.sent, dropped: this.reportedDrops, held: this.queue.length };
  }

  /** Datums held and not yet accepted by CloudWatch. */
  get bufferedCount(): number {
    return this.queue.length;
  }

  /** Datums CloudWatch has accepted since the sink started. */
  get sentCount(): number {
    return this.sent;
  }

  /** Datums not delivered since the sink started, by reason. */
  get droppedCounts(): CloudWatchDropCounts {
    return { ...this.drops };
  }

  /**
   * Queues one cycle's datums and sends what is queued, unless a retry is scheduled for later
   * (then the datums wait for it). Resolves after the attempt, or at once when `signal` (the stop
   * signal) aborts, the datums kept; never rejects. Each request lasts at most requestTimeoutMs.
   */
  async publish(datums: readonly ClusterDatum[], signal?: AbortSignal): Promise<void> {
    try {
      if (this.stopped) {
        this.logger.warn('CloudWatch sink: publish after stop; datums not sent', { datums: datums.length });
        return;
      }
      this.enqueue(datums);
      // A send loop already running may have finished its last check before these datums came.
      if (this.draining) await (signal ? untilAborted(this.draining, signal) : this.draining);
      if (signal?.aborted) return;
      if (!this.stopped && this.queue.length > 0 && Date.now() >= this.nextAttemptAtMs) await this.drain(signal);
    } catch (err) {
      this.logger.error('CloudWatch sink: unexpected error in publish', { error: describeError(err) });
    }
  }

  /**
   * Sends everything held. With `deadlineMs` (an absolute time, ms since the epoch, e.g.
   * `Date.now() + 10_000`) it tries at once, then keeps retrying on the backoff schedule until the
   * buffer is empty or the deadline passes, aborting a request still open then. Without one it
   * makes a single pass, stopping at the first failure. `signal` ends it at once, aborting a
   * request in flight. Resolves by the deadline; never rejects.
   */
  async flush(deadlineMs?: number, signal?: AbortSignal): Promise<void> {
    try {
      this.cancelRetryTimer();
      this.nextAttemptAtMs = 0;
      if (deadlineMs === undefined) {
        if (this.draining) await (signal ? untilAborted(this.draining, signal) : this.draining);
        if (this.queue.length > 0 && !signal?.aborted) await this.drain(signal);
      } else {
        await this.flushUntil(deadlineMs, signal);
      }
      if (this.queue.length > 0) {
        this.logger.warn('CloudWatch sink: flush ended with datums not sent', { buffered: this.queue.length });
      }
    } catch (err) {
      this.logger.error('CloudWatch sink: unexpected error in flush', { error: describeError(err) });
    }
  }

  /** Stops retries and aborts a request in flight; what is still buffered is logged as not sent. */
  async stop(): Promise<void> {
    if (this.stopped) return;
    this.stopped = true;
    this.cancelRetryTimer();
    this.lifetime.abort();
    await this.draining;
    if (this.queue.length > 0) {
      this.logger.warn('CloudWatch sink: stopped with datums not sent', { buffered: this.queue.length });
    }
    if (this.ownsClient) this.client.destroy();
  }

  private async flushUntil(deadlineMs: number, signal: AbortSignal | undefined): Promise<void> {
    const deadline = new AbortController();
    // Referenced timers: a flush on SIGTERM should keep the process alive until it is done.
    const deadlineTimer = setTimeout(() => deadline.abort(), Math.max(0, deadlineMs - Date.now()));
    const onAbort = (): void => deadline.abort();
    if (signal?.aborted) deadline.abort();
    signal?.addEventListener('abort', onAbort, { once: true });
    try {
      while (!this.stopped && this.queue.length > 0 && !deadline.signal.aborted) {
        const waitMs = this.nextAttemptAtMs - Date.now();
        if (this.draining) await untilAborted(this.draining, deadline.signal);
        else if (waitMs > 0) await sleep(waitMs, deadline.signal);
        else await this.drain(deadline.signal);
      }
    } finally {
      clearTimeout(deadlineTimer);
      signal?.removeEventListener('abort', onAbort);
      // The backoff timer was cancelled for the flush; datums still held get a retry back, no
      // sooner than the backoff (a request cut at the deadline is no reason to hurry).
      if (!this.stopped && this.queue.length > 0 && !this.draining) {
        this.scheduleRetry(Math.max(this.nextAttemptAtMs - Date.now(), this.backoffDelayMs()));
      }
    }
  }

  /** Runs one send loop at a time; callers arriving meanwhile share it (it picks up their datums). */
  private drain(signal?: AbortSignal): Promise<boolean> {
    this.draining ??= this.sendQueued(signal)
      .catch((err: unknown) => {
        this.logger.error('CloudWatch sink: unexpected error while sending', { error: describeError(err) });
        // Back off as for a failed send, so no caller can spin on an error that repeats at once.
        this.inFlight = 0;
        this.nextAttemptAtMs = Date.now() + this.backoffDelayMs();
        this.scheduleRetry(this.backoffDelayMs());
        return false;
      })
      .finally(() => {
        this.draining = undefined;
      });
    return this.draining;
  }

  /**
   * Sends batches until the queue is empty (true) or a send fails and a retry is scheduled (false).
   * A batch CloudWatch refuses as invalid is split: its first half is sent next, and so on down to
   * one datum, which is dropped when refused alone; datums behind it go in full batches again.
   */
  private async sendQueued(signal?: AbortSignal): Promise<boolean> {
    const isolation = { suspect: 0, requests: 0, dropped: [] as ClusterDatum[], lastError: undefined as unknown, wholeBatches: 0 };
    try {
      while (!this.stopped && this.queue.length > 0) {
        this.dropExpired();
        let count = this.nextBatchSize();
        if (count === 0) break;
        // `suspect` datums at the front were in a refused batch: send the first half of them.
        if (isolation.suspect > 0) {
          count = Math.min(count, Math.ceil(isolation.suspect / 2));
          isolation.requests += 1;
        }
        const batch = this.queue.slice(0, count);
        this.inFlight = count;
        let outcome: SendOutcome;
        try {
          outcome = await this.sendBatch(batch, signal);
        } finally {
          this.inFlight = 0;
        }
        if (outcome.kind === 'sent') {
          this.queue.splice(0, count);
          this.sent += count;
          isolation.suspect = Math.max(0, isolation.suspect - count);
          this.recordSuccess(count);
        } else if (outcome.kind === 'refused') {
          isolation.lastError = outcome.error;
          if (count > 1 && isolation.requests < this.maxIsolationRequests) {
            isolation.suspect = count;
          } else {
            // Alone, it is the bad datum; past the budget, the batch goes whole (still counted).
            if (count > 1) isolation.wholeBatches += 1;
            isolation.dropped.push(...this.queue.splice(0, count));
            this.drops.rejected += count;
            this.keepLostDropReports(batch);
            isolation.suspect = 0;
          }
        } else {
          this.recordFailure(outcome);
          return false;
        }
        this.enforceBound();
      }
      return this.queue.length === 0;
    } finally {
      this.enforceBound();
      if (isolation.dropped.length > 0) this.logRefused(isolation.dropped, isolation.lastError, isolation.wholeBatches);
    }
  }

  /** One PutMetricData under its deadline, the caller's signal and the sink's lifetime. */
  private async sendBatch(batch: readonly ClusterDatum[], signal: AbortSignal | undefined): Promise<SendOutcome> {
    const request = joinAbort([this.lifetime.signal, signal], this.requestTimeoutMs);
    try {
      // The race ends the wait at the abort even if the SDK were slow to give up the request.
      const sending = this.client.send(new PutMetricDataCommand(this.toRequest(batch)), { abortSignal: request.signal });
      await untilAbortedOrThrow(sending, request.signal);
      return { kind: 'sent' };
    } catch (err) {
      // Which signal fired decides, not the error's shape: an abort mid-body surfaces as a socket error.
      if (this.lifetime.signal.aborted || signal?.aborted) return { kind: 'aborted' };
      if (request.timedOut) {
        return { kind: 'failed', error: new Error(`PutMetricData did not complete within ${this.requestTimeoutMs} ms (requestTimeoutMs); aborted it`) };
      }
      if (isRequestFault(err)) return { kind: 'refused', error: err };
      return { kind: 'failed', error: err };
    } finally {
      request.dispose();
    }
  }

  /** One log line per send pass for every datum CloudWatch refused, naming a few of their metrics. */
  private logRefused(dropped: readonly ClusterDatum[], error: unknown, wholeBatches: number): void {
    const metrics = [...new Set(dropped.map((d) => d.metricName))];
    this.logger.error('CloudWatch sink: PutMetricData refused datums as invalid; sent the rest and dropped these, not retrying', {
      error: describeError(error), dropped: dropped.length,
      metrics: metrics.slice(0, 10), ...(metrics.length > 10 ? { moreMetrics: metrics.length - 10 } : {}),
      ...(wholeBatches > 0 ? { droppedWholeBatches: wholeBatches, isolationBudget: this.maxIsolationRequests } : {}),
      oldest: dropped[0].timestamp.toISOString(),
    });
  }

  private recordSuccess(count: number): void {
    if (this.consecutiveFailures > 0) {
      this.logger.info('CloudWatch sink: PutMetricData works again', { failedAttempts: this.consecutiveFailures, sent: count, buffered: this.queue.length });
    }
    this.consecutiveFailures = 0;
    this.nextAttemptAtMs = 0;
  }

  private recordFailure(outcome: SendOutcome): void {
    if (outcome.kind === 'aborted') {
      // A flush deadline, the stop signal or stop(), not CloudWatch's answer: no backoff, the caller decides what next.
      this.logger.debug('CloudWatch sink: request aborted', { buffered: this.queue.length });
      return;
    }
    const err = outcome.kind === 'failed' ? outcome.error : undefined;
    this.consecutiveFailures += 1;
    const delayMs = this.backoffDelayMs();
    this.nextAttemptAtMs = Date.now() + delayMs;
    this.scheduleRetry(delayMs);
    this.logger.warn('CloudWatch sink: PutMetricData failed; datums kept for retry', {
      error: describeError(err), consecutiveFailures: this.consecutiveFailures, buffered: this.queue.length, retryInMs: delayMs,
    });
  }

  /** base, 2×base, 4×base ... per consecutive failure, capped at maxBackoffMs. */
  private backoffDelayMs(): number {
    const doublings = Math.min(Math.max(this.consecutiveFailures - 1, 0), 30);
    return Math.min(this.maxBackoffMs, this.baseBackoffMs * 2 ** doublings);
  }

  private scheduleRetry(delayMs: number): void {
    if (this.stopped) return;
    this.cancelRetryTimer();
    this.retryTimer = setTimeout(() => {
      this.retryTimer = undefined;
      void this.drain();
    }, delayMs);
    // Retrying must not keep a finished process alive.
    this.retryTimer.unref();
  }

  private cancelRetryTimer(): void {
    if (this.retryTimer) clearTimeout(this.retryTimer);
    this.retryTimer = undefined;
  }

  private enqueue(datums: readonly ClusterDatum[]): void {
    const now = Date.now();
    const unsendable: string[] = [];
    for (const datum of datums) {
      const time = datum.timestamp.getTime();
      const sendable = Number.isFinite(datum.value) && Math.abs(datum.value) <= MAX_ABS_VALUE
        && Number.isFinite(time) && time <= now + MAX_DATUM_FUTURE_MS && dimensionsSendable(datum.dimensions);
      if (sendable) this.queue.push(datum);
      else unsendable.push(datum.metricName);
    }
    if (unsendable.length > 0) {
      this.drops.invalid += unsendable.length;
      const metrics = [...new Set(unsendable)];
      this.logger.warn('CloudWatch sink: dropped datums CloudWatch would refuse (non-finite or out-of-range value, timestamp over 2 h ahead, or a bad dimension)', {
        dropped: unsendable.length, metrics: metrics.slice(0, 10), ...(metrics.length > 10 ? { moreMetrics: metrics.length - 10 } : {}),
      });
    }
    this.enforceBound();
  }

  /**
   * Drops the oldest datums not in flight until the buffer fits its bound; one log line per event.
   * While a request is in flight the bound applies to the datums behind it: its answer decides
   * whether they fit (accepted) or the oldest go (failed; enforced again once it is in). Counting
   * the in-flight datums here would drop the newest cycle for a batch that may be accepted.
   */
  private enforceBound(): void {
    const droppable = this.queue.length - this.inFlight - this.bufferMaxDatums;
    if (droppable <= 0) return;
    const dropped = this.queue.splice(this.inFlight, droppable);
    this.drops.bufferFull += dropped.length;
    this.keepLostDropReports(dropped);
    this.logger.warn('CloudWatch sink: buffer full; dropped the oldest datums', {
      dropped: dropped.length, bufferMaxDatums: this.bufferMaxDatums,
      droppedFrom: dropped[0].timestamp.toISOString(), droppedTo: dropped[dropped.length - 1].timestamp.toISOString(),
    });
  }

  /** Keeps the counts of dropped collectorDatumsDropped datums for takeLostDropReports. */
  private keepLostDropReports(dropped: readonly ClusterDatum[]): void {
    for (const datum of dropped) if (datum.metricName === DROP_REPORT_METRIC) this.lostDropReports += datum.value;
  }

  private dropExpired(): void {
    const oldestAcceptedMs = Date.now() - MAX_DATUM_AGE_MS + EXPIRY_MARGIN_MS;
    const before = this.queue.length;
    const kept = this.queue.filter((d) => d.timestamp.getTime() >= oldestAcceptedMs);
    if (kept.length === before) return;
    this.keepLostDropReports(this.queue.filter((d) => d.timestamp.getTime() < oldestAcceptedMs));
    this.queue.splice(0, before, ...kept);
    this.drops.expired += before - kept.length;
    this.logger.warn('CloudWatch sink: dropped datums older than CloudWatch accepts (two weeks)', { dropped: before - kept.length });
  }

  /** How many datums from the front of the queue fit in one request's count and size limits. */
  private nextBatchSize(): number {
    let bytes = Buffer.byteLength(JSON.stringify({ Namespace: this.namespace, MetricData: [] }));
    let count = 0;
    for (const datum of this.queue) {
      if (count === MAX_DATUMS_PER_REQUEST) break;
      // The SDK's JSON 1.0 body carries the timestamp as epoch seconds; the comma separates datums.
      const datumBytes = Buffer.byteLength(JSON.stringify({ ...this.toWire(datum), Timestamp: datum.timestamp.getTime() / 1000 })) + 1;
      if (count > 0 && bytes + datumBytes > MAX_REQUEST_BYTES) break;
      bytes += datumBytes;
      count += 1;
    }
    return count;
  }

  private toRequest(batch: readonly ClusterDatum[]): PutMetricDataInput {
    return { Namespace: this.namespace, MetricData: batch.map((d) => this.toWire(d)) };
  }

  private toWire(datum: ClusterDatum): MetricDatum {
    return {
      MetricName: datum.metricName,
      Dimensions: [
        { Name: CLUSTER_DIMENSION, Value: this.clusterId },
        ...Object.entries(datum.dimensions ?? {}).map(([Name, Value]) => ({ Name, Value })),
      ],
      Timestamp: datum.timestamp,
      Value: datum.value,
      Unit: datum.unit,
    };
  }
}

/**
 * Whether extra dimensions fit CloudWatch's rules: with CLUSTER_ID at most 30, names 1-255 and
 * values 1-1024 characters, no name twice (CLUSTER_ID included).
 */
function dimensionsSendable(dimensions: Readonly<Record<string, string>> | undefined): boolean {
  if (dimensions === undefined) return true;
  const entries = Object.entries(dimensions);
  if (entries.length + 1 > MAX_DIMENSIONS) return false;
  return entries.every(([name, value]) => name !== CLUSTER_DIMENSION
    && name.length >= 1 && name.length <= MAX_DIMENSION_NAME_CHARS
    && typeof value === 'string' && value.length >= 1 && value.length <= MAX_DIMENSION_VALUE_CHARS);
}

interface SdkErrorShape {
  name?: string;
  message?: string;
  Code?: string;
  $metadata?: { httpStatusCode?: number };
}

function isRequestFault(err: unknown): boolean {
  const e = (err ?? {}) as SdkErrorShape;
  return REQUEST_FAULT_ERRORS.has(e.name ?? '') || REQUEST_FAULT_ERRORS.has(e.Code ?? '')
    || e.$metadata?.httpStatusCode === HTTP_PAYLOAD_TOO_LARGE;
}

/** How one PutMetricData ended. */
type SendOutcome =
  | { readonly kind: 'sent' }
  /** CloudWatch blamed the request (invalid datum, too large): resending it unchanged cannot work. */
  | { readonly kind: 'refused'; readonly error: unknown }
  /** Throttling, 5xx, network, credentials, the request deadline: retried later with the datums kept. */
  | { readonly kind: 'failed'; readonly error: unknown }
  /** The caller's signal or stop(). */
  | { readonly kind: 'aborted' };

/** `promise`, or a rejection as soon as `signal` aborts; a later rejection of `promise` is absorbed. */
function untilAbortedOrThrow<T>(promise: Promise<T>, signal: AbortSignal): Promise<T> {
  promise.catch(() => undefined);
  if (signal.aborted) return Promise.reject(signal.reason);
  return new Promise<T>((resolve, reject) => {
    const onAbort = (): void => reject(signal.reason);
    signal.addEventListener('abort', onAbort, { once: true });
    promise.then(
      (value) => { signal.removeEventListener('abort', onAbort); resolve(value); },
      (err: unknown) => { signal.removeEventListener('abort', onAbort); reject(err); },
    );
  });
}

function describeError(err: unknown): string {
  const e = (err ?? {}) as SdkErrorShape & { code?: string };
  const status = e.$metadata?.httpStatusCode;
  return `${e.name ?? 'Error'}${e.code ? ` ${e.code}` : ''}${status ? ` (HTTP ${status})` : ''}: ${e.message ?? String(err)}`;
}

/** Waits for `promise` or for `signal` to abort, whichever comes first. */
function untilAborted(promise: Promise<unknown>, signal: AbortSignal): Promise<void> {
  if (signal.aborted) return Promise.resolve();
  return new Promise<void>((resolve) => {
    const onAbort = (): void => resolve();
    signal.addEventListener('abort', onAbort, { once: true });
    void promise.finally(() => {
      signal.removeEventListener('abort', onAbort);
      resolve();
    });
  });
}


/**
 * A loopback CloudWatch that speaks what the installed SDK speaks, so the real
 * `@aws-sdk/client-cloudwatch` can be tested end to end without an AWS account.
 *
 * Wire protocol, read from node_modules/@aws-sdk/client-cloudwatch 3.1164 (dist-cjs/index.js:
 * `AwsJson1_0Protocol`, `serviceTarget: "GraniteServiceVersion20100801"`, `awsQueryCompatible: true`)
 * and checked against a probe of the client:
 * - request: `POST /`, `content-type: application/x-amz-json-1.0`,
 *   `x-amz-target: GraniteServiceVersion20100801.PutMetricData`, `x-amzn-query-mode: true`, a JSON body
 *   with `Timestamp` as epoch seconds (fractions for milliseconds), gzipped (`content-encoding: gzip`)
 *   when it reaches 10 KiB, and a SigV4 `authorization` header for service `monitoring`.
 * - success: 200 with `{}` (PutMetricData has no output members).
 * - errors: a JSON body `{"__type": ..., "message": ...}` plus `x-amzn-query-error: Code;Sender|Receiver`,
 *   which the query-compatible client reads first. The SDK classifies `Throttling` as throttling and
 *   500/503 as transient, so its own retry and ours both see them as CloudWatch's real answers would be.
 */
import * as http from 'node:http';
import type { AddressInfo } from 'node:net';
import { gunzipSync } from 'node:zlib';
import { CloudWatchClient, type CloudWatchClientConfig } from '@aws-sdk/client-cloudwatch';
import { trickleBody } from './trickle';

/** Scripted answers, consumed one per PutMetricData request in order. */
export type CloudWatchFault =
  /** 400 `Throttling`: what CloudWatch answers above its request-rate quota. */
  | 'throttling'
  /** 500 `InternalServiceFault`. */
  | 'internalError'
  /** 503 `ServiceUnavailable`. */
  | 'serviceUnavailable'
  /** 400 `InvalidParameterValue`: the request's own fault; resending it cannot succeed. */
  | 'invalidParameter'
  /** The socket is destroyed without an answer (the client sees ECONNRESET). */
  | 'resetConnection'
  /** No answer at all until the server closes. */
  | 'hang'
  /** 200 with a 64-byte body sent one byte every `trickleMs` (the body is whitespace and `{}`). */
  | 'trickle';

export interface ReceivedDimension {
  readonly Name: string;
  readonly Value: string;
}

/** One datum as CloudWatch would store it, with its request's namespace. */
export interface ReceivedDatum {
  readonly Namespace: string;
  readonly MetricName: string;
  readonly Unit?: string;
  readonly Value?: number;
  readonly Timestamp?: Date;
  readonly Dimensions: readonly ReceivedDimension[];
}

/** One PutMetricData request as decoded from the wire. */
export interface ReceivedPutMetricData {
  readonly headers: http.IncomingHttpHeaders;
  readonly input: { readonly Namespace: string; readonly MetricData: readonly ReceivedDatum[] };
  /** Size of the JSON body after decompression. */
  readonly bodyBytes: number;
  readonly gzipped: boolean;
  /** From the SigV4 credential scope: `<key id>/<date>/<region>/<service>/aws4_request`. */
  readonly signedFor?: { readonly accessKeyId: string; readonly region: string; readonly service: string };
  /** What the server answered: `ok` or the scripted fault. */
  readonly answer: 'ok' | CloudWatchFault;
}

export interface CloudWatchServer {
  /** Endpoint for the client, e.g. `http://127.0.0.1:40123`. */
  readonly url: string;
  readonly port: number;
  /** Every well-formed PutMetricData request received, in arrival order, whatever the answer. */
  readonly requests: ReceivedPutMetricData[];
  /** Datums of the requests answered with success, flattened in arrival order: what CloudWatch stored. */
  readonly datums: ReceivedDatum[];
  /** Answers to give instead of success, first to the next request; push to script them. */
  readonly faults: CloudWatchFault[];
  /** Requests that broke the protocol (wrong target, content type, body) or a service limit; a passing test expects none. */
  readonly protocolErrors: string[];
  /**
   * Answers InvalidParameterValue to any request that carries a datum matching this, as CloudWatch
   * refuses a whole request for one bad datum; undefined accepts everything. Checked after `faults`.
   */
  rejectDatum?: (datum: ReceivedDatum) => boolean;
  /** Resolves once `count` requests have arrived; rejects after `timeoutMs`. */
  waitForRequests(count: number, timeoutMs?: number): Promise<void>;
  /** Stops listening and drops open connections (hanging requests included). */
  close(): Promise<void>;
}

export interface CloudWatchServerOptions {
  /** Port to bind on 127.0.0.1; pass a closed server's port to bring "CloudWatch" back at the same endpoint. */
  readonly port?: number;
  /** Milliseconds between the bytes of a 'trickle' answer. @default 2000 */
  readonly trickleMs?: number;
}

// Service limits this fake enforces as CloudWatch does (API_PutMetricData.html): 1000 datums and 1 MB
// a request, timestamps from two weeks back to 2 hours ahead. Breaking one is answered InvalidParameterValue.
const SERVICE_MAX_DATUMS = 1000;
const SERVICE_MAX_BODY_BYTES = 1_000_000;
const SERVICE_MAX_AGE_MS = 14 * 24 * 3600 * 1000;
const SERVICE_MAX_FUTURE_MS = 2 * 3600 * 1000;
const TARGET = 'GraniteServiceVersion20100801.PutMetricData';
const JSON_1_0 = 'application/x-amz-json-1.0';

interface ErrorAnswer {
  readonly status: number;
  /** `x-amzn-query-error` value: the awsQuery error code and who is at fault. */
  readonly queryError: string;
  readonly type: string;
  readonly message: string;
}

const ERROR_ANSWERS: Record<'throttling' | 'internalError' | 'serviceUnavailable' | 'invalidParameter', ErrorAnswer> = {
  throttling: { status: 400, queryError: 'Throttling;Sender', type: 'com.amazon.coral.availability#ThrottlingException', message: 'Rate exceeded' },
  internalError: { status: 500, queryError: 'InternalServiceError;Receiver', type: 'com.amazonaws.cloudwatch#InternalServiceFault', message: 'Internal service error' },
  serviceUnavailable: { status: 503, queryError: 'ServiceUnavailable;Receiver', type: 'com.amazon.coral.availability#ServiceUnavailableException', message: 'Service unavailable' },
  invalidParameter: { status: 400, queryError: 'InvalidParameterValue;Sender', type: 'com.amazonaws.cloudwatch#InvalidParameterValueException', message: 'The value for parameter MetricData is invalid.' },
};

export async function startCloudWatchServer(options: CloudWatchServerOptions = {}): Promise<CloudWatchServer> {
  const requests: ReceivedPutMetricData[] = [];
  const datums: ReceivedDatum[] = [];
  const faults: CloudWatchFault[] = [];
  const protocolErrors: string[] = [];
  const arrivalWaiters = new Set<() => void>();
  let requestCounter = 0;
  const trickles = new Set<NodeJS.Timeout>();
  const state: { rejectDatum?: (datum: ReceivedDatum) => boolean } = {};

  const answerError = (res: http.ServerResponse, answer: ErrorAnswer): void => {
    res.writeHead(answer.status, {
      'content-type': JSON_1_0,
      'x-amzn-requestid': `fake-${++requestCounter}`,
      'x-amzn-query-error': answer.queryError,
    });
    res.end(JSON.stringify({ __type: answer.type, message: answer.message }));
  };

  const rejectProtocol = (res: http.ServerResponse, problem: string, answer: ErrorAnswer): void => {
    protocolErrors.push(problem);
    answerError(res, answer);
  };

  const handle = (req: http.IncomingMessage, res: http.ServerResponse, raw: Buffer): void => {
    if (req.method !== 'POST' || (req.url ?? '/') !== '/') {
      rejectProtocol(res, `${req.method} ${req.url}: the JSON protocol only posts to /`, ERROR_ANSWERS.invalidParameter);
      return;
    }
    if (req.headers['x-amz-target'] !== TARGET) {
      rejectProtocol(res, `x-amz-target '${req.headers['x-amz-target']}' is not ${TARGET}`,
        { status: 400, queryError: 'UnknownOperation;Sender', type: 'UnknownOperationException', message: 'Unknown operation' });
      return;
    }
    if (req.headers['content-type'] !== JSON_1_0) {
      rejectProtocol(res, `content-type '${req.headers['content-type']}' is not ${JSON_1_0}`,
        { status: 400, queryError: 'SerializationException;Sender', type: 'SerializationException', message: 'Unsupported content type' });
      return;
    }
    const gzipped = req.headers['content-encoding'] === 'gzip';
    let input: ReceivedPutMetricData['input'];
    let bodyBytes: number;
    try {
      const body = gzipped ? gunzipSync(raw) : raw;
      bodyBytes = body.length;
      input = decodePutMetricData(JSON.parse(body.toString('utf8')));
    } catch (err) {
      rejectProtocol(res, `body did not decode: ${(err as Error).message}`,
        { status: 400, queryError: 'SerializationException;Sender', type: 'SerializationException', message: 'Malformed body' });
      return;
    }

    // CloudWatch's own limits: exceeding them is the sender's bug, answered as the service would.
    let answer: ReceivedPutMetricData['answer'] = faults.shift() ?? 'ok';
    const limitBroken = serviceLimitBroken(input, bodyBytes);
    if (answer === 'ok' && limitBroken) {
      protocolErrors.push(limitBroken);
      answer = 'invalidParameter';
    }
    if (answer === 'ok' && state.rejectDatum && input.MetricData.some(state.rejectDatum)) answer = 'invalidParameter';
    requests.push({ headers: req.headers, input, bodyBytes, gzipped, signedFor: parseCredentialScope(req.headers.authorization), answer });
    for (const wake of arrivalWaiters) wake();

    switch (answer) {
      case 'ok':
        datums.push(...input.MetricData);
        res.writeHead(200, { 'content-type': JSON_1_0, 'x-amzn-requestid': `fake-${++requestCounter}` });
        res.end('{}');
        return;
      case 'resetConnection':
        req.socket.destroy();
        return;
      case 'hang':
        return;
      case 'trickle': {
        const body = Buffer.from(`${' '.repeat(62)}{}`);
        res.writeHead(200, { 'content-type': JSON_1_0, 'content-length': body.length, 'x-amzn-requestid': `fake-${++requestCounter}` });
        trickleBody(res, body, options.trickleMs ?? 2000, trickles);
        return;
      }
      default:
        answerError(res, ERROR_ANSWERS[answer]);
    }
  };

  const server = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (chunk: Buffer) => chunks.push(chunk));
    req.on('end', () => handle(req, res, Buffer.concat(chunks)));
  });

  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port ?? 0, '127.0.0.1', () => {
      server.off('error', reject);
      resolve();
    });
  });
  const port = (server.address() as AddressInfo).port;

  return {
    url: `http://127.0.0.1:${port}`,
    port,
    requests,
    datums,
    faults,
    protocolErrors,
    get rejectDatum() {
      return state.rejectDatum;
    },
    set rejectDatum(predicate) {
      state.rejectDatum = predicate;
    },
    waitForRequests(count, timeoutMs = 5000) {
      if (requests.length >= count) return Promise.resolve();
      return new Promise<void>((resolve, reject) => {
        const timer = setTimeout(() => {
          arrivalWaiters.delete(check);
          reject(new Error(`CloudWatch test server: waited ${timeoutMs} ms for ${count} requests, got ${requests.length}`));
        }, timeoutMs);
        const check = (): void => {
          if (requests.length < count) return;
          clearTimeout(timer);
          arrivalWaiters.delete(check);
          resolve();
        };
        arrivalWaiters.add(check);
      });
    },
    close() {
      for (const timer of trickles) clearInterval(timer);
      return new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      });
    },
  };
}

/** Which of CloudWatch's request limits the request breaks, if any. */
function serviceLimitBroken(input: ReceivedPutMetricData['input'], bodyBytes: number): string | undefined {
  if (input.MetricData.length > SERVICE_MAX_DATUMS) return `${input.MetricData.length} datums in one request, over ${SERVICE_MAX_DATUMS}`;
  if (bodyBytes > SERVICE_MAX_BODY_BYTES) return `${bodyBytes} body bytes, over ${SERVICE_MAX_BODY_BYTES}`;
  const now = Date.now();
  const outOfRange = input.MetricData.find((d) => d.Timestamp
    && (d.Timestamp.getTime() < now - SERVICE_MAX_AGE_MS || d.Timestamp.getTime() > now + SERVICE_MAX_FUTURE_MS));
  if (outOfRange) return `timestamp ${outOfRange.Timestamp?.toISOString()} of ${outOfRange.MetricName} is outside two weeks back to 2 hours ahead`;
  return undefined;
}

/** Decodes the JSON 1.0 body of PutMetricData; throws on anything the SDK would not have sent. */
function decodePutMetricData(body: unknown): ReceivedPutMetricData['input'] {
  if (!isObject(body) || typeof body.Namespace !== 'string') throw new Error('Namespace missing or not a string');
  const namespace = body.Namespace;
  const wireData = body.MetricData ?? [];
  if (!Array.isArray(wireData)) throw new Error('MetricData is not a list');
  const metricData = wireData.map((wire: unknown, index): ReceivedDatum => {
    if (!isObject(wire) || typeof wire.MetricName !== 'string') throw new Error(`MetricData[${index}].MetricName missing`);
    if (wire.Timestamp !== undefined && typeof wire.Timestamp !== 'number') {
      throw new Error(`MetricData[${index}].Timestamp is ${JSON.stringify(wire.Timestamp)}, expected epoch seconds`);
    }
    if (wire.Value !== undefined && typeof wire.Value !== 'number') throw new Error(`MetricData[${index}].Value is not a number`);
    const dimensions = (wire.Dimensions ?? []) as unknown[];
    return {
      Namespace: namespace,
      MetricName: wire.MetricName,
      Unit: typeof wire.Unit === 'string' ? wire.Unit : undefined,
      Value: wire.Value as number | undefined,
      // Epoch seconds with a millisecond fraction; rounding undoes the float division.
      Timestamp: wire.Timestamp === undefined ? undefined : new Date(Math.round((wire.Timestamp as number) * 1000)),
      Dimensions: dimensions.map((d, i) => {
        if (!isObject(d) || typeof d.Name !== 'string' || typeof d.Value !== 'string') {
          throw new Error(`MetricData[${index}].Dimensions[${i}] is not {Name, Value}`);
        }
        return { Name: d.Name, Value: d.Value };
      }),
    };
  });
  return { Namespace: namespace, MetricData: metricData };
}

function parseCredentialScope(authorization: string | undefined): ReceivedPutMetricData['signedFor'] {
  const match = /^AWS4-HMAC-SHA256 Credential=([^/]+)\/\d{8}\/([^/]+)\/([^/]+)\/aws4_request/.exec(authorization ?? '');
  return match ? { accessKeyId: match[1], region: match[2], service: match[3] } : undefined;
}

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

type RetryStrategyV2 = Extract<NonNullable<CloudWatchClientConfig['retryStrategy']>, { refreshRetryTokenForRetry: unknown }>;
type RetryToken = Awaited<ReturnType<RetryStrategyV2['acquireInitialRetryToken']>>;

export interface TestCloudWatchClient {
  readonly client: CloudWatchClient;
  /** The SDK's classification of every error it considered retrying, e.g. `THROTTLING`, `TRANSIENT`. */
  readonly sdkErrorTypes: string[];
}

/**
 * A real CloudWatch client aimed at `endpoint`, with fixed fake credentials and region so that
 * no provider chain, ~/.aws file or network is consulted, and the SDK's own retry kept short:
 * `maxAttempts` tries with `retryDelayMs` between them, retrying only what the SDK's standard
 * strategy retries (throttling and transient errors). The SDK's classifications are recorded.
 */
export function createTestCloudWatchClient(
  endpoint: string,
  options: { maxAttempts?: number; retryDelayMs?: number } = {},
): TestCloudWatchClient {
  const maxAttempts = options.maxAttempts ?? 2;
  const retryDelayMs = options.retryDelayMs ?? 5;
  const sdkErrorTypes: string[] = [];
  const token = (retries: number): RetryToken => ({ getRetryCount: () => retries, getRetryDelay: () => retryDelayMs });
  const retryStrategy: RetryStrategyV2 = {
    acquireInitialRetryToken: async () => token(0),
    refreshRetryTokenForRetry: async (previous, errorInfo) => {
      sdkErrorTypes.push(errorInfo.errorType);
      const retryable = errorInfo.errorType === 'THROTTLING' || errorInfo.errorType === 'TRANSIENT';
      if (!retryable || previous.getRetryCount() + 1 >= maxAttempts) throw new Error('no retry');
      await new Promise((resolve) => setTimeout(resolve, retryDelayMs));
      return token(previous.getRetryCount() + 1);
    },
    recordSuccess: () => {},
  };
  const client = new CloudWatchClient({
    region: 'us-east-1',
    endpoint,
    credentials: { accessKeyId: 'AKIDLOOPBACKTEST', secretAccessKey: 'loopback-test-secret' },
    retryStrategy,
    // A hung request must not outlive a test; the sink's own deadlines are tested separately.
    requestHandler: { connectionTimeout: 2000, requestTimeout: 5000, throwOnRequestTimeout: true },
  });
  return { client, sdkErrorTypes };
}

/**
 * The HTTP transport of a scrape: one GET of exposition text, with one deadline from connect to
 * the last byte, the caller's abort signal, a byte cap and gzip decoding. Knows nothing of pods,
 * modes or credentials: the caller hands it a URL, an agent and headers.
 */
import * as http from 'node:http';
import * as https from 'node:https';
import * as zlib from 'node:zlib';
import { whenAborted } from './abort';
import { safeExcerpt } from './excerpt';

/** Where one GET goes and with what. */
export interface FetchTarget {
  readonly url: URL;
  readonly agent: http.Agent;
  readonly headers: http.OutgoingHttpHeaders;
  /** user:password for basic auth. */
  readonly basicAuth?: string;
}

export interface FetchLimits {
  /** Deadline of the GET, for the message (the deadline itself is an absolute time). */
  readonly timeoutMs: number;
  /** A body larger than this fails the GET (counted after gzip decoding). */
  readonly maxBytes: number;
}

/** ipamd's promhttp would otherwise be free to negotiate OpenMetrics or protobuf. */
const ACCEPT = 'text/plain;version=0.0.4;q=1,*/*;q=0.1';
/** Bytes of a non-2xx body read to quote from (the API server explains proxy failures there). */
const ERROR_BODY_READ_LIMIT = 4096;

/** A reused keep-alive connection that turned out to be closed before any answer: safe to retry once. */
export class StaleConnectionError extends Error {}

/** A non-2xx answer: its status and Retry-After (ms), so a caller can tell throttling (429) apart. */
export class HttpStatusError extends Error {
  /**
   * @param detail the answer's own words (a Status message or the body's start), as a short
   *   printable excerpt; '' when the body said nothing
   */
  constructor(message: string, readonly status: number, readonly detail: string, readonly retryAfterMs?: number) {
    super(message);
  }
}

/**
 * One GET, resolved with the body decoded as UTF-8 (invalid bytes become U+FFFD), rejected with a
 * readable cause. The socket is destroyed on every failure, so a stalled peer is never reused.
 * `deadline` is a performance.now() time covering connect, headers and body; `signal` ends the
 * GET at once, whatever phase it is in.
 */
export function fetchText(target: FetchTarget, limits: FetchLimits, deadline: number, signal: AbortSignal | undefined): Promise<string> {
  const { timeoutMs, maxBytes } = limits;
  return new Promise<string>((resolve, reject) => {
    if (signal?.aborted) {
      reject(new Error('aborted before the request was sent'));
      return;
    }
    let settled = false;
    let phase = 'connecting and waiting for response headers';
    let received = 0;

    const client = target.url.protocol === 'https:' ? https : http;
    const req = client.request(target.url, {
      method: 'GET',
      agent: target.agent,
      headers: { accept: ACCEPT, 'accept-encoding': 'gzip', ...target.headers },
      ...(target.basicAuth ? { auth: target.basicAuth } : {}),
    });

    const cleanup = (): void => {
      clearTimeout(timer);
      stopListening();
    };
    const fail = (cause: string | Error): void => {
      if (settled) return;
      settled = true;
      cleanup();
      req.destroy();
      reject(typeof cause === 'string' ? new Error(cause) : cause);
    };
    const succeed = (body: string): void => {
      if (settled) return;
      settled = true;
      cleanup();
      resolve(body);
    };
    const onAbort = (): void => fail(`aborted while ${phase}`);
    // One listener per scrape on the cycle's signal would link the scrapes together (abort.ts).
    const stopListening = signal ? whenAborted(signal, onAbort) : (): void => undefined;
    const timer = setTimeout(() => fail(`timed out after ${timeoutMs} ms while ${phase}`), Math.max(0, deadline - performance.now()));

    let answered = false;
    req.on('error', (err) => {
      const code = (err as NodeJS.ErrnoException).code;
      if (req.reusedSocket && !answered && (code === 'ECONNRESET' || code === 'EPIPE')) {
        fail(new StaleConnectionError(socketErrorText(err, phase, received)));
      } else {
        fail(socketErrorText(err, phase, received));
      }
    });
    req.on('response', (res) => {
      answered = true;
      const status = res.statusCode ?? 0;
      const gzipped = /\bgzip\b/i.test(String(res.headers['content-encoding'] ?? ''));
      const ok = status >= 200 && status < 300;
      const declared = Number(res.headers['content-length']);
      if (ok && !gzipped && Number.isFinite(declared) && declared > maxBytes) {
        fail(`payload larger than ${maxBytes} bytes (Content-Length ${declared})`);
        return;
      }
      phase = ok ? 'reading the body' : `reading the body of HTTP ${status}`;

      // Bytes on the wire are capped at `limit` too: a gzipped body is never larger than its text
      // in practice, and the decoded size is capped again below.
      const limit = ok ? maxBytes : ERROR_BODY_READ_LIMIT;
      const chunks: Buffer[] = [];
      res.on('data', (chunk: Buffer) => {
        received += chunk.length;
        if (received > limit) {
          if (ok) fail(`payload larger than ${maxBytes} bytes`);
          else fail(httpStatusError(status, decodeErrorBody(Buffer.concat(chunks), gzipped), res.headers['retry-after']));
          return;
        }
        chunks.push(chunk);
      });
      res.on('end', () => {
        const raw = Buffer.concat(chunks, received);
        if (!ok) {
          fail(httpStatusError(status, decodeErrorBody(raw, gzipped), res.headers['retry-after']));
          return;
        }
        if (!gzipped) {
          succeed(raw.toString('utf8'));
          return;
        }
        // One-shot decoding on this thread: zlib.gunzip's hand-off to the thread pool costs the main
        // thread more (about 26 µs a payload) than inflating here (about 18 µs; bench/gunzip-cost.ts).
        phase = 'decoding the gzipped body';
        let text: Buffer;
        try {
          text = zlib.gunzipSync(raw, { maxOutputLength: maxBytes });
        } catch (err) {
          if ((err as NodeJS.ErrnoException).code === 'ERR_BUFFER_TOO_LARGE') fail(`payload larger than ${maxBytes} bytes after gzip decoding`);
          else fail(`invalid gzip body: ${(err as Error).message}`);
          return;
        }
        succeed(text.toString('utf8'));
      });
      res.on('error', (err) => fail(socketErrorText(err, phase, received)));
      res.on('close', () => {
        if (!res.complete) fail(`connection closed after ${received} bytes, before the body was complete`);
      });
    });
    req.end();
  });
}

/** Retry-After in seconds (the API server's form), in ms; undefined when absent or not a number. */
function retryAfterMs(value: string | undefined): number | undefined {
  if (value === undefined || !/^\s*\d+\s*$/.test(value)) return undefined;
  return Number(value) * 1000;
}

/** An error body as text; a gzipped one is decoded when it is whole and small, else left out. */
function decodeErrorBody(raw: Buffer, gzipped: boolean): string {
  if (!gzipped) return raw.toString('utf8');
  try {
    return zlib.gunzipSync(raw, { maxOutputLength: ERROR_BODY_READ_LIMIT }).toString('utf8');
  } catch {
    return '';
  }
}

/** The status, and a short printable excerpt of the body: the target's words never reach a log whole. */
function httpStatusError(status: number, body: string, retryAfter: string | undefined): HttpStatusError {
  const quoted = safeExcerpt(statusMessage(body) ?? body);
  const text = `HTTP ${status}${http.STATUS_CODES[status] ? ` ${http.STATUS_CODES[status]}` : ''}${quoted ? `: ${quoted}` : ''}`;
  return new HttpStatusError(text, status, quoted, retryAfterMs(retryAfter));
}

/** The message of a Kubernetes Status body (the API server's proxy errors), if the body is one. */
function statusMessage(body: string): string | undefined {
  try {
    const status = JSON.parse(body) as { message?: unknown };
    if (typeof status?.message === 'string') return status.message;
  } catch {
    // Not JSON.
  }
  return undefined;
}

function socketErrorText(err: Error, phase: string, received: number): string {
  const code = (err as NodeJS.ErrnoException).code;
  if (code === 'ECONNRESET') {
    return `connection reset by the peer while ${phase}${received > 0 ? ` (after ${received} bytes)` : ''}`;
  }
  if (code === 'ECONNREFUSED') return `connection refused (${err.message}): is ipamd listening on that port?`;
  return `${err.message} while ${phase}`;
}

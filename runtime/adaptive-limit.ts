/**
 * Scrapes in flight, adapted to the API server's answers the way TCP adapts its window (AIMD).
 * In proxy mode every scrape is an API server request, and API Priority and Fairness answers 429
 * when the collector's share is used up: the limit then halves (once per round of requests: a
 * burst of 429s from requests sent before the cut halves it once), a Retry-After pauses new
 * requests for that long (bounded), and every answered scrape grows the limit by 1/limit, back up
 * to the configured concurrency. Direct mode never sees 429 and keeps the full concurrency.
 */
export interface AdaptiveLimitOptions {
  /** The configured concurrency: the limit never grows past it. */
  readonly max: number;
  /** @default 1 */
  readonly min?: number;
  /** Longest pause a Retry-After may impose. @default 5000 */
  readonly maxPauseMs?: number;
  /** @default performance.now */
  readonly now?: () => number;
}

/** A started request: the round it belongs to (rounds end at each cut). */
export type Ticket = number;

export class AdaptiveLimit {
  readonly max: number;
  /** Cuts made (halvings), and 429s seen. */
  readonly counters = { cuts: 0, throttled: 0, peakInFlight: 0 };
  private readonly min: number;
  private readonly maxPauseMs: number;
  private readonly now: () => number;
  private window: number;
  private inFlight = 0;
  private round = 0;
  private pausedUntil = 0;
  private pauseTimer?: NodeJS.Timeout;
  private readonly waiting: ((ticket: Ticket) => void)[] = [];

  constructor(options: AdaptiveLimitOptions) {
    if (!Number.isInteger(options.max) || options.max < 1) throw new Error(`AdaptiveLimit max must be a positive integer, got ${options.max}`);
    this.max = options.max;
    this.min = Math.min(options.min ?? 1, this.max);
    this.maxPauseMs = options.maxPauseMs ?? 5000;
    this.now = options.now ?? (() => performance.now());
    this.window = this.max;
  }

  /** Requests allowed in flight now. */
  get limit(): number {
    return Math.floor(this.window);
  }

  /** Resolves when one more request may start; the ticket goes back to release(). */
  acquire(): Promise<Ticket> {
    return new Promise((resolve) => {
      this.waiting.push(resolve);
      this.pump();
    });
  }

  /** The request ended; `throttled` when the server answered 429 (with its Retry-After, if any). */
  release(ticket: Ticket, throttled: boolean, retryAfterMs?: number): void {
    this.inFlight--;
    if (throttled) {
      this.counters.throttled++;
      if (ticket === this.round) {
        this.round++;
        this.counters.cuts++;
        this.window = Math.max(this.min, this.window / 2);
      }
      if (retryAfterMs !== undefined && retryAfterMs > 0) {
        this.pausedUntil = Math.max(this.pausedUntil, this.now() + Math.min(retryAfterMs, this.maxPauseMs));
      }
    } else {
      this.window = Math.min(this.max, this.window + 1 / this.window);
    }
    this.pump();
  }

  /** Lets every waiting request start at once, limit or pause aside (the cycle is being aborted). */
  releaseAll(): void {
    while (this.waiting.length > 0) this.start();
  }

  private pump(): void {
    const wait = this.pausedUntil - this.now();
    if (wait > 0) {
      if (!this.pauseTimer && this.waiting.length > 0) {
        this.pauseTimer = setTimeout(() => {
          this.pauseTimer = undefined;
          this.pump();
        }, wait);
      }
      return;
    }
    while (this.waiting.length > 0 && this.inFlight < this.limit) this.start();
  }

  private start(): void {
    const resolve = this.waiting.shift() as (ticket: Ticket) => void;
    this.inFlight++;
    this.counters.peakInFlight = Math.max(this.counters.peakInFlight, this.inFlight);
    resolve(this.round);
  }
}

/**
 * Joining the stop signal with a deadline for one outside call, without leaving anything behind.
 *
 * AbortSignal.any would do the joining, but Node 20 keeps every signal it makes in a set on each
 * source signal for as long as the source lives (measured on 20.20.2: a million calls on one
 * long-lived signal leave a million entries, about 40 MiB). The stop signal lives as long as the
 * collector and every list page and PutMetricData joins it, so calls join through listeners that
 * dispose() removes instead.
 */

/** A signal that aborts when any source aborts or the timeout passes, until dispose(). */
export interface JoinedAbort {
  readonly signal: AbortSignal;
  /** True when the timeout, not a source, aborted it. */
  readonly timedOut: boolean;
  /** Removes its listeners from the sources and clears the timer; harmless twice. */
  dispose(): void;
}

/**
 * Joins `sources` (undefined ones ignored) and, when given, a timeout of `timeoutMs` (its reason a
 * TimeoutError, as AbortSignal.timeout's). An already aborted source aborts it at once.
 */
export function joinAbort(sources: readonly (AbortSignal | undefined)[], timeoutMs?: number): JoinedAbort {
  const controller = new AbortController();
  const present = sources.filter((s): s is AbortSignal => s !== undefined);
  let timedOut = false;
  let timer: NodeJS.Timeout | undefined;
  const listeners: [AbortSignal, () => void][] = [];
  const dispose = (): void => {
    clearTimeout(timer);
    for (const [source, listener] of listeners.splice(0)) source.removeEventListener('abort', listener);
  };
  const abortWith = (reason: unknown): void => {
    dispose();
    controller.abort(reason);
  };
  for (const source of present) {
    if (source.aborted) {
      abortWith(source.reason);
      break;
    }
    const listener = (): void => abortWith(source.reason);
    source.addEventListener('abort', listener, { once: true });
    listeners.push([source, listener]);
  }
  if (timeoutMs !== undefined && !controller.signal.aborted) {
    timer = setTimeout(() => {
      timedOut = true;
      abortWith(new DOMException(`timed out after ${timeoutMs} ms`, 'TimeoutError'));
    }, Math.max(0, timeoutMs));
    // A deadline alone must not keep a finished process alive.
    timer.unref();
  }
  return {
    signal: controller.signal,
    get timedOut() {
      return timedOut;
    },
    dispose,
  };
}

/**
 * Calls `callback` when `signal` aborts, until the returned function is called: for a listener per
 * request on a signal that outlives many requests (a cycle's). Node 20's EventTarget keeps a removed
 * listener's links to its neighbours, and a Set's table, once outgrown or rehashed, still points at
 * what it held: either way a request that is done stays reachable from dead objects in the old
 * generation, and the young generation keeps every request since alive until a mark-compact
 * (bench/FINDINGS.md: the scrape path kept 4.7 MB a scavenge, now 0.7). Here a signal gets one
 * listener and the callbacks a list whose removed entries are emptied. The caller checks
 * `signal.aborted` first: an already aborted signal never calls back.
 */
export function whenAborted(signal: AbortSignal, callback: () => void): () => void {
  let list = ABORT_CALLBACKS.get(signal);
  if (list === undefined) {
    const callbacks: CallbackList = { first: undefined, last: undefined };
    list = callbacks;
    ABORT_CALLBACKS.set(signal, callbacks);
    signal.addEventListener('abort', () => {
      ABORT_CALLBACKS.delete(signal);
      // Each entry is unlinked before its call, so a callback that withdraws a later one is heard.
      for (let entry = callbacks.first; entry !== undefined; entry = callbacks.first) {
        const call = entry.callback;
        unlink(callbacks, entry);
        call?.();
      }
    }, { once: true });
  }
  const entry: CallbackEntry = { callback, previous: list.last, next: undefined };
  if (list.last === undefined) list.first = entry;
  else list.last.next = entry;
  list.last = entry;
  const registered = list;
  return () => unlink(registered, entry);
}

interface CallbackEntry {
  callback: (() => void) | undefined;
  previous: CallbackEntry | undefined;
  next: CallbackEntry | undefined;
}

interface CallbackList {
  first: CallbackEntry | undefined;
  last: CallbackEntry | undefined;
}

/** Takes `entry` out of `list` and empties it, so that nothing dead points at a live request. */
function unlink(list: CallbackList, entry: CallbackEntry): void {
  if (entry.callback === undefined) return;
  if (entry.previous === undefined) list.first = entry.next;
  else entry.previous.next = entry.next;
  if (entry.next === undefined) list.last = entry.previous;
  else entry.next.previous = entry.previous;
  entry.callback = undefined;
  entry.previous = undefined;
  entry.next = undefined;
}

const ABORT_CALLBACKS = new WeakMap<AbortSignal, CallbackList>();

/** Resolves after `ms`, or at once when `signal` aborts (or already has): a wait that stop cuts short. */
export function sleep(ms: number, signal: AbortSignal | undefined): Promise<void> {
  return new Promise((resolve) => {
    if (signal?.aborted) {
      resolve();
      return;
    }
    const done = (): void => {
      clearTimeout(timer);
      signal?.removeEventListener('abort', done);
      resolve();
    };
    const timer = setTimeout(done, ms);
    signal?.addEventListener('abort', done, { once: true });
  });
}

import { getEventListeners } from 'node:events';
import { joinAbort } from '../../runtime/abort';

describe('joinAbort', () => {
  test('aborts with the source\'s reason when a source aborts, not as a timeout', () => {
    const stop = new AbortController();
    const joined = joinAbort([undefined, stop.signal], 10_000);
    const reason = new Error('stopping');

    stop.abort(reason);

    expect(joined.signal.aborted).toBe(true);
    expect(joined.signal.reason).toBe(reason);
    expect(joined.timedOut).toBe(false);
  });

  test('aborts as a timeout after timeoutMs', async () => {
    const joined = joinAbort([new AbortController().signal], 30);

    await new Promise((resolve) => setTimeout(resolve, 60));

    expect(joined.signal.aborted).toBe(true);
    expect(joined.timedOut).toBe(true);
    expect((joined.signal.reason as Error).name).toBe('TimeoutError');
  });

  test('an already aborted source aborts it at once', () => {
    const stop = new AbortController();
    stop.abort(new Error('gone'));
    expect(joinAbort([stop.signal], 10_000).signal.reason).toEqual(new Error('gone'));
  });

  test('leaves no listener on a long-lived source once disposed or fired, however many joins', async () => {
    // GIVEN one long-lived stop signal joined 10,000 times, each join disposed, and one that times out
    const stop = new AbortController();
    for (let i = 0; i < 10_000; i++) joinAbort([stop.signal], 10_000).dispose();
    const fired = joinAbort([stop.signal], 5);
    await new Promise((resolve) => setTimeout(resolve, 30));

    // THEN nothing hangs on the stop signal (AbortSignal.any on Node 20 would hold 10,001 dependants)
    expect(fired.timedOut).toBe(true);
    expect(getEventListeners(stop.signal, 'abort')).toHaveLength(0);
    // AND a disposed join no longer follows the source
    const disposed = joinAbort([stop.signal]);
    disposed.dispose();
    stop.abort();
    expect(disposed.signal.aborted).toBe(false);
  });
});

import { getEventListeners } from 'node:events';
import { joinAbort, whenAborted } from '../../runtime/abort';

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

describe('whenAborted', () => {
  test('one listener on the signal however many callbacks; the registered ones are called once, in order', () => {
    // GIVEN 1,000 callbacks registered on one signal, every other one withdrawn
    const controller = new AbortController();
    const called: number[] = [];
    for (let i = 0; i < 1000; i++) {
      const withdraw = whenAborted(controller.signal, () => called.push(i));
      if (i % 2 === 1) withdraw();
    }

    // THEN the signal holds a single listener, not one per callback
    expect(getEventListeners(controller.signal, 'abort')).toHaveLength(1);

    // WHEN it aborts (twice: the second does nothing)
    controller.abort();
    controller.abort();

    // THEN the 500 even callbacks ran once each, in the order they were registered
    expect(called).toEqual(Array.from({ length: 500 }, (_, k) => 2 * k));
    expect(getEventListeners(controller.signal, 'abort')).toHaveLength(0);
  });

  test('a callback withdrawn by another callback during the abort is not called', () => {
    const controller = new AbortController();
    const called: string[] = [];
    let withdrawSecond = (): void => undefined;
    whenAborted(controller.signal, () => {
      called.push('first');
      withdrawSecond();
    });
    withdrawSecond = whenAborted(controller.signal, () => called.push('second'));
    controller.abort();
    expect(called).toEqual(['first']);
  });

  test('withdrawing the first, the last, or one twice keeps the others in order', () => {
    const controller = new AbortController();
    const called: string[] = [];
    const withdraw = ['a', 'b', 'c', 'd'].map((name) => whenAborted(controller.signal, () => called.push(name)));
    withdraw[0]();
    withdraw[3]();
    withdraw[3]();
    const e = whenAborted(controller.signal, () => called.push('e'));
    controller.abort();
    // Withdrawing after the abort is harmless too.
    e();
    expect(called).toEqual(['b', 'c', 'e']);
  });

  test('signals are independent', () => {
    const a = new AbortController();
    const b = new AbortController();
    const called: string[] = [];
    whenAborted(a.signal, () => called.push('a'));
    whenAborted(b.signal, () => called.push('b'));
    b.abort();
    expect(called).toEqual(['b']);
    a.abort();
    expect(called).toEqual(['b', 'a']);
  });
});

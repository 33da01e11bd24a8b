import { AdaptiveLimit, type Ticket } from '../../runtime/adaptive-limit';

/** Starts `n` acquisitions and returns the tickets of those granted by the next microtasks. */
async function grab(limit: AdaptiveLimit, n: number): Promise<{ granted: Ticket[]; pending: Promise<Ticket>[] }> {
  const granted: Ticket[] = [];
  const pending = Array.from({ length: n }, () => limit.acquire());
  pending.forEach((p) => { void p.then((t) => granted.push(t)); });
  await new Promise((resolve) => setImmediate(resolve));
  return { granted, pending };
}

describe('AdaptiveLimit', () => {
  test('grants up to max at once; the rest wait for a release', async () => {
    const limit = new AdaptiveLimit({ max: 4 });
    const { granted } = await grab(limit, 6);
    expect(granted).toHaveLength(4);
    limit.release(granted[0], false);
    await new Promise((resolve) => setImmediate(resolve));
    expect(granted).toHaveLength(5);
    expect(limit.counters.peakInFlight).toBe(4);
  });

  test('a burst of 429s from one round halves the limit once; a 429 from the next round halves it again', async () => {
    const limit = new AdaptiveLimit({ max: 8 });
    const first = await grab(limit, 8);
    // WHEN all 8 requests of round 0 are throttled
    for (const t of first.granted) limit.release(t, true);
    // THEN one cut: 8 -> 4
    expect(limit.limit).toBe(4);
    expect(limit.counters).toMatchObject({ cuts: 1, throttled: 8 });
    const second = await grab(limit, 8);
    expect(second.granted).toHaveLength(4);
    // WHEN one request of round 1 is throttled: 4 -> 2
    limit.release(second.granted[0], true);
    expect(limit.limit).toBe(2);
    expect(limit.counters.cuts).toBe(2);
  });

  test('answers grow the limit by 1/limit each, never past max', async () => {
    const limit = new AdaptiveLimit({ max: 8 });
    const { granted } = await grab(limit, 8);
    for (const t of granted) limit.release(t, true);
    expect(limit.limit).toBe(4);
    // 4 -> 4.25 -> 4.485 -> 4.708 -> 4.920 -> 5.123: the fifth answer reaches 5
    for (let i = 1; i <= 5; i++) {
      const [t] = (await grab(limit, 1)).granted;
      limit.release(t, false);
      expect(limit.limit).toBe(i < 5 ? 4 : 5);
    }
    for (let i = 0; i < 200; i++) {
      const [t] = (await grab(limit, 1)).granted;
      limit.release(t, false);
    }
    expect(limit.limit).toBe(8);
  });

  test('Retry-After pauses new requests for that long, bounded by maxPauseMs', async () => {
    let now = 1000;
    const limit = new AdaptiveLimit({ max: 2, maxPauseMs: 50, now: () => now });
    const { granted } = await grab(limit, 2);
    limit.release(granted[0], true, 10_000);
    limit.release(granted[1], false);
    // Nothing in flight and a limit of 2 (1 after the cut, +1 for the answer), yet paused
    expect(limit.limit).toBe(2);
    const waiting = await grab(limit, 1);
    expect(waiting.granted).toHaveLength(0);
    // The pause is 50 ms (bounded), measured on the injected clock; the timer fires on real time.
    now += 50;
    await new Promise((resolve) => setTimeout(resolve, 80));
    expect(waiting.granted).toHaveLength(1);
  });

  test('releaseAll lets every waiter go (an aborted cycle)', async () => {
    const limit = new AdaptiveLimit({ max: 1 });
    const { granted } = await grab(limit, 3);
    expect(granted).toHaveLength(1);
    limit.releaseAll();
    await new Promise((resolve) => setImmediate(resolve));
    expect(granted).toHaveLength(3);
  });
});

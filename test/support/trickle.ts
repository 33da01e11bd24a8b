/**
 * Writes a body one byte every `everyMs` after the headers, so the connection never goes idle and
 * only a deadline on the whole exchange ends it: the slow peer of the fault tests.
 */
import type * as http from 'node:http';

/** Trickles `body` on `res` (headers already written); `timers` holds the timer until the body ends or the client goes. */
export function trickleBody(res: http.ServerResponse, body: Buffer, everyMs: number, timers: Set<NodeJS.Timeout>): void {
  res.flushHeaders();
  let sent = 0;
  const timer = setInterval(() => {
    res.write(body.subarray(sent, sent + 1));
    if (++sent >= body.length) {
      clearInterval(timer);
      timers.delete(timer);
      res.end();
    }
  }, everyMs);
  timers.add(timer);
  res.on('close', () => {
    clearInterval(timer);
    timers.delete(timer);
  });
}

/**
 * The scrape stage's worker pool: a fixed number of workers take indexes in a given order, so at
 * most `concurrency` scrapes (and promises) are in flight whatever the node count.
 */
import type { AwsNodePod } from './types';

/** Runs `task(i)` for every index of `order`, at most `concurrency` at once. `task` must not throw. */
export async function runPool(order: readonly number[], concurrency: number, task: (index: number) => Promise<void>): Promise<void> {
  let next = 0;
  const worker = async (): Promise<void> => {
    while (next < order.length) await task(order[next++]);
  };
  await Promise.all(Array.from({ length: Math.min(concurrency, order.length) }, worker));
}

/**
 * Indexes of `pods`, those on nodes in `failedBefore` first, each group in the pods' order. A node
 * that hangs costs its whole timeout; started last, it would add that timeout to the cycle.
 */
export function failedFirst(pods: readonly AwsNodePod[], failedBefore: ReadonlySet<string>): number[] {
  const first: number[] = [];
  const rest: number[] = [];
  pods.forEach((pod, i) => (failedBefore.has(pod.nodeName) ? first : rest).push(i));
  return first.concat(rest);
}

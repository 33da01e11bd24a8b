/**
 * One log line per cycle for the nodes that failed, whatever their number: a few named with their
 * error, the rest only counted by reason. On a 100,000-node cluster with a bad day this is one
 * line of a few KB where one line per node would be tens of MB.
 */
import type { NodeOutcome } from './types';

/** Nodes named with their error in the summary; the others are counted. */
export const NAMED_FAILURES = 10;

export interface NamedFailure {
  readonly node: string;
  readonly pod: string;
  readonly error: string;
}

export interface NodeFailureSummary {
  readonly failed: number;
  /** The first NAMED_FAILURES failures, in the order they came. */
  readonly named: readonly NamedFailure[];
  /** Every failure (the named ones included) counted by reason; the reasons are a small fixed set. */
  readonly byReason: Readonly<Record<string, number>>;
}

/**
 * The reason of a failure, from its error text. The set is closed (plus one key per HTTP status),
 * so the summary's size does not grow with the cluster or with what a hostile node writes.
 */
export function failureReason(error: string | undefined): string {
  const text = error ?? '';
  const http = /\bHTTP (\d{3})\b/.exec(text);
  if (http) return `HTTP ${http[1]}`;
  const rules: ReadonlyArray<readonly [RegExp, string]> = [
    [/\btimed out\b/, 'timeout'],
    [/\baborted\b/, 'aborted'],
    [/connection refused/, 'connection refused'],
    [/connection reset/, 'connection reset'],
    [/connection closed/, 'connection closed'],
    [/payload larger than/, 'payload too large'],
    [/invalid exposition|invalid gzip/, 'invalid payload'],
    [/no podIP/, 'no pod IP'],
    [/\bipamd\b/, 'not an ipamd payload'],
  ];
  for (const [pattern, reason] of rules) if (pattern.test(text)) return reason;
  return 'other';
}

/** Builds the summary from one cycle's failed outcomes. */
export function summarizeNodeFailures(failed: readonly NodeOutcome[], named = NAMED_FAILURES): NodeFailureSummary {
  const byReason: Record<string, number> = {};
  for (const outcome of failed) {
    const reason = failureReason(outcome.error);
    byReason[reason] = (byReason[reason] ?? 0) + 1;
  }
  return {
    failed: failed.length,
    named: failed.slice(0, named).map((o) => ({ node: o.nodeName, pod: o.podName, error: o.error ?? 'unknown error' })),
    byReason,
  };
}

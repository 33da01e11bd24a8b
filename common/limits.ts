/**
 * The collector's accepted ranges and choices for its settings, written once: the collector checks
 * them at start (runtime/config.ts) and the chart at synth (lib/), so a value the chart accepts is one
 * the collector starts with. Pure data.
 */
import type { CniLogLevel, ScrapeMode } from './settings';

/** An inclusive whole-number range, and what the number counts (for error messages). */
export interface IntegerRange {
  readonly min: number;
  readonly max: number;
  readonly unit: string;
}

export const INTEGER_LIMITS = {
  intervalSeconds: { min: 1, max: 86_400, unit: 'whole seconds' },
  scrapeConcurrency: { min: 1, max: 10_000, unit: 'parallel scrapes' },
  scrapeTimeoutMs: { min: 10, max: 600_000, unit: 'milliseconds' },
  scrapeWorkers: { min: 0, max: 64, unit: 'worker threads, or 0 for none' },
  scrapeMaxBytes: { min: 1024, max: 1024 ** 3, unit: 'bytes' },
  ipamdPort: { min: 1, max: 65_535, unit: 'a TCP port' },
  listPageSize: { min: 1, max: 10_000, unit: 'pods per list page' },
  bufferMaxDatums: { min: 1, max: 10_000_000, unit: 'datums' },
  prometheusPort: { min: 1, max: 65_535, unit: 'a TCP port' },
  healthPort: { min: 0, max: 65_535, unit: 'a TCP port, or 0 for none' },
  unreadyAfterPublishFailures: { min: 1, max: 10_000, unit: 'consecutive cycles' },
  subnetRefreshSeconds: { min: 30, max: 86_400, unit: 'whole seconds' },
  leaseDurationSeconds: { min: 2, max: 3_600, unit: 'whole seconds' },
  leaseRenewDeadlineSeconds: { min: 1, max: 3_600, unit: 'whole seconds' },
  leaseRetryPeriodSeconds: { min: 1, max: 3_600, unit: 'whole seconds' },
} as const satisfies Record<string, IntegerRange>;

/** Subnets SUBNET_IDS may list: each costs one CloudWatch datum per cycle; a VPC holds 200 unless its quota is raised. */
export const MAX_SUBNET_IDS = 1_000;
/** `subnet-` and 8 (older) or 17 (current) lowercase hex digits, as EC2 issues them. */
export const SUBNET_ID_PATTERN = /^subnet-(?:[0-9a-f]{8}|[0-9a-f]{17})$/;

export const LOG_LEVELS: readonly CniLogLevel[] = ['DEBUG', 'INFO', 'WARN', 'ERROR'];
export const SCRAPE_MODES: readonly ScrapeMode[] = ['proxy', 'direct'];

/** Whether `value` is a whole number inside `range`. */
export function inRange(value: number, range: IntegerRange): boolean {
  return Number.isSafeInteger(value) && value >= range.min && value <= range.max;
}

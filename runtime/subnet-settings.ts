/**
 * The subnet watcher's settings: environment names, defaults and ranges, and the reader that turns
 * them into options. Kept apart from common/settings.ts until the lead folds them in (the chart
 * writes SUBNET_IDS; the collector reads it here).
 */
import type { IntegerRange } from '../common/limits';

export const SUBNET_ENV = {
  subnetIds: 'SUBNET_IDS',
  refreshSeconds: 'SUBNET_REFRESH_SECONDS',
} as const;

export const SUBNET_DEFAULTS = {
  /** Five minutes: subnet free space moves slowly, and DescribeSubnets shares the account's EC2 API quota. */
  refreshSeconds: 300,
} as const;

export const SUBNET_LIMITS = {
  refreshSeconds: { min: 30, max: 86_400, unit: 'whole seconds' },
  /** Each subnet costs one CloudWatch datum per cycle; a VPC holds 200 subnets unless its quota is raised. */
  subnetCount: { min: 1, max: 1_000, unit: 'subnets' },
} as const satisfies Record<string, IntegerRange>;

/** `subnet-` and 8 (older) or 17 (current) lowercase hex digits, as EC2 issues them. */
const SUBNET_ID_PATTERN = /^subnet-(?:[0-9a-f]{8}|[0-9a-f]{17})$/;

export interface SubnetSettings {
  /** Distinct subnet ids, in the order given. */
  readonly subnetIds: readonly string[];
  readonly refreshSeconds: number;
}

export class SubnetSettingsError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'SubnetSettingsError';
  }
}

type Env = Readonly<Record<string, string | undefined>>;

/** The subnet settings from `env`, or undefined when SUBNET_IDS is unset or blank (subnet metrics off). */
export function loadSubnetSettings(env: Env = process.env): SubnetSettings | undefined {
  const raw = env[SUBNET_ENV.subnetIds]?.trim() ?? '';
  if (raw === '') return undefined;
  return { subnetIds: parseSubnetIds(raw), refreshSeconds: readRefreshSeconds(env) };
}

/** Splits a comma-separated list of subnet ids; blanks around commas are ignored, duplicates kept once. */
export function parseSubnetIds(raw: string): string[] {
  const name = SUBNET_ENV.subnetIds;
  const items = raw.split(',').map((s) => s.trim());
  const ids: string[] = [];
  for (const [index, item] of items.entries()) {
    if (item === '') {
      throw new SubnetSettingsError(`${name}=${JSON.stringify(raw)} has an empty item at position ${index + 1}: list subnet ids separated by single commas`);
    }
    if (!SUBNET_ID_PATTERN.test(item)) {
      const hint = SUBNET_ID_PATTERN.test(item.toLowerCase()) ? ' (EC2 ids are lowercase)' : '';
      throw new SubnetSettingsError(
        `${name}: item ${index + 1} ${JSON.stringify(item)} is not a subnet id${hint}: ` +
          'use subnet- followed by 8 or 17 lowercase hex digits (e.g. subnet-0123456789abcdef0), separated by commas',
      );
    }
    if (!ids.includes(item)) ids.push(item);
  }
  const { max } = SUBNET_LIMITS.subnetCount;
  if (ids.length > max) {
    throw new SubnetSettingsError(`${name} lists ${ids.length} subnets; at most ${max} are watched (one CloudWatch datum each per cycle)`);
  }
  return ids;
}

function readRefreshSeconds(env: Env): number {
  const name = SUBNET_ENV.refreshSeconds;
  const raw = env[name]?.trim();
  if (raw === undefined || raw === '') return SUBNET_DEFAULTS.refreshSeconds;
  const { min, max, unit } = SUBNET_LIMITS.refreshSeconds;
  const value = /^[0-9]+$/.test(raw) ? Number(raw) : NaN;
  if (!Number.isSafeInteger(value) || value < min || value > max) {
    throw new SubnetSettingsError(`${name}=${JSON.stringify(raw)} is invalid: use a whole number of ${unit} from ${min} to ${max}`);
  }
  return value;
}

/**
 * The subnet watcher's settings reader: SUBNET_IDS and SUBNET_REFRESH_SECONDS checked and turned
 * into options. Names, defaults and ranges live in common/ (settings.ts, limits.ts), where the
 * chart reads them too; runtime/config.ts calls this reader.
 */
import { INTEGER_LIMITS, MAX_SUBNET_IDS, SUBNET_ID_PATTERN, type IntegerRange } from '../common/limits';
import { DEFAULTS, ENV } from '../common/settings';

export const SUBNET_ENV = {
  subnetIds: ENV.subnetIds,
  refreshSeconds: ENV.subnetRefreshSeconds,
} as const;

export const SUBNET_DEFAULTS = {
  refreshSeconds: DEFAULTS.subnetRefreshSeconds,
} as const;

export const SUBNET_LIMITS = {
  refreshSeconds: INTEGER_LIMITS.subnetRefreshSeconds,
  subnetCount: { min: 1, max: MAX_SUBNET_IDS, unit: 'subnets' },
} as const satisfies Record<string, IntegerRange>;

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

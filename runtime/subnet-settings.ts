/**
 * The subnet watcher's settings reader: SUBNET_IDS and SUBNET_REFRESH_SECONDS checked and turned
 * into options. Names, defaults and ranges live in common/ (settings.ts, limits.ts), where the
 * chart reads them too; runtime/config.ts calls this reader.
 */
import { INTEGER_LIMITS, MAX_SUBNET_IDS, SUBNET_ID_PATTERN } from '../common/limits';
import { DEFAULTS, ENV } from '../common/settings';
import { ConfigError, Env, readInteger } from './env-reader';

export interface SubnetSettings {
  /** Distinct subnet ids, in the order given. */
  readonly subnetIds: readonly string[];
  readonly refreshSeconds: number;
}


/** The subnet settings from `env`, or undefined when SUBNET_IDS is unset or blank (subnet metrics off). */
export function loadSubnetSettings(env: Env = process.env): SubnetSettings | undefined {
  const raw = env[ENV.subnetIds]?.trim() ?? '';
  if (raw === '') return undefined;
  return { subnetIds: parseSubnetIds(raw), refreshSeconds: readInteger(env, ENV.subnetRefreshSeconds, DEFAULTS.subnetRefreshSeconds, INTEGER_LIMITS.subnetRefreshSeconds) };
}

/** Splits a comma-separated list of subnet ids; blanks around commas are ignored, duplicates kept once. */
export function parseSubnetIds(raw: string): string[] {
  const name = ENV.subnetIds;
  const items = raw.split(',').map((s) => s.trim());
  const ids: string[] = [];
  for (const [index, item] of items.entries()) {
    if (item === '') {
      throw new ConfigError(`${name}=${JSON.stringify(raw)} has an empty item at position ${index + 1}: list subnet ids separated by single commas`);
    }
    if (!SUBNET_ID_PATTERN.test(item)) {
      const hint = SUBNET_ID_PATTERN.test(item.toLowerCase()) ? ' (EC2 ids are lowercase)' : '';
      throw new ConfigError(
        `${name}: item ${index + 1} ${JSON.stringify(item)} is not a subnet id${hint}: ` +
          'use subnet- followed by 8 or 17 lowercase hex digits (e.g. subnet-0123456789abcdef0), separated by commas',
      );
    }
    if (!ids.includes(item)) ids.push(item);
  }
  const max = MAX_SUBNET_IDS;
  if (ids.length > max) {
    throw new ConfigError(`${name} lists ${ids.length} subnets; at most ${max} are watched (one CloudWatch datum each per cycle)`);
  }
  return ids;
}


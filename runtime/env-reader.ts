/**
 * Reading settings from the environment, one way for the whole collector: a blank value means the
 * default, and a bad one is a ConfigError naming the variable, the value and what is allowed (main
 * turns it into one line and exit code 2).
 */
import { IntegerRange, inRange } from '../common/limits';

export class ConfigError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'ConfigError';
  }
}

export type Env = Readonly<Record<string, string | undefined>>;

export function nonEmpty(value: string | undefined): string | undefined {
  const trimmed = value?.trim();
  return trimmed ? trimmed : undefined;
}

export function readString(env: Env, name: string, fallback: string): string {
  return nonEmpty(env[name]) ?? fallback;
}

export function readBoolean(env: Env, name: string, fallback: boolean): boolean {
  const raw = nonEmpty(env[name]);
  if (raw === undefined) return fallback;
  const lower = raw.toLowerCase();
  if (lower === 'true' || lower === '1' || lower === 'yes') return true;
  if (lower === 'false' || lower === '0' || lower === 'no') return false;
  throw new ConfigError(`${name}=${JSON.stringify(raw)} is not a boolean: use true or false`);
}

export function readInteger(env: Env, name: string, fallback: number, range: IntegerRange): number {
  const raw = nonEmpty(env[name]);
  if (raw === undefined) return fallback;
  const value = /^[0-9]+$/.test(raw) ? Number(raw) : NaN;
  if (!inRange(value, range)) {
    throw new ConfigError(`${name}=${JSON.stringify(raw)} is invalid: use a whole number of ${range.unit} from ${range.min} to ${range.max}`);
  }
  return value;
}

export function readChoice<T extends string>(env: Env, name: string, fallback: T, allowed: readonly T[], upperCase: boolean): T {
  const raw = nonEmpty(env[name]);
  if (raw === undefined) return fallback;
  const normalized = upperCase ? raw.toUpperCase() : raw.toLowerCase();
  const found = allowed.find((a) => a === normalized);
  if (!found) {
    throw new ConfigError(`${name}=${JSON.stringify(raw)} is invalid: use one of ${allowed.join(', ')}`);
  }
  return found;
}

/**
 * Reads the collector's configuration from the environment (names and defaults in settings.ts).
 * Bad values stop start-up with one line naming the variable, the value and what is allowed;
 * upstream hangs on an interval of 0 and panics on "abc".
 */
import { CniLogLevel, DEFAULTS, ENV, ScrapeMode } from '../common/settings';

export interface CollectorConfig {
  readonly clusterId: string;
  readonly region?: string;
  readonly useCloudWatch: boolean;
  readonly usePrometheus: boolean;
  readonly intervalSeconds: number;
  readonly logLevel: CniLogLevel;
  readonly scrapeMode: ScrapeMode;
  readonly scrapeConcurrency: number;
  readonly scrapeTimeoutMs: number;
  readonly scrapeMaxBytes: number;
  readonly ipamdPort: number;
  readonly awsNodeNamespace: string;
  readonly awsNodeLabelSelector: string;
  readonly listPageSize: number;
  readonly cloudWatchNamespace: string;
  readonly bufferMaxDatums: number;
  readonly prometheusPort: number;
  /** 0 turns the health server off (tests, `--once`). */
  readonly healthPort: number;
}

export class ConfigError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'ConfigError';
  }
}

type Env = Readonly<Record<string, string | undefined>>;

/** The configuration from `env`; throws ConfigError on the first bad value. */
export function loadConfig(env: Env = process.env): CollectorConfig {
  const useCloudWatch = readBoolean(env, ENV.useCloudWatch, DEFAULTS.useCloudWatch);
  const clusterId = (env[ENV.clusterId] ?? '').trim();
  if (useCloudWatch && clusterId === '') {
    throw new ConfigError(
      `${ENV.clusterId} is not set: it names the cluster in the CLUSTER_ID dimension of every CloudWatch datum; ` +
        `set it to the cluster's name, or set ${ENV.useCloudWatch}=false`,
    );
  }
  // The SDK reads AWS_REGION itself; checking here turns a per-cycle SDK error into one line at start.
  const region = nonEmpty(env[ENV.region]) ?? nonEmpty(env.AWS_DEFAULT_REGION);
  if (useCloudWatch && region === undefined) {
    throw new ConfigError(`${ENV.region} is not set: set it to the cluster's AWS region (e.g. eu-west-1), or set ${ENV.useCloudWatch}=false`);
  }
  return {
    clusterId,
    region,
    useCloudWatch,
    usePrometheus: readBoolean(env, ENV.usePrometheus, DEFAULTS.usePrometheus),
    intervalSeconds: readInteger(env, ENV.intervalSeconds, DEFAULTS.intervalSeconds, 1, 86_400, 'whole seconds'),
    logLevel: readChoice(env, ENV.logLevel, DEFAULTS.logLevel, ['DEBUG', 'INFO', 'WARN', 'ERROR'], true),
    scrapeMode: readChoice(env, ENV.scrapeMode, DEFAULTS.scrapeMode, ['proxy', 'direct'], false),
    scrapeConcurrency: readInteger(env, ENV.scrapeConcurrency, DEFAULTS.scrapeConcurrency, 1, 10_000, 'parallel scrapes'),
    scrapeTimeoutMs: readInteger(env, ENV.scrapeTimeoutMs, DEFAULTS.scrapeTimeoutMs, 10, 600_000, 'milliseconds'),
    scrapeMaxBytes: readInteger(env, ENV.scrapeMaxBytes, DEFAULTS.scrapeMaxBytes, 1024, 1024 ** 3, 'bytes'),
    ipamdPort: readInteger(env, ENV.ipamdPort, DEFAULTS.ipamdPort, 1, 65_535, 'a TCP port'),
    awsNodeNamespace: readString(env, ENV.awsNodeNamespace, DEFAULTS.awsNodeNamespace),
    awsNodeLabelSelector: readString(env, ENV.awsNodeLabelSelector, DEFAULTS.awsNodeLabelSelector),
    listPageSize: readInteger(env, ENV.listPageSize, DEFAULTS.listPageSize, 1, 10_000, 'pods per list page'),
    cloudWatchNamespace: readString(env, ENV.cloudWatchNamespace, DEFAULTS.cloudWatchNamespace),
    bufferMaxDatums: readInteger(env, ENV.bufferMaxDatums, DEFAULTS.bufferMaxDatums, 1, 10_000_000, 'datums'),
    prometheusPort: readInteger(env, ENV.prometheusPort, DEFAULTS.prometheusPort, 1, 65_535, 'a TCP port'),
    healthPort: readInteger(env, ENV.healthPort, DEFAULTS.healthPort, 0, 65_535, 'a TCP port, or 0 for none'),
  };
}

function nonEmpty(value: string | undefined): string | undefined {
  const trimmed = value?.trim();
  return trimmed ? trimmed : undefined;
}

function readString(env: Env, name: string, fallback: string): string {
  return nonEmpty(env[name]) ?? fallback;
}

function readBoolean(env: Env, name: string, fallback: boolean): boolean {
  const raw = nonEmpty(env[name]);
  if (raw === undefined) return fallback;
  const lower = raw.toLowerCase();
  if (lower === 'true' || lower === '1' || lower === 'yes') return true;
  if (lower === 'false' || lower === '0' || lower === 'no') return false;
  throw new ConfigError(`${name}=${JSON.stringify(raw)} is not a boolean: use true or false`);
}

function readInteger(env: Env, name: string, fallback: number, min: number, max: number, what: string): number {
  const raw = nonEmpty(env[name]);
  if (raw === undefined) return fallback;
  const value = /^[0-9]+$/.test(raw) ? Number(raw) : NaN;
  if (!Number.isSafeInteger(value) || value < min || value > max) {
    throw new ConfigError(`${name}=${JSON.stringify(raw)} is invalid: use a whole number of ${what} from ${min} to ${max}`);
  }
  return value;
}

function readChoice<T extends string>(env: Env, name: string, fallback: T, allowed: readonly T[], upperCase: boolean): T {
  const raw = nonEmpty(env[name]);
  if (raw === undefined) return fallback;
  const normalized = upperCase ? raw.toUpperCase() : raw.toLowerCase();
  const found = allowed.find((a) => a === normalized);
  if (!found) {
    throw new ConfigError(`${name}=${JSON.stringify(raw)} is invalid: use one of ${allowed.join(', ')}`);
  }
  return found;
}

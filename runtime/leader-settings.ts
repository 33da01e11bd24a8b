/**
 * Leader election settings reader: checks LEADER_ELECTION and the Lease settings. Names, defaults
 * and ranges live in common/ (settings.ts, limits.ts), where the chart reads them too (it sets
 * these from `collector.replicas` and the downward API); runtime/config.ts calls this reader.
 */
import { INTEGER_LIMITS, type IntegerRange } from '../common/limits';
import { DEFAULTS, ENV } from '../common/settings';

export const LEADER_ENV = {
  enabled: ENV.leaderElection,
  podName: ENV.podName,
  podNamespace: ENV.podNamespace,
  leaseName: ENV.leaseName,
  leaseDurationSeconds: ENV.leaseDurationSeconds,
  renewDeadlineSeconds: ENV.leaseRenewDeadlineSeconds,
  retryPeriodSeconds: ENV.leaseRetryPeriodSeconds,
} as const;

export const LEADER_DEFAULTS = {
  enabled: DEFAULTS.leaderElection,
  leaseName: DEFAULTS.leaseName,
  leaseDurationSeconds: DEFAULTS.leaseDurationSeconds,
  renewDeadlineSeconds: DEFAULTS.leaseRenewDeadlineSeconds,
  retryPeriodSeconds: DEFAULTS.leaseRetryPeriodSeconds,
} as const;

export const LEADER_LIMITS = {
  leaseDurationSeconds: INTEGER_LIMITS.leaseDurationSeconds,
  renewDeadlineSeconds: INTEGER_LIMITS.leaseRenewDeadlineSeconds,
  retryPeriodSeconds: INTEGER_LIMITS.leaseRetryPeriodSeconds,
} as const satisfies Record<string, IntegerRange>;

export interface LeaderElectionSettings {
  /** The holder identity written into the Lease: the pod's name. */
  readonly identity: string;
  readonly namespace: string;
  readonly leaseName: string;
  readonly leaseDurationSeconds: number;
  readonly renewDeadlineSeconds: number;
  readonly retryPeriodSeconds: number;
}

export class LeaderSettingsError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'LeaderSettingsError';
  }
}

type Env = Readonly<Record<string, string | undefined>>;

/** RFC 1123 label (a namespace name) and subdomain (a Lease name), as the API server checks them. */
const DNS_LABEL = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/;
const DNS_SUBDOMAIN = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$/;

/** The leader election settings from `env`, or undefined when LEADER_ELECTION is off (the default). */
export function loadLeaderElectionSettings(env: Env = process.env): LeaderElectionSettings | undefined {
  if (!readBoolean(env, LEADER_ENV.enabled, LEADER_DEFAULTS.enabled)) return undefined;
  const why = `${LEADER_ENV.enabled}=true`;
  const identity = required(env, LEADER_ENV.podName, `${why} needs it as this replica's identity in the Lease; set it from the downward API (fieldRef metadata.name)`);
  if (identity.length > 253) throw new LeaderSettingsError(`${LEADER_ENV.podName} is ${identity.length} characters; a pod name has at most 253`);
  const namespace = required(env, LEADER_ENV.podNamespace, `${why} needs the namespace the Lease lives in; set it from the downward API (fieldRef metadata.namespace)`);
  if (namespace.length > 63 || !DNS_LABEL.test(namespace)) {
    throw new LeaderSettingsError(`${LEADER_ENV.podNamespace}=${JSON.stringify(namespace)} is not a namespace name: use at most 63 lowercase letters, digits and '-'`);
  }
  const leaseName = env[LEADER_ENV.leaseName]?.trim() || LEADER_DEFAULTS.leaseName;
  if (leaseName.length > 253 || !DNS_SUBDOMAIN.test(leaseName)) {
    throw new LeaderSettingsError(`${LEADER_ENV.leaseName}=${JSON.stringify(leaseName)} is not a valid Lease name: use at most 253 lowercase letters, digits, '-' and '.'`);
  }
  const leaseDurationSeconds = readSeconds(env, 'leaseDurationSeconds');
  const renewDeadlineSeconds = readSeconds(env, 'renewDeadlineSeconds');
  const retryPeriodSeconds = readSeconds(env, 'retryPeriodSeconds');
  checkTimings(leaseDurationSeconds, renewDeadlineSeconds, retryPeriodSeconds);
  return { identity, namespace, leaseName, leaseDurationSeconds, renewDeadlineSeconds, retryPeriodSeconds };
}

/**
 * client-go's rule: a leader gives up (renew deadline) before anyone may take its lease (lease
 * duration), and tries more than once before giving up (retry period).
 */
export function checkTimings(leaseDuration: number, renewDeadline: number, retryPeriod: number, unit = 'seconds'): void {
  const names = `${LEADER_ENV.leaseDurationSeconds} > ${LEADER_ENV.renewDeadlineSeconds} > ${LEADER_ENV.retryPeriodSeconds}`;
  if (!(leaseDuration > renewDeadline)) {
    throw new LeaderSettingsError(
      `lease duration (${leaseDuration} ${unit}) must be longer than the renew deadline (${renewDeadline} ${unit}): ` +
        `a leader must give up before another replica may take the lease (need ${names})`,
    );
  }
  if (!(renewDeadline > retryPeriod)) {
    throw new LeaderSettingsError(
      `renew deadline (${renewDeadline} ${unit}) must be longer than the retry period (${retryPeriod} ${unit}): ` +
        `a leader must get more than one try to renew before it gives up (need ${names})`,
    );
  }
}

function required(env: Env, name: string, why: string): string {
  const value = env[name]?.trim();
  if (!value) throw new LeaderSettingsError(`${name} is not set: ${why}`);
  return value;
}

function readSeconds(env: Env, key: keyof typeof LEADER_LIMITS): number {
  const name = LEADER_ENV[key];
  const raw = env[name]?.trim();
  if (raw === undefined || raw === '') return LEADER_DEFAULTS[key];
  const { min, max, unit } = LEADER_LIMITS[key];
  const value = /^[0-9]+$/.test(raw) ? Number(raw) : NaN;
  if (!Number.isSafeInteger(value) || value < min || value > max) {
    throw new LeaderSettingsError(`${name}=${JSON.stringify(raw)} is invalid: use a whole number of ${unit} from ${min} to ${max}`);
  }
  return value;
}

function readBoolean(env: Env, name: string, fallback: boolean): boolean {
  const raw = env[name]?.trim();
  if (!raw) return fallback;
  const lower = raw.toLowerCase();
  if (lower === 'true' || lower === '1' || lower === 'yes') return true;
  if (lower === 'false' || lower === '0' || lower === 'no') return false;
  throw new LeaderSettingsError(`${name}=${JSON.stringify(raw)} is not a boolean: use true or false`);
}

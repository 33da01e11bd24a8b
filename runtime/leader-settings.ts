/**
 * Leader election settings reader: checks LEADER_ELECTION and the Lease settings. Names, defaults
 * and ranges live in common/ (settings.ts, limits.ts), where the chart reads them too (it sets
 * these from `collector.replicas` and the downward API); runtime/config.ts calls this reader.
 */
import { INTEGER_LIMITS } from '../common/limits';
import { DEFAULTS, ENV } from '../common/settings';
import { ConfigError, Env, readBoolean, readInteger } from './env-reader';

export interface LeaderElectionSettings {
  /** The holder identity written into the Lease: the pod's name. */
  readonly identity: string;
  readonly namespace: string;
  readonly leaseName: string;
  readonly leaseDurationSeconds: number;
  readonly renewDeadlineSeconds: number;
  readonly retryPeriodSeconds: number;
}


/** RFC 1123 label (a namespace name) and subdomain (a Lease name), as the API server checks them. */
const DNS_LABEL = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/;
const DNS_SUBDOMAIN = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$/;

/** The leader election settings from `env`, or undefined when LEADER_ELECTION is off (the default). */
export function loadLeaderElectionSettings(env: Env = process.env): LeaderElectionSettings | undefined {
  if (!readBoolean(env, ENV.leaderElection, DEFAULTS.leaderElection)) return undefined;
  const why = `${ENV.leaderElection}=true`;
  const identity = required(env, ENV.podName, `${why} needs it as this replica's identity in the Lease; set it from the downward API (fieldRef metadata.name)`);
  if (identity.length > 253) throw new ConfigError(`${ENV.podName} is ${identity.length} characters; a pod name has at most 253`);
  const namespace = required(env, ENV.podNamespace, `${why} needs the namespace the Lease lives in; set it from the downward API (fieldRef metadata.namespace)`);
  if (namespace.length > 63 || !DNS_LABEL.test(namespace)) {
    throw new ConfigError(`${ENV.podNamespace}=${JSON.stringify(namespace)} is not a namespace name: use at most 63 lowercase letters, digits and '-'`);
  }
  const leaseName = env[ENV.leaseName]?.trim() || DEFAULTS.leaseName;
  if (leaseName.length > 253 || !DNS_SUBDOMAIN.test(leaseName)) {
    throw new ConfigError(`${ENV.leaseName}=${JSON.stringify(leaseName)} is not a valid Lease name: use at most 253 lowercase letters, digits, '-' and '.'`);
  }
  const leaseDurationSeconds = readInteger(env, ENV.leaseDurationSeconds, DEFAULTS.leaseDurationSeconds, INTEGER_LIMITS.leaseDurationSeconds);
  const renewDeadlineSeconds = readInteger(env, ENV.leaseRenewDeadlineSeconds, DEFAULTS.leaseRenewDeadlineSeconds, INTEGER_LIMITS.leaseRenewDeadlineSeconds);
  const retryPeriodSeconds = readInteger(env, ENV.leaseRetryPeriodSeconds, DEFAULTS.leaseRetryPeriodSeconds, INTEGER_LIMITS.leaseRetryPeriodSeconds);
  checkTimings(leaseDurationSeconds, renewDeadlineSeconds, retryPeriodSeconds);
  return { identity, namespace, leaseName, leaseDurationSeconds, renewDeadlineSeconds, retryPeriodSeconds };
}

/**
 * client-go's rule: a leader gives up (renew deadline) before anyone may take its lease (lease
 * duration), and tries more than once before giving up (retry period).
 */
export function checkTimings(leaseDuration: number, renewDeadline: number, retryPeriod: number, unit = 'seconds'): void {
  const names = `${ENV.leaseDurationSeconds} > ${ENV.leaseRenewDeadlineSeconds} > ${ENV.leaseRetryPeriodSeconds}`;
  if (!(leaseDuration > renewDeadline)) {
    throw new ConfigError(
      `lease duration (${leaseDuration} ${unit}) must be longer than the renew deadline (${renewDeadline} ${unit}): ` +
        `a leader must give up before another replica may take the lease (need ${names})`,
    );
  }
  if (!(renewDeadline > retryPeriod)) {
    throw new ConfigError(
      `renew deadline (${renewDeadline} ${unit}) must be longer than the retry period (${retryPeriod} ${unit}): ` +
        `a leader must get more than one try to renew before it gives up (need ${names})`,
    );
  }
}

function required(env: Env, name: string, why: string): string {
  const value = env[name]?.trim();
  if (!value) throw new ConfigError(`${name} is not set: ${why}`);
  return value;
}



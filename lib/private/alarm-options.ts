/**
 * The alarms' options with defaults applied and checked: thresholds, periods against CloudWatch's
 * one-day evaluation window, alarm names, and the region. The helper checks its `alarms` options
 * here with the prefix `alarms` before it builds anything, so a message names the prop the user wrote.
 */
import { Duration, Stack, Token } from 'aws-cdk-lib';
import { IConstruct } from 'constructs';
import type { CniMetricsAlarmsOptions } from '../cni-metrics-alarms';
import { ValidationError, got, propPath } from './errors';

const DEFAULT_IP_UTILIZATION_PERCENT = 80;
const DEFAULT_IP_UTILIZATION_PERIODS = 3;
const DEFAULT_IPAMD_ERROR_THRESHOLD = 1;
const DEFAULT_SILENT_PERIODS = 3;
/** About a /25's worth: time to add a subnet before ipamd's warm pools drain it. */
const DEFAULT_MIN_SUBNET_AVAILABLE_IPS = 100;
/** Subnet figures refresh every 5 minutes by default: one period below is already a trend. */
const DEFAULT_MIN_SUBNET_PERIODS = 1;
const DEFAULT_MAX_NODE_IP_UTILIZATION_PERCENT = 90;
const DEFAULT_MAX_NODE_PERIODS = 3;
const DEFAULT_PERIOD = Duration.minutes(5);
/** CloudWatch caps an alarm's evaluation window (periods x period) at one day. */
const MAX_EVALUATION_WINDOW = Duration.days(1);
const MAX_ALARM_NAME_LENGTH = 255;
/** The resource part of every alarm name, between the prefix and the alarm's own suffix. */
const ALARM_NAME_RESOURCE = 'CNI';

/** Each alarm that is on, with its settings; an alarm that is off is undefined. */
export interface ResolvedAlarms {
  readonly ipUtilization?: { thresholdPercent: number; evaluationPeriods: number; alarmName: string };
  readonly ipamdErrors?: { threshold: number; alarmName: string };
  readonly collectorSilent?: { periods: number; alarmName: string };
  readonly minSubnetAvailableIps?: { thresholdIps: number; evaluationPeriods: number; alarmName: string };
  readonly maxNodeIpUtilization?: { thresholdPercent: number; evaluationPeriods: number; alarmName: string };
}

/** What the checks need besides the options. */
interface AlarmContext {
  readonly clusterName: string;
  readonly period?: Duration;
  readonly region?: string;
}

/** Throws a ValidationError naming `<prefix>.<option>` on the first bad option; returns the alarms that are on. */
export function validateAlarmsOptions(scope: IConstruct, options: CniMetricsAlarmsOptions & AlarmContext, prefix: string): ResolvedAlarms {
  const path = (...names: string[]) => names.reduce((acc, name) => propPath(acc, name), prefix);
  const period = options.period ?? DEFAULT_PERIOD;
  const namePrefix = options.alarmNamePrefix ?? options.clusterName;
  if (!Token.isUnresolved(namePrefix) && namePrefix.trim() === '') {
    throw new ValidationError(path('alarmNamePrefix'), 'must not be empty' + got(namePrefix), 'leave it out to use the cluster name');
  }
  checkRegion(scope, options.region);

  const alarmName = (alarm: string, id: string, override: string | undefined): string => {
    const name = override ?? `${namePrefix}-${ALARM_NAME_RESOURCE}-${id}`;
    if (Token.isUnresolved(name)) return name;
    const badLength = name.trim() === '' || name.length > MAX_ALARM_NAME_LENGTH;
    // CloudWatch refuses ASCII control characters in alarm names.
    const controlCharacter = /[\u0000-\u001f\u007f]/.test(name);
    if (!badLength && !controlCharacter) return name;
    const rule = `must be a CloudWatch alarm name (1-${MAX_ALARM_NAME_LENGTH} characters, not blank, no control characters)`;
    if (override !== undefined) throw new ValidationError(path(alarm, 'alarmNameOverride'), rule + got(name), 'fix it or leave it out');
    throw new ValidationError(path('alarmNamePrefix'), `makes the alarm name ${JSON.stringify(name)}, which ${rule}`,
      `shorten or clean ${path('alarmNamePrefix')} (by default the cluster name), or give ${path(alarm, 'alarmNameOverride')}`);
  };
  const checkPeriods = (name: string, periods: number): void => {
    if (Token.isUnresolved(periods)) return;
    if (!Number.isInteger(periods) || periods < 1) throw new ValidationError(name, 'must be a whole number >= 1' + got(periods), 'e.g. 3');
    if (period.isUnresolved()) return;
    const periodSeconds = period.toSeconds({ integral: false });
    if (periodSeconds > MAX_EVALUATION_WINDOW.toSeconds()) {
      // Not the number of periods' fault: even one period is too long.
      throw new ValidationError('period', `is ${period.toHumanString()}, but CloudWatch alarms look back at most one day`,
        `use a period of at most Duration.days(1), or turn the alarms off (\`${prefix === '' ? 'alarms' : prefix}: { enabled: false }\` on the helper) to keep the longer period on the dashboard`);
    }
    const window = periodSeconds * periods;
    if (window > MAX_EVALUATION_WINDOW.toSeconds()) {
      const maxPeriods = Math.floor(MAX_EVALUATION_WINDOW.toSeconds() / periodSeconds);
      throw new ValidationError(name, `is ${periods}, so the alarm would look back ${window / 3600} hours; CloudWatch allows at most one day`,
        `use at most ${maxPeriods} periods of ${period.toHumanString()}`);
    }
  };

  let ipUtilization: ResolvedAlarms['ipUtilization'];
  if (options.ipUtilization?.enabled ?? true) {
    const o = options.ipUtilization ?? {};
    const thresholdPercent = o.thresholdPercent ?? DEFAULT_IP_UTILIZATION_PERCENT;
    const evaluationPeriods = o.evaluationPeriods ?? DEFAULT_IP_UTILIZATION_PERIODS;
    if (!Token.isUnresolved(thresholdPercent) && !(thresholdPercent > 0 && thresholdPercent <= 100)) {
      throw new ValidationError(path('ipUtilization', 'thresholdPercent'), 'must be > 0 and <= 100' + got(thresholdPercent), 'e.g. 80');
    }
    checkPeriods(path('ipUtilization', 'evaluationPeriods'), evaluationPeriods);
    ipUtilization = { thresholdPercent, evaluationPeriods, alarmName: alarmName('ipUtilization', 'IpUtilization', o.alarmNameOverride) };
  }

  let ipamdErrors: ResolvedAlarms['ipamdErrors'];
  // Off by default: see CniMetricsAlarmsOptions.ipamdErrors.
  if (options.ipamdErrors?.enabled ?? false) {
    const o = options.ipamdErrors ?? {};
    const threshold = o.threshold ?? DEFAULT_IPAMD_ERROR_THRESHOLD;
    if (!Token.isUnresolved(threshold) && !(Number.isInteger(threshold) && threshold >= 1)) {
      throw new ValidationError(path('ipamdErrors', 'threshold'), 'must be a whole number >= 1 (errors in one period)' + got(threshold), 'e.g. 1');
    }
    ipamdErrors = { threshold, alarmName: alarmName('ipamdErrors', 'IpamdErrors', o.alarmNameOverride) };
  }

  let collectorSilent: ResolvedAlarms['collectorSilent'];
  if (options.collectorSilent?.enabled ?? true) {
    const o = options.collectorSilent ?? {};
    const periods = o.periods ?? DEFAULT_SILENT_PERIODS;
    checkPeriods(path('collectorSilent', 'periods'), periods);
    collectorSilent = { periods, alarmName: alarmName('collectorSilent', 'CollectorSilent', o.alarmNameOverride) };
  }
  let minSubnetAvailableIps: ResolvedAlarms['minSubnetAvailableIps'];
  // Off unless asked for: the helper asks when the collector watches subnets.
  if (options.minSubnetAvailableIps?.enabled ?? false) {
    const o = options.minSubnetAvailableIps ?? {};
    const thresholdIps = o.thresholdIps ?? DEFAULT_MIN_SUBNET_AVAILABLE_IPS;
    const evaluationPeriods = o.evaluationPeriods ?? DEFAULT_MIN_SUBNET_PERIODS;
    if (!Token.isUnresolved(thresholdIps) && !(Number.isInteger(thresholdIps) && thresholdIps >= 1)) {
      throw new ValidationError(path('minSubnetAvailableIps', 'thresholdIps'), 'must be a whole number >= 1 (free IP addresses)' + got(thresholdIps), 'e.g. 100');
    }
    checkPeriods(path('minSubnetAvailableIps', 'evaluationPeriods'), evaluationPeriods);
    minSubnetAvailableIps = { thresholdIps, evaluationPeriods, alarmName: alarmName('minSubnetAvailableIps', 'MinSubnetAvailableIps', o.alarmNameOverride) };
  }

  let maxNodeIpUtilization: ResolvedAlarms['maxNodeIpUtilization'];
  if (options.maxNodeIpUtilization?.enabled ?? false) {
    const o = options.maxNodeIpUtilization ?? {};
    const thresholdPercent = o.thresholdPercent ?? DEFAULT_MAX_NODE_IP_UTILIZATION_PERCENT;
    const evaluationPeriods = o.evaluationPeriods ?? DEFAULT_MAX_NODE_PERIODS;
    if (!Token.isUnresolved(thresholdPercent) && !(thresholdPercent > 0 && thresholdPercent <= 100)) {
      throw new ValidationError(path('maxNodeIpUtilization', 'thresholdPercent'), 'must be > 0 and <= 100' + got(thresholdPercent), 'e.g. 90');
    }
    checkPeriods(path('maxNodeIpUtilization', 'evaluationPeriods'), evaluationPeriods);
    maxNodeIpUtilization = { thresholdPercent, evaluationPeriods, alarmName: alarmName('maxNodeIpUtilization', 'MaxNodeIpUtilization', o.alarmNameOverride) };
  }
  return { ipUtilization, ipamdErrors, collectorSilent, minSubnetAvailableIps, maxNodeIpUtilization };
}

/** CloudWatch alarms watch metrics of their own region only: a metric region other than the stack's fails. */
function checkRegion(scope: IConstruct, region: string | undefined): void {
  const stackRegion = Stack.of(scope).region;
  if (region === undefined || Token.isUnresolved(region) || Token.isUnresolved(stackRegion) || region === stackRegion) return;
  throw new ValidationError('region', `is ${region}, but the alarms are created in ${stackRegion} (the stack's region), and ` +
    'CloudWatch alarms can only watch metrics of their own region', `create the alarms in a stack of region ${region}`);
}

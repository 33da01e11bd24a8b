/**
 * CloudWatch alarms on the CNI metrics: IP utilization, ipamd errors, and a collector that has
 * gone silent. Their metrics come from the same factory as the dashboard's.
 */
import { Duration, Token } from 'aws-cdk-lib';
import * as cloudwatch from 'aws-cdk-lib/aws-cloudwatch';
import * as cloudwatchActions from 'aws-cdk-lib/aws-cloudwatch-actions';
import * as sns from 'aws-cdk-lib/aws-sns';
import { Construct } from 'constructs';
import { CniMetricFactory, CniMetricFactoryProps } from './metric-factory';

export interface IpUtilizationAlarmOptions {
  /**
   * Alarm when the share of ipamd's IPs assigned to pods is above this, in percent.
   *
   * @default 80
   */
  readonly thresholdPercent?: number;

  /**
   * Consecutive periods the utilization must be above the threshold before the alarm fires.
   *
   * @default 3
   */
  readonly evaluationPeriods?: number;

  /**
   * Name of the alarm.
   *
   * @default - `<alarmNamePrefix>-CNI-IpUtilization`
   */
  readonly alarmNameOverride?: string;
}

export interface IpamdErrorsAlarmOptions {
  /**
   * Alarm when ipamd reports at least this many errors in one period, across the cluster.
   *
   * @default 1
   */
  readonly threshold?: number;

  /**
   * Name of the alarm.
   *
   * @default - `<alarmNamePrefix>-CNI-IpamdErrors`
   */
  readonly alarmNameOverride?: string;
}

export interface CollectorSilentAlarmOptions {
  /**
   * Consecutive periods in which no node was scraped before the alarm fires.
   *
   * @default 3
   */
  readonly periods?: number;

  /**
   * Name of the alarm.
   *
   * @default - `<alarmNamePrefix>-CNI-CollectorSilent`
   */
  readonly alarmNameOverride?: string;
}

export interface CniMetricsAlarmsOptions {
  /**
   * Alarm on IP utilization (assigned / total IPs ipamd holds, in percent): the warm pools are
   * running dry, which is how running out of pod IPs starts (ipamd cannot grow a pool on a full
   * node or subnet). With a small WARM_IP_TARGET the ratio runs high in normal operation; raise
   * the threshold then. `false` turns it off.
   *
   * @default - on, above 80% for 3 periods
   */
  readonly ipUtilization?: IpUtilizationAlarmOptions | false;

  /**
   * Alarm on errors inside ipamd. Off unless given: ipamd counts errors it retries through on
   * its own (EC2 throttling, an IP in cooldown), so busy clusters see some in normal operation
   * and a default threshold would alert on noise. Pass `{}` for threshold 1; the errors are on
   * the dashboard either way.
   *
   * @default - no alarm
   */
  readonly ipamdErrors?: IpamdErrorsAlarmOptions | false;

  /**
   * Alarm when no node's ipamd metrics arrive: the collector is not running, cannot list aws-node
   * pods, cannot reach ipamd on any node, or cannot publish (or publishes under another namespace
   * or cluster name). `false` turns it off.
   *
   * @default - on, after 3 silent periods
   */
  readonly collectorSilent?: CollectorSilentAlarmOptions | false;

  /**
   * Topic notified when an alarm fires and when it returns to OK.
   *
   * @default - no notifications
   */
  readonly alarmTopic?: sns.ITopic;

  /**
   * First part of every alarm name, `<prefix>-CNI-<alarm>`.
   *
   * @default - the cluster name
   */
  readonly alarmNamePrefix?: string;
}

export interface CniMetricsAlarmsProps extends CniMetricsAlarmsOptions, CniMetricFactoryProps {}

const DEFAULT_IP_UTILIZATION_PERCENT = 80;
const DEFAULT_IP_UTILIZATION_PERIODS = 3;
const DEFAULT_IPAMD_ERROR_THRESHOLD = 1;
const DEFAULT_SILENT_PERIODS = 3;
/** CloudWatch caps an alarm's evaluation window (periods x period) at one day. */
const MAX_EVALUATION_WINDOW = Duration.days(1);
const MAX_ALARM_NAME_LENGTH = 255;
/** The resource part of every alarm name, between the prefix and the alarm's own suffix. */
const ALARM_NAME_RESOURCE = 'CNI';

export class CniMetricsAlarms extends Construct {
  /** Every alarm created, in the order ipUtilization, ipamdErrors, collectorSilent. */
  readonly alarms: cloudwatch.Alarm[] = [];
  readonly ipUtilizationAlarm?: cloudwatch.Alarm;
  readonly ipamdErrorsAlarm?: cloudwatch.Alarm;
  readonly collectorSilentAlarm?: cloudwatch.Alarm;

  private readonly metrics: CniMetricFactory;
  private readonly alarmNamePrefix: string;

  constructor(scope: Construct, id: string, props: CniMetricsAlarmsProps) {
    super(scope, id);
    this.metrics = new CniMetricFactory(props);
    this.alarmNamePrefix = props.alarmNamePrefix ?? props.clusterName;
    if (!Token.isUnresolved(this.alarmNamePrefix) && this.alarmNamePrefix.trim() === '') {
      throw new Error(
        `alarms.alarmNamePrefix must not be empty, got '${this.alarmNamePrefix}': leave it out to use the cluster name`,
      );
    }

    const ipUtilization = props.ipUtilization ?? {};
    if (ipUtilization !== false) this.ipUtilizationAlarm = this.addIpUtilizationAlarm(ipUtilization);

    // Off by default: see CniMetricsAlarmsOptions.ipamdErrors.
    const ipamdErrors = props.ipamdErrors ?? false;
    if (ipamdErrors !== false) this.ipamdErrorsAlarm = this.addIpamdErrorsAlarm(ipamdErrors);

    const collectorSilent = props.collectorSilent ?? {};
    if (collectorSilent !== false) this.collectorSilentAlarm = this.addCollectorSilentAlarm(collectorSilent);

    if (props.alarmTopic) {
      const action = new cloudwatchActions.SnsAction(props.alarmTopic);
      for (const alarm of this.alarms) {
        alarm.addAlarmAction(action);
        alarm.addOkAction(action);
      }
    }
  }

  private addIpUtilizationAlarm(options: IpUtilizationAlarmOptions): cloudwatch.Alarm {
    const thresholdPercent = options.thresholdPercent ?? DEFAULT_IP_UTILIZATION_PERCENT;
    const evaluationPeriods = options.evaluationPeriods ?? DEFAULT_IP_UTILIZATION_PERIODS;
    if (!Token.isUnresolved(thresholdPercent) && !(thresholdPercent > 0 && thresholdPercent <= 100)) {
      throw new Error(`alarms.ipUtilization.thresholdPercent must be > 0 and <= 100, got ${thresholdPercent}`);
    }
    this.validatePeriods('alarms.ipUtilization.evaluationPeriods', evaluationPeriods);

    return this.addAlarm('IpUtilization', 'alarms.ipUtilization', options.alarmNameOverride, {
      metric: this.metrics.ipUtilization(),
      threshold: thresholdPercent,
      comparisonOperator: cloudwatch.ComparisonOperator.GREATER_THAN_THRESHOLD,
      evaluationPeriods,
      // No data means the collector is silent, which its own alarm reports; say nothing here.
      treatMissingData: cloudwatch.TreatMissingData.MISSING,
      alarmDescription:
        `More than ${thresholdPercent}% of the IP addresses held by the VPC CNI are assigned to pods in ` +
        `cluster ${this.metrics.clusterName}. Add nodes or subnets, or enable prefix delegation, before pods fail to get an IP.`,
    });
  }

  private addIpamdErrorsAlarm(options: IpamdErrorsAlarmOptions): cloudwatch.Alarm {
    const threshold = options.threshold ?? DEFAULT_IPAMD_ERROR_THRESHOLD;
    if (!Token.isUnresolved(threshold) && !(Number.isInteger(threshold) && threshold >= 1)) {
      throw new Error(
        `alarms.ipamdErrors.threshold must be a whole number >= 1 (errors in one period), got ${threshold}`,
      );
    }
    return this.addAlarm('IpamdErrors', 'alarms.ipamdErrors', options.alarmNameOverride, {
      metric: this.metrics.metric('ipamdErr'),
      threshold,
      comparisonOperator: cloudwatch.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
      evaluationPeriods: 1,
      // A period without data had no errors reported; a silent collector has its own alarm.
      treatMissingData: cloudwatch.TreatMissingData.NOT_BREACHING,
      alarmDescription:
        `ipamd reported ${threshold} or more errors in one period in cluster ${this.metrics.clusterName}. ` +
        `Read the aws-node logs (ipamd.log) on the affected nodes.`,
    });
  }

  /**
   * Alarms on collectorNodesScraped: of the metrics published every cycle, it is the one that
   * says ipamd data actually arrived. The collector publishes it each cycle whose pod discovery
   * succeeds (0 when every scrape failed) and nothing at all when discovery fails, so with
   * missing data breaching, "no cycle in the period read a single node" covers a stopped
   * collector, one that cannot publish, one that cannot list aws-node pods, and one that cannot
   * reach ipamd on any node. (collectorCycleDuration would miss the last case: it is published
   * even when every scrape failed.) The collector's own pod runs on a node with aws-node, so a
   * working cluster always scrapes at least one node.
   */
  private addCollectorSilentAlarm(options: CollectorSilentAlarmOptions): cloudwatch.Alarm {
    const periods = options.periods ?? DEFAULT_SILENT_PERIODS;
    this.validatePeriods('alarms.collectorSilent.periods', periods);
    return this.addAlarm('CollectorSilent', 'alarms.collectorSilent', options.alarmNameOverride, {
      // Maximum: one good cycle in the period is enough to show the collector is working.
      metric: this.metrics.metric('collectorNodesScraped', {
        statistic: cloudwatch.Stats.MAXIMUM,
      }),
      threshold: 1,
      comparisonOperator: cloudwatch.ComparisonOperator.LESS_THAN_THRESHOLD,
      evaluationPeriods: periods,
      treatMissingData: cloudwatch.TreatMissingData.BREACHING,
      alarmDescription:
        `No node's ipamd metrics reached CloudWatch for cluster ${this.metrics.clusterName} in namespace ` +
        `${this.metrics.namespace}. Check that the collector's Deployment is running and its logs for failures ` +
        `to list aws-node pods, scrape ipamd or publish to CloudWatch.`,
    });
  }

  /** Adds the alarm `id`; `optionsPath` is where its options are, e.g. 'alarms.ipUtilization'. */
  private addAlarm(
    id: string,
    optionsPath: string,
    alarmNameOverride: string | undefined,
    props: Omit<cloudwatch.AlarmProps, 'alarmName'>,
  ): cloudwatch.Alarm {
    const alarmName = alarmNameOverride ?? `${this.alarmNamePrefix}-${ALARM_NAME_RESOURCE}-${id}`;
    if (!Token.isUnresolved(alarmName)) {
      const badLength = alarmName.trim() === '' || alarmName.length > MAX_ALARM_NAME_LENGTH;
      // CloudWatch refuses ASCII control characters in alarm names.
      const controlCharacter = /[\u0000-\u001f\u007f]/.test(alarmName);
      if (alarmNameOverride !== undefined && (badLength || controlCharacter)) {
        throw new Error(
          `${optionsPath}.alarmNameOverride ${JSON.stringify(alarmName)} is not an alarm name: CloudWatch alarm names ` +
            `are 1-${MAX_ALARM_NAME_LENGTH} characters, not blank, without control characters; fix it or leave it out`,
        );
      }
      if (badLength) {
        throw new Error(
          `Alarm name '${alarmName}' must be 1-${MAX_ALARM_NAME_LENGTH} characters and not blank: ` +
            `shorten alarms.alarmNamePrefix or the alarm's alarmNameOverride`,
        );
      }
      if (controlCharacter) {
        throw new Error(
          `Alarm name ${JSON.stringify(alarmName)} holds a control character, which CloudWatch refuses: remove it from ` +
            'alarms.alarmNamePrefix (by default the cluster name)',
        );
      }
    }
    const alarm = new cloudwatch.Alarm(this, id, { ...props, alarmName });
    this.alarms.push(alarm);
    return alarm;
  }

  private validatePeriods(propPath: string, periods: number): void {
    if (Token.isUnresolved(periods)) return;
    if (!Number.isInteger(periods) || periods < 1) {
      throw new Error(`${propPath} must be a whole number >= 1, got ${periods}`);
    }
    if (this.metrics.period.isUnresolved()) return;
    const periodSeconds = this.metrics.period.toSeconds({ integral: false });
    if (periodSeconds > MAX_EVALUATION_WINDOW.toSeconds()) {
      // Not the number of periods' fault: even one period is too long.
      throw new Error(
        `period is ${this.metrics.period.toHumanString()}: CloudWatch alarms look back at most one day, so use a ` +
          'period of at most Duration.days(1), or turn the alarms off (`alarms: false`) to keep the longer period on the dashboard',
      );
    }
    const window = periodSeconds * periods;
    if (window > MAX_EVALUATION_WINDOW.toSeconds()) {
      const maxPeriods = Math.floor(MAX_EVALUATION_WINDOW.toSeconds() / periodSeconds);
      throw new Error(
        `${propPath} is ${periods}, so the alarm would look back ${window / 3600} hours: CloudWatch allows ` +
          `at most one day, so use at most ${maxPeriods} periods of ${this.metrics.period.toHumanString()}`,
      );
    }
  }
}

/**
 * CloudWatch alarms on the CNI metrics: IP utilization, ipamd errors, a collector that has gone
 * silent, a subnet running out of addresses and the fullest node. Their metrics come from the same factory as the dashboard's.
 */
import * as cloudwatch from 'aws-cdk-lib/aws-cloudwatch';
import * as cloudwatchActions from 'aws-cdk-lib/aws-cloudwatch-actions';
import * as sns from 'aws-cdk-lib/aws-sns';
import { Construct } from 'constructs';
import { CniMetricFactory, CniMetricFactoryProps } from './metric-factory';
import { ResolvedAlarms, validateAlarmsOptions } from './private/alarm-options';

export interface IpUtilizationAlarmOptions {
  /**
   * Create this alarm.
   *
   * @default true
   */
  readonly enabled?: boolean;

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
   * Create this alarm. Off by default: ipamd counts errors it retries through on its own (EC2
   * throttling, an IP in cooldown), so busy clusters see some in normal operation.
   *
   * @default false
   */
  readonly enabled?: boolean;

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
   * Create this alarm. It watches a metric only this package's collector publishes, so
   * `CniMetricsHelper` creates it only when it deploys the collector.
   *
   * @default - true; through CniMetricsHelper, true when it deploys the collector
   */
  readonly enabled?: boolean;

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

export interface MinSubnetAvailableIpsAlarmOptions {
  /**
   * Create this alarm. It watches a metric the collector publishes only when it watches subnets,
   * so `CniMetricsHelper` creates it only with subnet metrics on.
   *
   * @default - false; through CniMetricsHelper, true when subnet metrics are on
   */
  readonly enabled?: boolean;

  /**
   * Alarm when the fewest free IPv4 addresses in any watched subnet are below this, in IP addresses.
   *
   * @default 100
   */
  readonly thresholdIps?: number;

  /**
   * Consecutive periods the figure must be below the threshold before the alarm fires.
   *
   * @default 1
   */
  readonly evaluationPeriods?: number;

  /**
   * Name of the alarm.
   *
   * @default - `<alarmNamePrefix>-CNI-MinSubnetAvailableIps`
   */
  readonly alarmNameOverride?: string;
}

export interface MaxNodeIpUtilizationAlarmOptions {
  /**
   * Create this alarm. Off by default: one full node is normal where pods are packed densely;
   * turn it on where a full node means pods stuck in ContainerCreating.
   *
   * @default false
   */
  readonly enabled?: boolean;

  /**
   * Alarm when the fullest node has more than this share of its maximum IPs assigned to pods, in percent.
   *
   * @default 90
   */
  readonly thresholdPercent?: number;

  /**
   * Consecutive periods the figure must be above the threshold before the alarm fires.
   *
   * @default 3
   */
  readonly evaluationPeriods?: number;

  /**
   * Name of the alarm.
   *
   * @default - `<alarmNamePrefix>-CNI-MaxNodeIpUtilization`
   */
  readonly alarmNameOverride?: string;
}

export interface CniMetricsAlarmsOptions {
  /**
   * Alarm on IP utilization (assigned / total IPs ipamd holds, in percent): the warm pools are
   * running dry, which is how running out of pod IPs starts (ipamd cannot grow a pool on a full
   * node or subnet). With a small WARM_IP_TARGET the ratio runs high in normal operation; raise
   * the threshold then. `{ enabled: false }` turns it off.
   *
   * @default - on, above 80% for 3 periods
   */
  readonly ipUtilization?: IpUtilizationAlarmOptions;

  /**
   * Alarm on errors inside ipamd. Off unless given: ipamd counts errors it retries through on
   * its own (EC2 throttling, an IP in cooldown), so busy clusters see some in normal operation
   * and a default threshold would alert on noise. Pass `{ enabled: true }` for threshold 1; the
   * errors are on the dashboard either way.
   *
   * @default - no alarm
   */
  readonly ipamdErrors?: IpamdErrorsAlarmOptions;

  /**
   * Alarm when no node's ipamd metrics arrive: the collector is not running, cannot list aws-node
   * pods, cannot reach ipamd on any node, or cannot publish (or publishes under another namespace
   * or cluster name). `{ enabled: false }` turns it off.
   *
   * @default - on, after 3 silent periods
   */
  readonly collectorSilent?: CollectorSilentAlarmOptions;

  /**
   * Alarm when the fewest free IPv4 addresses in any watched subnet (`minSubnetAvailableIPs`) fall
   * below a threshold: ipamd cannot grow a warm pool from an exhausted subnet, and new pods then
   * get no IP. Needs the collector to watch subnets (the helper's `subnetMetrics`).
   *
   * @default - through CniMetricsHelper, on (below 100 IPs) when subnet metrics are on; otherwise no alarm
   */
  readonly minSubnetAvailableIps?: MinSubnetAvailableIpsAlarmOptions;

  /**
   * Alarm when the fullest node's IP utilization (`maxNodeIPUtilization`: 100 × assigned / maximum
   * IPs of one node) is above a threshold: that node can take few more pods.
   *
   * @default - no alarm
   */
  readonly maxNodeIpUtilization?: MaxNodeIpUtilizationAlarmOptions;

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

/** CloudWatch alarms on the CNI metrics of one cluster. */
export class CniMetricsAlarms extends Construct {
  /** Every alarm created, in the order ipUtilization, ipamdErrors, collectorSilent, minSubnetAvailableIps, maxNodeIpUtilization. */
  public readonly alarms: cloudwatch.Alarm[] = [];
  public readonly ipUtilizationAlarm?: cloudwatch.Alarm;
  public readonly ipamdErrorsAlarm?: cloudwatch.Alarm;
  public readonly collectorSilentAlarm?: cloudwatch.Alarm;
  public readonly minSubnetAvailableIpsAlarm?: cloudwatch.Alarm;
  public readonly maxNodeIpUtilizationAlarm?: cloudwatch.Alarm;

  private readonly metrics: CniMetricFactory;

  constructor(scope: Construct, id: string, props: CniMetricsAlarmsProps) {
    super(scope, id);
    // The factory first: it checks the cluster name, which the alarm names are made of.
    this.metrics = new CniMetricFactory(props);
    const resolved = validateAlarmsOptions(this, props, '');

    if (resolved.ipUtilization) this.ipUtilizationAlarm = this.addIpUtilizationAlarm(resolved.ipUtilization);
    if (resolved.ipamdErrors) this.ipamdErrorsAlarm = this.addIpamdErrorsAlarm(resolved.ipamdErrors);
    if (resolved.collectorSilent) this.collectorSilentAlarm = this.addCollectorSilentAlarm(resolved.collectorSilent);
    if (resolved.minSubnetAvailableIps) this.minSubnetAvailableIpsAlarm = this.addMinSubnetAvailableIpsAlarm(resolved.minSubnetAvailableIps);
    if (resolved.maxNodeIpUtilization) this.maxNodeIpUtilizationAlarm = this.addMaxNodeIpUtilizationAlarm(resolved.maxNodeIpUtilization);

    if (props.alarmTopic) {
      const action = new cloudwatchActions.SnsAction(props.alarmTopic);
      for (const alarm of this.alarms) {
        alarm.addAlarmAction(action);
        alarm.addOkAction(action);
      }
    }
  }

  private addIpUtilizationAlarm({ thresholdPercent, evaluationPeriods, alarmName }: NonNullable<ResolvedAlarms['ipUtilization']>): cloudwatch.Alarm {
    return this.addAlarm('IpUtilization', alarmName, {
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

  private addIpamdErrorsAlarm({ threshold, alarmName }: NonNullable<ResolvedAlarms['ipamdErrors']>): cloudwatch.Alarm {
    return this.addAlarm('IpamdErrors', alarmName, {
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
  private addCollectorSilentAlarm({ periods, alarmName }: NonNullable<ResolvedAlarms['collectorSilent']>): cloudwatch.Alarm {
    return this.addAlarm('CollectorSilent', alarmName, {
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

  private addMinSubnetAvailableIpsAlarm({ thresholdIps, evaluationPeriods, alarmName }: NonNullable<ResolvedAlarms['minSubnetAvailableIps']>): cloudwatch.Alarm {
    return this.addAlarm('MinSubnetAvailableIps', alarmName, {
      metric: this.metrics.metric('minSubnetAvailableIPs'),
      threshold: thresholdIps,
      comparisonOperator: cloudwatch.ComparisonOperator.LESS_THAN_THRESHOLD,
      evaluationPeriods,
      // The collector stops publishing stale subnet figures after failed refreshes (subnetRefreshErrors
      // on the dashboard) and a stopped collector has its own alarm: no data says nothing here.
      treatMissingData: cloudwatch.TreatMissingData.MISSING,
      alarmDescription:
        `A subnet that pods of cluster ${this.metrics.clusterName} draw IPs from has fewer than ${thresholdIps} free IPv4 addresses. ` +
        'Add subnets (custom networking or a secondary CIDR), enable prefix delegation, or free addresses before new pods get none.',
    });
  }

  private addMaxNodeIpUtilizationAlarm({ thresholdPercent, evaluationPeriods, alarmName }: NonNullable<ResolvedAlarms['maxNodeIpUtilization']>): cloudwatch.Alarm {
    return this.addAlarm('MaxNodeIpUtilization', alarmName, {
      metric: this.metrics.metric('maxNodeIPUtilization'),
      threshold: thresholdPercent,
      comparisonOperator: cloudwatch.ComparisonOperator.GREATER_THAN_THRESHOLD,
      evaluationPeriods,
      treatMissingData: cloudwatch.TreatMissingData.MISSING,
      alarmDescription:
        `A node of cluster ${this.metrics.clusterName} has more than ${thresholdPercent}% of its maximum IPs assigned to pods. ` +
        'Pods scheduled there will soon get no IP: add nodes, use larger instance types, or enable prefix delegation.',
    });
  }

  private addAlarm(id: string, alarmName: string, props: cloudwatch.AlarmProps): cloudwatch.Alarm {
    const alarm = new cloudwatch.Alarm(this, id, { ...props, alarmName });
    this.alarms.push(alarm);
    return alarm;
  }
}

import { App, Duration, Stack } from 'aws-cdk-lib';
import { Match, Template } from 'aws-cdk-lib/assertions';
import * as cloudwatch from 'aws-cdk-lib/aws-cloudwatch';
import * as sns from 'aws-cdk-lib/aws-sns';
import { CniMetricsAlarms, CniMetricsAlarmsProps } from '../../lib/cni-metrics-alarms';

const CLUSTER = 'prod-eks';
const ALARM = 'AWS::CloudWatch::Alarm';
const CLUSTER_DIMENSIONS = [{ Name: 'CLUSTER_ID', Value: CLUSTER }];

function synth(props: Partial<CniMetricsAlarmsProps> = {}): { template: Template; alarms: CniMetricsAlarms; stack: Stack } {
  const stack = new Stack(new App(), 'Stack');
  const alarms = new CniMetricsAlarms(stack, 'CniAlarms', { clusterName: CLUSTER, ...props });
  return { template: Template.fromStack(stack), alarms, stack };
}

/** The default alarms, synthesized once for the tests that only read them. */
let defaultAlarms: ReturnType<typeof synth> | undefined;
function synthDefault(): ReturnType<typeof synth> {
  defaultAlarms ??= synth();
  return defaultAlarms;
}

function alarmNames(template: Template): string[] {
  return Object.values(template.findResources(ALARM)).map((r) => r.Properties.AlarmName).sort();
}

describe('CniMetricsAlarms', () => {
  test('by default creates the IP utilization and collector silent alarms, not the ipamd errors one', () => {
    const { template, alarms } = synthDefault();

    expect(alarmNames(template)).toEqual(['prod-eks-CNI-CollectorSilent', 'prod-eks-CNI-IpUtilization']);
    expect(alarms.alarms).toHaveLength(2);
    expect(alarms.alarms).toEqual([alarms.ipUtilizationAlarm, alarms.collectorSilentAlarm]);
    expect(alarms.ipamdErrorsAlarm).toBeUndefined();
  });

  describe('IP utilization', () => {
    test('alarms on assigned over total IPs above 80% for 3 periods, both read with Average', () => {
      const { template } = synthDefault();

      template.hasResourceProperties(ALARM, {
        AlarmName: 'prod-eks-CNI-IpUtilization',
        AlarmDescription: Match.stringLikeRegexp('^More than 80% of the IP addresses held by the VPC CNI are assigned to pods in cluster prod-eks\\.'),
        ComparisonOperator: 'GreaterThanThreshold',
        Threshold: 80,
        EvaluationPeriods: 3,
        TreatMissingData: 'missing',
        Metrics: [
          Match.objectLike({ Expression: '100 * assignIPAddresses / totalIPAddresses', ReturnData: true }),
          {
            Id: 'assignIPAddresses',
            ReturnData: false,
            MetricStat: {
              Metric: { Namespace: 'Kubernetes', MetricName: 'assignIPAddresses', Dimensions: CLUSTER_DIMENSIONS },
              Period: 300,
              Stat: 'Average',
            },
          },
          {
            Id: 'totalIPAddresses',
            ReturnData: false,
            MetricStat: {
              Metric: { Namespace: 'Kubernetes', MetricName: 'totalIPAddresses', Dimensions: CLUSTER_DIMENSIONS },
              Period: 300,
              Stat: 'Average',
            },
          },
        ],
      });
    });

    test('takes the threshold and evaluation periods given', () => {
      const { template } = synth({ ipUtilization: { thresholdPercent: 92.5, evaluationPeriods: 6 } });

      template.hasResourceProperties(ALARM, {
        AlarmName: 'prod-eks-CNI-IpUtilization',
        Threshold: 92.5,
        EvaluationPeriods: 6,
        AlarmDescription: Match.stringLikeRegexp('^More than 92.5% '),
      });
    });

    test('enabled: false leaves it out', () => {
      const { template, alarms } = synth({ ipUtilization: { enabled: false } });

      expect(alarmNames(template)).toEqual(['prod-eks-CNI-CollectorSilent']);
      expect(alarms.ipUtilizationAlarm).toBeUndefined();
    });
  });

  describe('ipamd errors', () => {
    test('enabled: true turns it on: Sum of ipamdErr at least 1 in one period, no data not breaching', () => {
      const { template, alarms } = synth({ ipamdErrors: { enabled: true } });

      expect(alarms.alarms).toHaveLength(3);
      template.hasResourceProperties(ALARM, {
        AlarmName: 'prod-eks-CNI-IpamdErrors',
        AlarmDescription: Match.stringLikeRegexp('^ipamd reported 1 or more errors in one period in cluster prod-eks\\.'),
        Namespace: 'Kubernetes',
        MetricName: 'ipamdErr',
        Dimensions: CLUSTER_DIMENSIONS,
        Statistic: 'Sum',
        Period: 300,
        ComparisonOperator: 'GreaterThanOrEqualToThreshold',
        Threshold: 1,
        EvaluationPeriods: 1,
        TreatMissingData: 'notBreaching',
      });
    });

    test('takes the threshold given', () => {
      const { template } = synth({ ipamdErrors: { enabled: true, threshold: 5 } });
      template.hasResourceProperties(ALARM, { MetricName: 'ipamdErr', Threshold: 5 });
    });

    test('an options object without enabled: true leaves it out, as omitting it does', () => {
      expect(alarmNames(synth({ ipamdErrors: { threshold: 5 } }).template)).toEqual(alarmNames(synthDefault().template));
    });
  });

  describe('collector silent', () => {
    test('alarms when no node was scraped in 3 periods, with missing data breaching', () => {
      const { template } = synthDefault();

      template.hasResourceProperties(ALARM, {
        AlarmName: 'prod-eks-CNI-CollectorSilent',
        AlarmDescription: Match.stringLikeRegexp("^No node's ipamd metrics reached CloudWatch for cluster prod-eks in namespace Kubernetes\\."),
        Namespace: 'Kubernetes',
        MetricName: 'collectorNodesScraped',
        Dimensions: CLUSTER_DIMENSIONS,
        Statistic: 'Maximum',
        Period: 300,
        ComparisonOperator: 'LessThanThreshold',
        Threshold: 1,
        EvaluationPeriods: 3,
        TreatMissingData: 'breaching',
      });
    });

    test('takes the number of periods given, and follows the factory namespace and period', () => {
      const { template } = synth({ collectorSilent: { periods: 10 }, namespace: 'Platform/CNI', period: Duration.minutes(1) });

      template.hasResourceProperties(ALARM, {
        MetricName: 'collectorNodesScraped',
        Namespace: 'Platform/CNI',
        Period: 60,
        EvaluationPeriods: 10,
      });
    });

    test('enabled: false leaves it out', () => {
      expect(alarmNames(synth({ collectorSilent: { enabled: false } }).template)).toEqual(['prod-eks-CNI-IpUtilization']);
    });
  });

  describe('min subnet available IPs', () => {
    test('off unless enabled (a standalone CniMetricsAlarms cannot tell whether subnets are watched)', () => {
      expect(synthDefault().alarms.minSubnetAvailableIpsAlarm).toBeUndefined();
      expect(alarmNames(synth({ minSubnetAvailableIps: { thresholdIps: 5 } }).template)).toEqual(alarmNames(synthDefault().template));
    });

    test('enabled: true alarms on Minimum of minSubnetAvailableIPs below 100 for 1 period, missing data ignored', () => {
      const { template, alarms } = synth({ minSubnetAvailableIps: { enabled: true } });

      expect(alarms.alarms).toEqual([alarms.ipUtilizationAlarm, alarms.collectorSilentAlarm, alarms.minSubnetAvailableIpsAlarm]);
      template.hasResourceProperties(ALARM, {
        AlarmName: 'prod-eks-CNI-MinSubnetAvailableIps',
        AlarmDescription: Match.stringLikeRegexp('^A subnet that pods of cluster prod-eks draw IPs from has fewer than 100 free IPv4 addresses\\.'),
        Namespace: 'Kubernetes',
        MetricName: 'minSubnetAvailableIPs',
        Dimensions: CLUSTER_DIMENSIONS,
        Statistic: 'Minimum',
        Period: 300,
        ComparisonOperator: 'LessThanThreshold',
        Threshold: 100,
        EvaluationPeriods: 1,
        TreatMissingData: 'missing',
      });
    });

    test('takes the threshold, periods and name given', () => {
      const { template } = synth({ minSubnetAvailableIps: { enabled: true, thresholdIps: 250, evaluationPeriods: 2, alarmNameOverride: 'subnets-low' } });
      template.hasResourceProperties(ALARM, { AlarmName: 'subnets-low', MetricName: 'minSubnetAvailableIPs', Threshold: 250, EvaluationPeriods: 2 });
    });

    test.each([0, 1.5, -3])('a threshold of %s IPs fails naming the prop', (thresholdIps) => {
      expect(() => synth({ minSubnetAvailableIps: { enabled: true, thresholdIps } })).toThrow(
        `cni-metrics-helper: minSubnetAvailableIps.thresholdIps: must be a whole number >= 1 (free IP addresses), got ${thresholdIps} — e.g. 100`,
      );
    });
  });

  describe('max node IP utilization (the fullest node)', () => {
    test('off by default', () => {
      expect(synthDefault().alarms.maxNodeIpUtilizationAlarm).toBeUndefined();
    });

    test('enabled: true alarms on Maximum of maxNodeIPUtilization above 90% for 3 periods', () => {
      const { template, alarms } = synth({ maxNodeIpUtilization: { enabled: true } });

      expect(alarms.alarms[alarms.alarms.length - 1]).toBe(alarms.maxNodeIpUtilizationAlarm);
      template.hasResourceProperties(ALARM, {
        AlarmName: 'prod-eks-CNI-MaxNodeIpUtilization',
        MetricName: 'maxNodeIPUtilization',
        Dimensions: CLUSTER_DIMENSIONS,
        Statistic: 'Maximum',
        ComparisonOperator: 'GreaterThanThreshold',
        Threshold: 90,
        EvaluationPeriods: 3,
        TreatMissingData: 'missing',
      });
    });

    test.each([0, 101])('a threshold of %s%% fails naming the prop', (thresholdPercent) => {
      expect(() => synth({ maxNodeIpUtilization: { enabled: true, thresholdPercent } })).toThrow(
        `cni-metrics-helper: maxNodeIpUtilization.thresholdPercent: must be > 0 and <= 100, got ${thresholdPercent} — e.g. 90`,
      );
    });

    test('periods beyond a day fail naming the prop', () => {
      expect(() => synth({ maxNodeIpUtilization: { enabled: true, evaluationPeriods: 289 } })).toThrow(
        /^cni-metrics-helper: maxNodeIpUtilization.evaluationPeriods: is 289, .*use at most 288 periods/,
      );
    });
  });

  test('with every alarm turned off, no alarm is created', () => {
    // GIVEN / WHEN (no Template here: CloudFormation validation warns about an empty stack)
    const stack = new Stack(new App(), 'Stack');
    const alarms = new CniMetricsAlarms(stack, 'CniAlarms', {
      clusterName: CLUSTER, ipUtilization: { enabled: false }, ipamdErrors: { enabled: false }, collectorSilent: { enabled: false },
    });
    // THEN
    expect(alarms.alarms).toEqual([]);
    expect(stack.node.findAll().filter((c) => c instanceof cloudwatch.CfnAlarm)).toEqual([]);
  });

  describe('notifications', () => {
    test('an alarm topic is notified on alarm and on OK by every alarm', () => {
      // GIVEN
      const stack = new Stack(new App(), 'Stack');
      const topic = new sns.Topic(stack, 'OnCall');
      // WHEN
      new CniMetricsAlarms(stack, 'CniAlarms', { clusterName: CLUSTER, ipamdErrors: { enabled: true }, alarmTopic: topic });
      // THEN
      const template = Template.fromStack(stack);
      const topicRef = { Ref: stack.getLogicalId(topic.node.defaultChild as sns.CfnTopic) };
      const alarms = Object.values(template.findResources(ALARM));
      expect(alarms).toHaveLength(3);
      for (const alarm of alarms) {
        expect(alarm.Properties.AlarmActions).toEqual([topicRef]);
        expect(alarm.Properties.OKActions).toEqual([topicRef]);
      }
    });

    test('without a topic no alarm has actions', () => {
      const { template } = synth({ ipamdErrors: { enabled: true } });
      const alarms = Object.values(template.findResources(ALARM));
      expect(alarms).toHaveLength(3);
      for (const alarm of alarms) {
        expect(alarm.Properties.AlarmActions).toBeUndefined();
        expect(alarm.Properties.OKActions).toBeUndefined();
      }
    });
  });

  describe('alarm names', () => {
    test('a prefix replaces the cluster name', () => {
      expect(alarmNames(synth({ alarmNamePrefix: 'team-a', ipamdErrors: { enabled: true } }).template)).toEqual([
        'team-a-CNI-CollectorSilent',
        'team-a-CNI-IpUtilization',
        'team-a-CNI-IpamdErrors',
      ]);
    });

    test('an override names one alarm exactly', () => {
      const { template } = synth({
        ipUtilization: { alarmNameOverride: 'pod-ips-running-out' },
        ipamdErrors: { enabled: true, alarmNameOverride: 'ipamd-errors' },
        collectorSilent: { alarmNameOverride: 'cni-collector-down' },
      });
      expect(alarmNames(template)).toEqual(['cni-collector-down', 'ipamd-errors', 'pod-ips-running-out']);
    });
  });

  describe('validation', () => {
    test.each([120, 0, -5, Number.NaN])('an IP utilization threshold of %s fails naming the prop', (thresholdPercent) => {
      expect(() => synth({ ipUtilization: { thresholdPercent } })).toThrow(
        `cni-metrics-helper: ipUtilization.thresholdPercent: must be > 0 and <= 100, got ${thresholdPercent} — e.g. 80`,
      );
    });

    test('a threshold of exactly 100% is accepted', () => {
      synth({ ipUtilization: { thresholdPercent: 100 } }).template.hasResourceProperties(ALARM, { Threshold: 100 });
    });

    test.each([0, 1.5, -1])('IP utilization evaluation periods of %s fail naming the prop', (evaluationPeriods) => {
      expect(() => synth({ ipUtilization: { evaluationPeriods } })).toThrow(
        `cni-metrics-helper: ipUtilization.evaluationPeriods: must be a whole number >= 1, got ${evaluationPeriods} — e.g. 3`,
      );
    });

    test('evaluation periods that look back more than a day fail with the largest allowed', () => {
      expect(() => synth({ ipUtilization: { evaluationPeriods: 289 } })).toThrow(
        'cni-metrics-helper: ipUtilization.evaluationPeriods: is 289, so the alarm would look back 24.083333333333332 hours; ' +
          'CloudWatch allows at most one day — use at most 288 periods of 5 minutes',
      );
      expect(() => synth({ ipUtilization: { evaluationPeriods: 288 } })).not.toThrow();
    });

    test.each([0, 2.5])('an ipamd error threshold of %s fails naming the prop', (threshold) => {
      expect(() => synth({ ipamdErrors: { enabled: true, threshold } })).toThrow(
        `cni-metrics-helper: ipamdErrors.threshold: must be a whole number >= 1 (errors in one period), got ${threshold} — e.g. 1`,
      );
    });

    test.each([0, 0.5])('collector silent periods of %s fail naming the prop', (periods) => {
      expect(() => synth({ collectorSilent: { periods } })).toThrow(
        `cni-metrics-helper: collectorSilent.periods: must be a whole number >= 1, got ${periods} — e.g. 3`,
      );
    });

    test('collector silent periods beyond a day fail for the factory period', () => {
      expect(() => synth({ collectorSilent: { periods: 25 }, period: Duration.hours(1) })).toThrow(
        /^cni-metrics-helper: collectorSilent\.periods: is 25, .* — use at most 24 periods of 1 hour$/,
      );
    });

    test('an empty alarm name prefix fails and says how to fix it', () => {
      expect(() => synth({ alarmNamePrefix: ' ' })).toThrow(
        'cni-metrics-helper: alarmNamePrefix: must not be empty, got " " — leave it out to use the cluster name',
      );
    });

    test('an alarm name over 255 characters fails', () => {
      expect(() => synth({ alarmNamePrefix: 'p'.repeat(250) })).toThrow(
        /^cni-metrics-helper: alarmNamePrefix: makes the alarm name "p+-CNI-IpUtilization", which must be a CloudWatch alarm name \(1-255 characters, not blank, no control characters\) — shorten or clean alarmNamePrefix \(by default the cluster name\), or give ipUtilization\.alarmNameOverride$/,
      );
    });

    test('an empty cluster name fails before any alarm is made', () => {
      expect(() => synth({ clusterName: '' })).toThrow(/^cni-metrics-helper: clusterName: must be an EKS cluster name .*, got "" — /);
    });
  });

  describe('region', () => {
    test('alarms on metrics of the stack\'s own region carry it and synthesize', () => {
      const stack = new Stack(new App(), 'Stack', { env: { region: 'eu-west-1' } });
      new CniMetricsAlarms(stack, 'CniAlarms', { clusterName: CLUSTER, region: 'eu-west-1' });
      expect(Object.keys(Template.fromStack(stack).findResources(ALARM))).toHaveLength(2);
    });

    test('a region other than the stack\'s fails: CloudWatch alarms watch their own region only', () => {
      const stack = new Stack(new App(), 'Stack', { env: { region: 'eu-west-1' } });
      expect(() => new CniMetricsAlarms(stack, 'CniAlarms', { clusterName: CLUSTER, region: 'us-east-1' })).toThrow(
        /^cni-metrics-helper: region: is us-east-1, but the alarms are created in eu-west-1 .* — create the alarms in a stack of region us-east-1$/,
      );
    });
  });
});

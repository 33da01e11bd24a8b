import { App, CfnParameter, Duration, Stack } from 'aws-cdk-lib';
import * as cloudwatch from 'aws-cdk-lib/aws-cloudwatch';
import { CATALOG, CLUSTER_DIMENSION } from '../../common/catalog';
import { CniMetricFactory, defaultStatistic } from '../../lib/metric-factory';

/** What the collector's publishing calls for, restated here so the test checks the factory's table. */
const EXPECTED_HEALTH_STATISTICS: Record<string, string> = {
  collectorNodesDiscovered: 'Average',
  collectorNodesScraped: 'Average',
  collectorNodesFailed: 'Maximum',
  collectorCycleDuration: 'Maximum',
  collectorDatumsDropped: 'Sum',
  collectorSeriesDropped: 'Sum',
  collectorNonFiniteDropped: 'Sum',
};

/** The catalog entries with `aggregation`; never empty, so a loop over them cannot pass vacuously. */
function entriesWith(aggregation: string): typeof CATALOG[number][] {
  const entries = CATALOG.filter((m) => m.aggregation === aggregation);
  expect(entries.length).toBeGreaterThan(0);
  return entries;
}

describe('defaultStatistic', () => {
  test('reads gauges with Average, never Sum', () => {
    for (const entry of entriesWith('gaugeSum')) {
      expect([entry.metricName, defaultStatistic(entry)]).toEqual([entry.metricName, 'Average']);
    }
  });

  test('reads the per-node free-IP minimum with Minimum: the tightest moment of the period', () => {
    for (const entry of entriesWith('minAvailableIps')) {
      expect([entry.metricName, defaultStatistic(entry)]).toEqual([entry.metricName, 'Minimum']);
    }
  });

  test('reads counter deltas with Sum, so a period shows its increase', () => {
    for (const entry of entriesWith('counterDelta')) {
      expect([entry.metricName, defaultStatistic(entry)]).toEqual([entry.metricName, 'Sum']);
    }
  });

  test('reads mean latency with Average and the largest p99 with Maximum', () => {
    for (const entry of entriesWith('latencyMean')) {
      expect(defaultStatistic(entry)).toBe('Average');
    }
    for (const entry of entriesWith('latencyMaxP99')) {
      expect(defaultStatistic(entry)).toBe('Maximum');
    }
  });

  test('reads each collector health metric with its own statistic', () => {
    const health = entriesWith('health');
    expect(health.map((m) => m.metricName).sort()).toEqual(Object.keys(EXPECTED_HEALTH_STATISTICS).sort());
    for (const entry of health) {
      expect([entry.metricName, defaultStatistic(entry)]).toEqual([entry.metricName, EXPECTED_HEALTH_STATISTICS[entry.metricName]]);
    }
  });
});

describe('CniMetricFactory', () => {
  test('builds a catalog metric with the default namespace, the cluster dimension and a 5-minute period', () => {
    const metric = new CniMetricFactory({ clusterName: 'prod' }).metric('assignIPAddresses');

    expect(metric.namespace).toBe('Kubernetes');
    expect(metric.metricName).toBe('assignIPAddresses');
    expect(metric.dimensions).toEqual({ [CLUSTER_DIMENSION]: 'prod' });
    expect(metric.period.toSeconds()).toBe(300);
    expect(metric.statistic).toBe('Average');
    expect(metric.label).toBeUndefined();
  });

  test('every catalog metric gets the statistic its aggregation calls for', () => {
    const factory = new CniMetricFactory({ clusterName: 'prod' });
    for (const entry of CATALOG) {
      expect(factory.metric(entry.metricName).statistic).toBe(defaultStatistic(entry));
    }
  });

  test('takes the namespace and period given', () => {
    const metric = new CniMetricFactory({ clusterName: 'prod', namespace: 'Platform/CNI', period: Duration.minutes(1) })
      .metric('ipamdErr');

    expect(metric.namespace).toBe('Platform/CNI');
    expect(metric.period.toSeconds()).toBe(60);
    expect(metric.statistic).toBe('Sum');
  });

  test('per-metric options override statistic, period and label', () => {
    const metric = new CniMetricFactory({ clusterName: 'prod' }).metric('minAvailableIPsPerNode', {
      statistic: cloudwatch.Stats.MINIMUM,
      period: Duration.hours(1),
      label: 'Fewest free IPs on a node',
    });

    expect(metric.statistic).toBe('Minimum');
    expect(metric.period.toSeconds()).toBe(3600);
    expect(metric.label).toBe('Fewest free IPs on a node');
  });

  test('a name that is not in the catalog fails with the known names', () => {
    const factory = new CniMetricFactory({ clusterName: 'prod' });
    expect(() => factory.metric('assignedIPs')).toThrow(/Unknown catalog metric 'assignedIPs'; known: .*assignIPAddresses/);
  });

  test('IP utilization is assigned over total IPs in percent, labelled with its unit', () => {
    const utilization = new CniMetricFactory({ clusterName: 'prod' }).ipUtilization();

    expect(utilization.expression).toBe('100 * assignIPAddresses / totalIPAddresses');
    expect(utilization.label).toBe('IP utilization (%)');
    expect(utilization.period.toSeconds()).toBe(300);
    const used = Object.entries(utilization.usingMetrics).map(([id, m]) => [id, (m as cloudwatch.Metric).metricName, (m as cloudwatch.Metric).statistic]);
    expect(used).toEqual([
      ['assignIPAddresses', 'assignIPAddresses', 'Average'],
      ['totalIPAddresses', 'totalIPAddresses', 'Average'],
    ]);
  });

  test('ENI utilization is allocated over attachable ENIs in percent', () => {
    const utilization = new CniMetricFactory({ clusterName: 'prod' }).eniUtilization('ENIs %');

    expect(utilization.expression).toBe('100 * eniAllocated / eniMaxAvailable');
    expect(utilization.label).toBe('ENIs %');
    expect(Object.keys(utilization.usingMetrics)).toEqual(['eniAllocated', 'eniMaxAvailable']);
  });

  describe('validation', () => {
    test.each(['', '   ', 'my cluster!'])('a cluster name %j that is no EKS cluster name fails and says what to pass', (clusterName) => {
      expect(() => new CniMetricFactory({ clusterName })).toThrow(
        /^cni-metrics-helper: clusterName: must be an EKS cluster name .*, got ".*" — pass the EKS cluster's name \(the collector's AWS_CLUSTER_ID\)/,
      );
    });

    test('a cluster name that is a token is accepted as it is', () => {
      // GIVEN a cluster name only known at deploy time
      const stack = new Stack(new App(), 'Stack');
      const clusterName = new CfnParameter(stack, 'ClusterName').valueAsString;
      // THEN
      expect(new CniMetricFactory({ clusterName }).metric('eniAllocated').dimensions).toEqual({ CLUSTER_ID: clusterName });
    });

    test('a namespace reserved for AWS fails', () => {
      expect(() => new CniMetricFactory({ clusterName: 'prod', namespace: 'AWS/EKS' })).toThrow(
        /^cni-metrics-helper: namespace: must not start with 'AWS\/', which CloudWatch reserves for AWS services, got "AWS\/EKS" — use the collector's CLOUDWATCH_NAMESPACE, by default 'Kubernetes'/,
      );
    });

    test.each([
      ['blank', ' ', /must not be blank/],
      ['too long', 'N'.repeat(256), /must be 1 to 255 characters long, got 256/],
      ['with a control character', 'Kube\nrnetes', /must be printable ASCII/],
      ['not ASCII', 'Kubernetés', /must be printable ASCII/],
    ])('a namespace that is %s fails with the rule', (_what, namespace, rule) => {
      expect(() => new CniMetricFactory({ clusterName: 'prod', namespace })).toThrow(/^cni-metrics-helper: namespace: /);
      expect(() => new CniMetricFactory({ clusterName: 'prod', namespace })).toThrow(rule);
    });

    test.each([
      ['30 seconds', Duration.seconds(30)],
      ['1 minute 30 seconds', Duration.seconds(90)],
      ['1 second 500 millis', Duration.millis(1500)],
    ])('a period of %s, not a whole number of minutes, fails', (shown, period) => {
      expect(() => new CniMetricFactory({ clusterName: 'prod', period })).toThrow(
        `cni-metrics-helper: period: must be a whole number of minutes (the collector publishes at standard, one-minute resolution), got ${shown} — use e.g.`,
      );
    });

    test('a period of whole minutes is accepted', () => {
      expect(new CniMetricFactory({ clusterName: 'prod', period: Duration.minutes(15) }).period.toMinutes()).toBe(15);
    });
  });
});

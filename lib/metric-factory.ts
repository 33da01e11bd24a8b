/**
 * Turns the metric catalog into CloudWatch metrics for the dashboard and the alarms.
 *
 * One place decides, from each catalog entry's aggregation, which statistic reads the collector's
 * data correctly, so that a widget and an alarm on the same metric always agree.
 */
import { Duration, Token } from 'aws-cdk-lib';
import * as cloudwatch from 'aws-cdk-lib/aws-cloudwatch';
import { CATALOG, CLUSTER_DIMENSION, CatalogMetric, DEFAULT_NAMESPACE, catalogMetric } from '../common/catalog';
import { cloudWatchNamespaceProblem, eksClusterNameProblem } from '../common/naming';
import { ValidationError, withValue } from './private/errors';

/** The metric period the factory uses unless told otherwise. */
const DEFAULT_METRIC_PERIOD = Duration.minutes(5);

export interface CniMetricFactoryProps {
  /**
   * Name of the EKS cluster: the value of the `CLUSTER_ID` dimension the collector publishes
   * (its `AWS_CLUSTER_ID` setting).
   */
  readonly clusterName: string;

  /**
   * CloudWatch namespace the collector publishes to.
   *
   * @default 'Kubernetes'
   */
  readonly namespace?: string;

  /**
   * Period over which every metric is aggregated.
   *
   * Must be a whole number of minutes: the collector publishes at standard resolution, which
   * CloudWatch keeps at one-minute granularity.
   *
   * @default Duration.minutes(5)
   */
  readonly period?: Duration;

  /**
   * The region the collector publishes to: every metric carries it, so a dashboard in another
   * region still reads the cluster's metrics. Alarms can only watch metrics of their own region.
   *
   * @default - the region of the stack that uses the metrics
   */
  readonly region?: string;
}

/** Per-metric overrides of what the catalog decides. */
export interface CniMetricOptions {
  /**
   * Statistic to read the metric with.
   *
   * @default - the statistic the catalog's aggregation calls for (see `defaultStatistic`)
   */
  readonly statistic?: string;

  /**
   * Period over which the metric is aggregated.
   *
   * @default - the factory's period
   */
  readonly period?: Duration;

  /**
   * Label shown on graphs and Number widgets.
   *
   * @default - the metric name
   */
  readonly label?: string;
}

/**
 * The statistic that reads a catalog metric correctly: the catalog's `statistic`.
 *
 * The collector publishes one datum per metric per cycle (every 30 s by default) whose value is
 * already the cluster figure. Gauges are therefore read with Average: a Sum would add up two or
 * more cycles per minute (upstream's doubling bug). Counter deltas are each cycle's increase, so
 * their Sum over the period is the increase in the period.
 */
export function defaultStatistic(metric: CatalogMetric): string {
  return metric.statistic;
}

/**
 * Builds every CloudWatch metric of one cluster from the catalog, with shared namespace,
 * dimension and period.
 */
export class CniMetricFactory {
  /** The names of every metric of the catalog, for `metric(name)`. */
  public static metricNames(): string[] {
    return CATALOG.map((entry) => entry.metricName);
  }

  public readonly clusterName: string;
  public readonly namespace: string;
  public readonly period: Duration;
  /** The region every metric carries, when one was given. */
  public readonly region?: string;

  constructor(props: CniMetricFactoryProps) {
    this.clusterName = props.clusterName;
    this.namespace = props.namespace ?? DEFAULT_NAMESPACE;
    this.period = props.period ?? DEFAULT_METRIC_PERIOD;
    this.region = props.region;

    validateClusterName(this.clusterName);
    validateNamespace(this.namespace);
    validatePeriod(this.period);
  }

  /**
   * The metric `metricName` of the catalog for this cluster, read with the statistic its
   * aggregation calls for. Throws for a name that is not in the catalog.
   */
  public metric(metricName: string, options: CniMetricOptions = {}): cloudwatch.Metric {
    const entry = catalogMetric(metricName);
    return new cloudwatch.Metric({
      namespace: this.namespace,
      metricName: entry.metricName,
      dimensionsMap: { [CLUSTER_DIMENSION]: this.clusterName },
      statistic: options.statistic ?? defaultStatistic(entry),
      period: options.period ?? this.period,
      label: options.label,
      region: this.region,
    });
  }

  /** Share of the IPs ipamd holds that are assigned to pods, in percent. */
  public ipUtilization(label: string = 'IP utilization (%)'): cloudwatch.MathExpression {
    return this.percentOf(catalogMetric('assignIPAddresses'), catalogMetric('totalIPAddresses'), label);
  }

  /** Share of the ENIs the nodes can attach that are allocated, in percent. */
  public eniUtilization(label: string = 'ENI utilization (%)'): cloudwatch.MathExpression {
    return this.percentOf(catalogMetric('eniAllocated'), catalogMetric('eniMaxAvailable'), label);
  }

  /**
   * Free IPv4 addresses of each watched subnet, one line per subnet: a SEARCH over the per-subnet
   * metric of this cluster, so subnets found at deploy time (or added later) need no ids at synth.
   * Read with Minimum, the fewest free addresses in each period.
   */
  public subnetAvailableIps(): cloudwatch.MathExpression {
    const entry = catalogMetric('subnetAvailableIPs');
    const [subnetId, availabilityZone] = entry.extraDimensions ?? [];
    // The namespace is quoted (it may hold '/', '.', ':' or spaces) and escaped; cluster names are
    // letters, digits, '-' and '_' only.
    const namespace = this.namespace.replace(/[\\"]/g, (c) => `\\${c}`);
    const schema = `{"${namespace}",${CLUSTER_DIMENSION},${subnetId},${availabilityZone}}`;
    const search = `${schema} MetricName="${entry.metricName}" ${CLUSTER_DIMENSION}="${this.clusterName}"`;
    return new cloudwatch.MathExpression({
      expression: `SEARCH('${search.replace(/'/g, "\\'")}', '${entry.statistic}', ${this.period.toSeconds()})`,
      usingMetrics: {},
      // One line per subnet, named by its dimensions.
      label: `\${PROP('Dim.${subnetId}')} (\${PROP('Dim.${availabilityZone}')})`,
      period: this.period,
      searchRegion: this.region,
    });
  }

  private percentOf(part: CatalogMetric, whole: CatalogMetric, label: string): cloudwatch.MathExpression {
    return new cloudwatch.MathExpression({
      // Ids must start with a lowercase letter; the catalog names do.
      expression: `100 * ${part.metricName} / ${whole.metricName}`,
      usingMetrics: {
        [part.metricName]: this.metric(part.metricName),
        [whole.metricName]: this.metric(whole.metricName),
      },
      label,
      period: this.period,
    });
  }
}

function validateClusterName(clusterName: string): void {
  if (Token.isUnresolved(clusterName)) return;
  const problem = eksClusterNameProblem(clusterName);
  if (problem) {
    throw new ValidationError('clusterName', withValue(problem, clusterName), "pass the EKS cluster's name (the collector's AWS_CLUSTER_ID)");
  }
}

function validateNamespace(namespace: string): void {
  if (Token.isUnresolved(namespace)) return;
  const problem = cloudWatchNamespaceProblem(namespace);
  if (problem) {
    throw new ValidationError('namespace', withValue(problem, namespace), `use the collector's CLOUDWATCH_NAMESPACE, by default '${DEFAULT_NAMESPACE}'`);
  }
}

function validatePeriod(period: Duration): void {
  if (period.isUnresolved()) return;
  const seconds = period.toSeconds({ integral: false });
  if (seconds < 60 || seconds % 60 !== 0) {
    throw new ValidationError(
      'period',
      `must be a whole number of minutes (the collector publishes at standard, one-minute resolution), got ${period.toHumanString()}`,
      'use e.g. Duration.minutes(1) or Duration.minutes(5)',
    );
  }
}

/**
 * The CloudWatch dashboard `EKS-CNI-metrics`: the AWS guide's Number widgets for the cluster,
 * then graphs over time, every one drawn from the metric catalog through the metric factory.
 */
import * as cloudwatch from 'aws-cdk-lib/aws-cloudwatch';
import { Construct } from 'constructs';
import { CATALOG, CatalogMetric, DashboardRole } from '../common/catalog';
import { CniMetricFactory, CniMetricFactoryProps } from './metric-factory';
import { DEFAULT_DASHBOARD_NAME, validateDashboardName } from './private/dashboard-name';

export interface CniMetricsDashboardProps extends CniMetricFactoryProps {
  /**
   * Name of the dashboard. Dashboard names are unique per account and region, so give each
   * cluster's dashboard its own name when several share one.
   *
   * @default 'EKS-CNI-metrics'
   */
  readonly dashboardName?: string;

  /**
   * Alarms to show in an alarm status widget at the top of the dashboard.
   *
   * @default - no alarm status widget
   */
  readonly alarms?: cloudwatch.IAlarm[];

  /**
   * Show the subnet metrics (the collector watches subnets: `SUBNET_IDS`): a row with each
   * subnet's available IPs, and the fewest available IPs in any subnet beside the cluster figures.
   * Off, the dashboard has no subnet widget, which would stay empty.
   *
   * @default false
   */
  readonly subnetMetrics?: boolean;
}

// Widget sizes on CloudWatch's 24-column grid.
const FULL_WIDTH = 24;
const HALF_WIDTH = FULL_WIDTH / 2;
const THIRD_WIDTH = FULL_WIDTH / 3;
const HEADER_HEIGHT = 2;
const ALARM_STATUS_HEIGHT = 3;
const NUMBER_HEIGHT = 5;
const GRAPH_HEIGHT = 6;

type GraphRole = Exclude<DashboardRole, 'number'>;

/** Title of each graph; keyed by role so that a new catalog role cannot go without a graph. */
const GRAPH_TITLES: Record<GraphRole, string> = {
  capacityGraph: 'Capacity: ENIs and IPs',
  activityGraph: 'IPAM activity per period',
  errorGraph: 'Errors per period',
  latencyGraph: 'AWS API latency',
  healthGraph: 'Collector health',
};

/** The EKS-CNI-metrics dashboard of one cluster; with `region`, every widget reads that region. */
export class CniMetricsDashboard extends Construct {
  public readonly dashboard: cloudwatch.Dashboard;

  private readonly metrics: CniMetricFactory;
  private readonly subnetMetrics: boolean;

  constructor(scope: Construct, id: string, props: CniMetricsDashboardProps) {
    super(scope, id);
    const dashboardName = props.dashboardName ?? DEFAULT_DASHBOARD_NAME;
    validateDashboardName(dashboardName, 'dashboardName');
    this.metrics = new CniMetricFactory(props);
    this.subnetMetrics = props.subnetMetrics ?? false;

    this.dashboard = new cloudwatch.Dashboard(this, 'Dashboard', { dashboardName });
    this.dashboard.addWidgets(this.header());
    if (props.alarms && props.alarms.length > 0) {
      this.dashboard.addWidgets(
        new cloudwatch.AlarmStatusWidget({
          title: 'Alarms',
          alarms: props.alarms,
          width: FULL_WIDTH,
          height: ALARM_STATUS_HEIGHT,
        }),
      );
    }
    this.dashboard.addWidgets(this.numbers());
    this.dashboard.addWidgets(this.graph('capacityGraph', HALF_WIDTH), this.utilization(HALF_WIDTH));
    if (this.subnetMetrics) this.dashboard.addWidgets(this.subnets(FULL_WIDTH));
    this.dashboard.addWidgets(
      this.graph('activityGraph', THIRD_WIDTH),
      this.graph('errorGraph', THIRD_WIDTH),
      this.graph('latencyGraph', THIRD_WIDTH),
    );
    this.dashboard.addWidgets(this.graph('healthGraph', FULL_WIDTH));
  }

  private header(): cloudwatch.TextWidget {
    const { clusterName, namespace, period } = this.metrics;
    return new cloudwatch.TextWidget({
      markdown:
        `# Amazon VPC CNI metrics: cluster ${clusterName}\n\n` +
        `Cluster-wide ipamd figures published by the CNI metrics collector to the \`${namespace}\` namespace; ` +
        `each point covers ${period.toHumanString()}. Counts are per period, capacities the average in the period.`,
      width: FULL_WIDTH,
      height: HEADER_HEIGHT,
    });
  }

  /** The AWS guide's Number widget: the latest value of each 'number' metric. */
  private numbers(): cloudwatch.SingleValueWidget {
    return new cloudwatch.SingleValueWidget({
      title: 'Cluster now',
      metrics: this.entriesWithRole('number').map((entry) => this.metrics.metric(entry.metricName)),
      sparkline: true,
      region: this.metrics.region,
      width: FULL_WIDTH,
      height: NUMBER_HEIGHT,
    });
  }

  /**
   * A graph of the catalog metrics in `role`. Metrics that share the first one's scale sit on the
   * left axis; the others (milliseconds next to counts, a per-node figure next to cluster sums)
   * on the right, so that neither flattens the other.
   */
  private graph(role: GraphRole, width: number): cloudwatch.GraphWidget {
    const entries = this.entriesWithRole(role);
    const leftScale = scaleOf(entries[0]);
    const left = entries.filter((entry) => scaleOf(entry) === leftScale);
    const right = entries.filter((entry) => scaleOf(entry) !== leftScale);
    return new cloudwatch.GraphWidget({
      title: GRAPH_TITLES[role],
      left: left.map((entry) => this.metrics.metric(entry.metricName)),
      right: right.map((entry) => this.metrics.metric(entry.metricName)),
      leftYAxis: { min: 0, label: leftScale, showUnits: false },
      rightYAxis: right.length > 0 ? { min: 0, label: scaleOf(right[0]), showUnits: false } : undefined,
      region: this.metrics.region,
      width,
      height: GRAPH_HEIGHT,
    });
  }

  /** The catalog's metrics in `role`; the subnet watcher's only when it runs. */
  private entriesWithRole(role: DashboardRole): CatalogMetric[] {
    return CATALOG.filter((entry) => entry.dashboard.includes(role) && (this.subnetMetrics || entry.aggregation !== 'ec2Subnet'));
  }

  /** One line per watched subnet: its free IPv4 addresses (the lowest in each period). */
  private subnets(width: number): cloudwatch.GraphWidget {
    return new cloudwatch.GraphWidget({
      title: 'Subnets: available IPs (per subnet)',
      left: [this.metrics.subnetAvailableIps()],
      leftYAxis: { min: 0, label: 'Count', showUnits: false },
      region: this.metrics.region,
      width,
      height: GRAPH_HEIGHT,
    });
  }

  private utilization(width: number): cloudwatch.GraphWidget {
    return new cloudwatch.GraphWidget({
      title: 'IP and ENI utilization',
      left: [
        this.metrics.ipUtilization('IP utilization % (avg: ${AVG}, max: ${MAX})'),
        this.metrics.eniUtilization('ENI utilization % (avg: ${AVG}, max: ${MAX})'),
      ],
      leftYAxis: { min: 0, max: 100, label: 'Percent', showUnits: false },
      region: this.metrics.region,
      width,
      height: GRAPH_HEIGHT,
    });
  }
}

/** One node's figures (the worst node's), whose scale is a node's, not the cluster's. */
const PER_NODE_AGGREGATIONS: ReadonlySet<string> = new Set(['minAvailableIps', 'minNodeHeadroom']);

/** The axis a metric belongs on: its unit, and whether it is one node's figure or the cluster's. */
function scaleOf(entry: CatalogMetric): string {
  return PER_NODE_AGGREGATIONS.has(entry.aggregation) ? `${entry.unit} per node` : entry.unit;
}

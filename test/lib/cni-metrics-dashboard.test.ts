import { App, CfnParameter, Duration, Stack } from 'aws-cdk-lib';
import { Template } from 'aws-cdk-lib/assertions';
import * as cloudwatch from 'aws-cdk-lib/aws-cloudwatch';
import { CATALOG, catalogMetric } from '../../common/catalog';
import { CniMetricsAlarms } from '../../lib/cni-metrics-alarms';
import { CniMetricsDashboard, CniMetricsDashboardProps } from '../../lib/cni-metrics-dashboard';
import { defaultStatistic } from '../../lib/metric-factory';

const CLUSTER = 'prod-eks';
const DASHBOARD = 'AWS::CloudWatch::Dashboard';
/** CloudWatch reads a metric without "stat" with Average, and one without "period" over 300 s. */
const DASHBOARD_DEFAULT_STAT = 'Average';

interface Widget {
  readonly type: string;
  readonly x: number;
  readonly y: number;
  readonly width: number;
  readonly height: number;
  readonly properties: {
    readonly view?: string;
    readonly title?: string;
    readonly markdown?: string;
    readonly alarms?: string[];
    readonly metrics?: unknown[][];
  };
}

/** One plain metric line of a widget: [namespace, name, dimension, value, {options}?]. */
interface MetricLine {
  readonly namespace: string;
  readonly metricName: string;
  readonly dimensions: string[];
  readonly stat: string;
  readonly period?: number;
  readonly visible: boolean;
  readonly yAxis?: string;
}

/** The default dashboard, synthesized once for the tests that only read it. */
let defaultDashboard: ReturnType<typeof synth> | undefined;
function synthDefault(): ReturnType<typeof synth> {
  defaultDashboard ??= synth();
  return defaultDashboard;
}

function synth(props: Partial<CniMetricsDashboardProps> = {}, setUp?: (stack: Stack) => Partial<CniMetricsDashboardProps>) {
  const stack = new Stack(new App(), 'Stack');
  const more = setUp ? setUp(stack) : {};
  new CniMetricsDashboard(stack, 'CniDashboard', { clusterName: CLUSTER, ...props, ...more });
  const template = Template.fromStack(stack);
  const [dashboard] = Object.values(template.findResources(DASHBOARD));
  return { template, dashboard, widgets: dashboardBody(dashboard).widgets as Widget[] };
}

/**
 * The dashboard body as JSON. CDK writes it as an Fn::Join of strings and tokens (the region,
 * alarm ARNs, parameters); each token becomes readable text so the JSON parses and stays stable.
 */
function dashboardBody(dashboard: { [key: string]: any }): { widgets: unknown[] } {
  const body: unknown = dashboard.Properties.DashboardBody;
  if (typeof body === 'string') return JSON.parse(body);
  const [separator, parts] = (body as { 'Fn::Join': [string, unknown[]] })['Fn::Join'];
  return JSON.parse(parts.map(tokenText).join(separator));
}

function tokenText(part: unknown): string {
  if (typeof part === 'string') return part;
  const intrinsic = part as Record<string, unknown>;
  if ('Ref' in intrinsic) return `<Ref ${intrinsic.Ref}>`;
  if ('Fn::GetAtt' in intrinsic) return `<GetAtt ${(intrinsic['Fn::GetAtt'] as string[]).join('.')}>`;
  throw new Error(`unexpected token in dashboard body: ${JSON.stringify(part)}`);
}

function metricLines(widget: Widget): MetricLine[] {
  return (widget.properties.metrics ?? [])
    .filter((line) => typeof line[0] === 'string')
    .map((line) => {
      const last = line[line.length - 1];
      const options = (typeof last === 'object' ? last : {}) as Record<string, unknown>;
      const plain = line.filter((part) => typeof part === 'string') as string[];
      return {
        namespace: plain[0],
        metricName: plain[1],
        dimensions: plain.slice(2),
        stat: (options.stat as string | undefined) ?? DASHBOARD_DEFAULT_STAT,
        period: options.period as number | undefined,
        visible: options.visible !== false,
        yAxis: options.yAxis as string | undefined,
      };
    });
}

function expressions(widget: Widget): Array<{ expression: string; label: string }> {
  return (widget.properties.metrics ?? [])
    .filter((line) => typeof line[0] === 'object' && 'expression' in (line[0] as object))
    .map((line) => line[0] as { expression: string; label: string });
}

function widgetTitled(widgets: Widget[], title: string): Widget {
  const found = widgets.find((w) => w.properties.title === title);
  if (!found) throw new Error(`no widget titled '${title}'; titles: ${widgets.map((w) => w.properties.title).join(', ')}`);
  return found;
}

function visibleNames(widget: Widget): string[] {
  return metricLines(widget).filter((m) => m.visible).map((m) => m.metricName);
}

/** The catalog's metrics in `role`; the subnet watcher's only when the dashboard shows subnet metrics. */
function namesWithRole(role: string, subnetMetrics = false): string[] {
  return CATALOG.filter((m) => (m.dashboard as readonly string[]).includes(role) && (subnetMetrics || m.aggregation !== 'ec2Subnet')).map((m) => m.metricName);
}

/** The subnet watcher's metrics (published only with SUBNET_IDS). */
const SUBNET_METRIC_NAMES = CATALOG.filter((m) => m.aggregation === 'ec2Subnet').map((m) => m.metricName);

describe('CniMetricsDashboard', () => {
  test("is named 'EKS-CNI-metrics' by default, as in the AWS guide", () => {
    synthDefault().template.hasResourceProperties(DASHBOARD, { DashboardName: 'EKS-CNI-metrics' });
  });

  test('takes the name given', () => {
    synth({ dashboardName: 'prod_EKS-CNI' }).template.hasResourceProperties(DASHBOARD, { DashboardName: 'prod_EKS-CNI' });
  });

  test('shows exactly the catalog metrics that have a dashboard role, without the subnet metrics by default', () => {
    const { widgets } = synthDefault();

    const shown = new Set(widgets.flatMap((w) => metricLines(w).map((m) => m.metricName)));
    const withRole = CATALOG.filter((m) => m.dashboard.length > 0 && !SUBNET_METRIC_NAMES.includes(m.metricName)).map((m) => m.metricName);
    expect([...shown].sort()).toEqual([...withRole].sort());
    expect(JSON.stringify(widgets)).not.toContain('subnet');
  });

  describe('subnet metrics', () => {
    test('subnetMetrics: true adds the subnet metrics that have a role, and a per-subnet SEARCH graph', () => {
      const { widgets } = synth({ subnetMetrics: true });

      const shown = new Set(widgets.flatMap((w) => metricLines(w).map((m) => m.metricName)));
      const withRole = CATALOG.filter((m) => m.dashboard.length > 0).map((m) => m.metricName);
      expect([...shown].sort()).toEqual([...withRole].sort());
      expect(visibleNames(widgetTitled(widgets, 'Cluster now'))).toEqual(namesWithRole('number', true));
      expect(visibleNames(widgetTitled(widgets, 'Collector health'))).toContain('subnetRefreshErrors');

      const perSubnet = widgetTitled(widgets, 'Subnets: available IPs (per subnet)');
      expect(perSubnet.width).toBe(24);
      expect(expressions(perSubnet)).toEqual([{
        expression: `SEARCH('{"Kubernetes",CLUSTER_ID,SubnetId,AvailabilityZone} MetricName="subnetAvailableIPs" CLUSTER_ID="${CLUSTER}"', 'Minimum', 300)`,
        label: "${PROP('Dim.SubnetId')} (${PROP('Dim.AvailabilityZone')})",
      }]);
      // The row sits right under the capacity and utilization graphs.
      const capacity = widgetTitled(widgets, 'Capacity: ENIs and IPs');
      expect(perSubnet.y).toBe(capacity.y + capacity.height);
    });

    test('the SEARCH follows the namespace, the period and the region, escaping a quote in the namespace', () => {
      const { widgets } = synth({ subnetMetrics: true, namespace: 'Team "A"/CNI', period: Duration.minutes(1), region: 'eu-west-1' });
      const perSubnet = widgetTitled(widgets, 'Subnets: available IPs (per subnet)');
      const [search] = expressions(perSubnet);
      expect(search.expression).toBe(`SEARCH('{"Team \\"A\\"/CNI",CLUSTER_ID,SubnetId,AvailabilityZone} MetricName="subnetAvailableIPs" CLUSTER_ID="${CLUSTER}"', 'Minimum', 60)`);
      expect((perSubnet.properties as any).region).toBe('eu-west-1');
    });
  });

  test('reads every metric of the cluster in its namespace with the statistic the catalog calls for', () => {
    const { widgets } = synthDefault();

    for (const line of widgets.flatMap(metricLines)) {
      expect([line.metricName, line.namespace, line.dimensions, line.stat]).toEqual([
        line.metricName, 'Kubernetes', ['CLUSTER_ID', CLUSTER], defaultStatistic(catalogMetric(line.metricName)),
      ]);
    }
  });

  test('never reads a gauge with Sum', () => {
    const { widgets } = synthDefault();

    const gauges = new Set(CATALOG.filter((m) => m.aggregation === 'gaugeSum' || m.aggregation === 'minAvailableIps').map((m) => m.metricName));
    const gaugeLines = widgets.flatMap(metricLines).filter((m) => gauges.has(m.metricName));
    expect(gaugeLines.length).toBeGreaterThan(0);
    expect(gaugeLines.filter((m) => m.stat === 'Sum')).toEqual([]);
  });

  test('lays out a header, the Number widget, then the graphs, within 24 columns and without overlap', () => {
    const { widgets } = synthDefault();

    expect(widgets.map((w) => [w.type, w.properties.view ?? null, w.properties.title ?? null])).toEqual([
      ['text', null, null],
      ['metric', 'singleValue', 'Cluster now'],
      ['metric', 'timeSeries', 'Capacity: ENIs and IPs'],
      ['metric', 'timeSeries', 'IP and ENI utilization'],
      ['metric', 'timeSeries', 'IPAM activity per period'],
      ['metric', 'timeSeries', 'Errors per period'],
      ['metric', 'timeSeries', 'AWS API latency'],
      ['metric', 'timeSeries', 'Collector health'],
    ]);
    for (const w of widgets) expect(w.x + w.width).toBeLessThanOrEqual(24);
    const cells = new Set<string>();
    for (const w of widgets) {
      for (let x = w.x; x < w.x + w.width; x++) {
        for (let y = w.y; y < w.y + w.height; y++) {
          expect(cells.has(`${x},${y}`)).toBe(false);
          cells.add(`${x},${y}`);
        }
      }
    }
  });

  test('the header names the cluster, the namespace and the period', () => {
    const { widgets } = synth({ namespace: 'Platform/CNI', period: Duration.minutes(1) });

    const markdown = widgets[0].properties.markdown ?? '';
    expect(markdown).toMatch(/^# Amazon VPC CNI metrics: cluster prod-eks\n/);
    expect(markdown).toContain('`Platform/CNI` namespace');
    expect(markdown).toContain('each point covers 1 minute');
  });

  test("the Number widget shows the catalog's 'number' metrics in catalog order, with sparklines", () => {
    const { widgets } = synthDefault();

    const numbers = widgetTitled(widgets, 'Cluster now');
    expect(visibleNames(numbers)).toEqual(namesWithRole('number'));
    expect(visibleNames(numbers)).toEqual(
      expect.arrayContaining(['eniMaxAvailable', 'eniAllocated', 'assignIPAddresses', 'totalIPAddresses', 'maxIPAddresses', 'ipamdErr']),
    );
    expect((numbers.properties as Record<string, unknown>).sparkline).toBe(true);
  });

  test.each([
    ['capacityGraph', 'Capacity: ENIs and IPs'],
    ['activityGraph', 'IPAM activity per period'],
    ['errorGraph', 'Errors per period'],
    ['latencyGraph', 'AWS API latency'],
    ['healthGraph', 'Collector health'],
  ])('the %s role is the graph %j', (role, title) => {
    const { widgets } = synthDefault();
    // Sorted: the graph lists its left axis before its right.
    expect(visibleNames(widgetTitled(widgets, title)).sort()).toEqual(namesWithRole(role).sort());
  });

  test('puts a per-node figure and milliseconds next to counts on the right axis', () => {
    const { widgets } = synthDefault();

    const rightOf = (title: string) => metricLines(widgetTitled(widgets, title)).filter((m) => m.yAxis === 'right').map((m) => m.metricName);
    // Both worst-node figures share the per-node axis, away from the cluster sums.
    expect(rightOf('Capacity: ENIs and IPs')).toEqual(['minAvailableIPsPerNode', 'minFreeIPCapacityPerNode']);
    expect(rightOf('Collector health')).toEqual(['collectorCycleDuration']);
    expect(rightOf('AWS API latency')).toEqual([]);
  });

  test('graphs IP and ENI utilization as percent math with dynamic labels', () => {
    const { widgets } = synthDefault();

    const utilization = widgetTitled(widgets, 'IP and ENI utilization');
    expect(expressions(utilization)).toEqual([
      { expression: '100 * assignIPAddresses / totalIPAddresses', label: 'IP utilization % (avg: ${AVG}, max: ${MAX})' },
      { expression: '100 * eniAllocated / eniMaxAvailable', label: 'ENI utilization % (avg: ${AVG}, max: ${MAX})' },
    ]);
    // The inputs are hidden: only the percentages are drawn.
    expect(metricLines(utilization).filter((m) => m.visible)).toEqual([]);
  });

  test('every metric follows a non-default period', () => {
    const { widgets } = synth({ period: Duration.minutes(1) });

    const lines = widgets.flatMap(metricLines);
    expect(lines.length).toBeGreaterThan(0);
    expect(lines.filter((m) => m.period !== 60)).toEqual([]);
  });

  describe('alarm status widget', () => {
    test('is absent without alarms', () => {
      const { widgets } = synthDefault();
      expect(widgets.filter((w) => w.type === 'alarm')).toEqual([]);
    });

    test('shows the alarms given, right under the header', () => {
      const { widgets } = synth({}, (stack) => ({
        alarms: new CniMetricsAlarms(stack, 'CniAlarms', { clusterName: CLUSTER, ipamdErrors: { enabled: true } }).alarms,
      }));

      expect(widgets[1].type).toBe('alarm');
      expect(widgets[1].width).toBe(24);
      expect(widgets[1].properties.alarms).toEqual([
        expect.stringMatching(/^<GetAtt CniAlarmsIpUtilization[0-9A-F]{8}\.Arn>$/),
        expect.stringMatching(/^<GetAtt CniAlarmsIpamdErrors[0-9A-F]{8}\.Arn>$/),
        expect.stringMatching(/^<GetAtt CniAlarmsCollectorSilent[0-9A-F]{8}\.Arn>$/),
      ]);
    });
  });

  test('a cluster name known only at deploy time goes into every metric', () => {
    const { widgets } = synth({}, (stack) => ({ clusterName: new CfnParameter(stack, 'ClusterName').valueAsString }));

    const values = new Set(widgets.flatMap(metricLines).map((m) => m.dimensions[1]));
    expect([...values]).toEqual(['<Ref ClusterName>']);
  });

  test('the dashboard body matches the snapshot', () => {
    const { dashboard } = synth({}, (stack) => ({
      alarms: [new cloudwatch.Alarm(stack, 'Existing', { metric: new cloudwatch.Metric({ namespace: 'N', metricName: 'M' }), threshold: 1, evaluationPeriods: 1 })],
    }));
    expect(dashboardBody(dashboard)).toMatchSnapshot();
  });

  describe('validation', () => {
    test.each([
      ['EKS CNI metrics', 'EKS-CNI-metrics'],
      ['prod/eks.cni', 'prod-eks-cni'],
      ['', 'EKS-CNI-metrics'],
    ])('the dashboard name %j fails with the rule and a fixed name', (dashboardName, fixed) => {
      expect(() => synth({ dashboardName })).toThrow(
        `cni-metrics-helper: dashboardName: must be a CloudWatch dashboard name (1-255 characters of ` +
          `A-Z, a-z, 0-9, '-' and '_'), got ${JSON.stringify(dashboardName)} — use e.g. '${fixed}'`,
      );
    });

    test('a dashboard name over 255 characters fails', () => {
      expect(() => synth({ dashboardName: 'd'.repeat(256) })).toThrow(/^cni-metrics-helper: dashboardName: must be a CloudWatch dashboard name .*, got "d+… — use e.g. 'd{255}'$/);
    });

    test('a dashboard name of 255 characters is accepted', () => {
      expect(() => synth({ dashboardName: 'd'.repeat(255) })).not.toThrow();
    });

    test('a dashboard name known only at deploy time is not checked', () => {
      const { template } = synth({}, (stack) => ({ dashboardName: new CfnParameter(stack, 'DashboardName').valueAsString }));
      template.hasResourceProperties(DASHBOARD, { DashboardName: { Ref: 'DashboardName' } });
    });

    test('an empty cluster name fails', () => {
      expect(() => synth({ clusterName: '' })).toThrow(/^cni-metrics-helper: clusterName: must be an EKS cluster name .*, got "" — /);
    });
  });

  describe('region', () => {
    test('with a region, every metric widget reads that region, also from a dashboard in another', () => {
      // GIVEN a dashboard in eu-west-1 for a collector publishing to us-east-1
      const stack = new Stack(new App(), 'Stack', { env: { region: 'eu-west-1' } });
      new CniMetricsDashboard(stack, 'CniDashboard', { clusterName: CLUSTER, region: 'us-east-1' });
      const [dashboard] = Object.values(Template.fromStack(stack).findResources(DASHBOARD));
      const widgets = dashboardBody(dashboard).widgets as Widget[];
      // THEN each widget with metrics names us-east-1, and there are such widgets
      const withMetrics = widgets.filter((w) => w.properties.metrics !== undefined);
      expect(withMetrics.length).toBeGreaterThan(3);
      for (const widget of withMetrics) expect((widget.properties as { region?: string }).region).toBe('us-east-1');
    });
  });
});

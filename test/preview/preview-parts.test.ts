/**
 * The preview's parts without a browser or a collector: template intrinsics, the dashboard body's
 * shorthand, statistics and metric math, alarm states, the scenario's bookkeeping, the command line.
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { evaluateAlarm } from '../../preview/alarm-state';
import { parseDashboardBody } from '../../preview/dashboard-model';
import { applyStatistic, evaluateExpression, fillLines } from '../../preview/metric-series';
import { parseArguments } from '../../preview/preview';
import { renderMarkdown } from '../../preview/render-dashboard';
import { resolveTemplateString } from '../../preview/resolve-template-value';
import { SCENARIO, SCENARIO_CYCLES, scenarioPayload } from '../../preview/simulated-cluster';
import { readSynthesizedDashboard } from '../../preview/synthesized-dashboard';
import type { ReceivedDatum } from '../support/cloudwatch-server';

const RESOURCES = {
  HighAlarm: { Type: 'AWS::CloudWatch::Alarm', Properties: { AlarmName: 'prod-CNI-High' } },
  UnnamedAlarm: { Type: 'AWS::CloudWatch::Alarm', Properties: {} },
};
const PLACEHOLDERS = { region: 'eu-west-1', account: '111122223333', resources: RESOURCES };

describe('resolveTemplateString', () => {
  test('joins strings and tokens, with the region, and alarm ARNs named by AlarmName or logical id', () => {
    const value = { 'Fn::Join': ['', [
      '{"region":"', { Ref: 'AWS::Region' }, '","alarms":["',
      { 'Fn::GetAtt': ['HighAlarm', 'Arn'] }, '","', { 'Fn::GetAtt': ['UnnamedAlarm', 'Arn'] }, '"]}',
    ]] };
    expect(JSON.parse(resolveTemplateString(value, PLACEHOLDERS, 'body'))).toEqual({
      region: 'eu-west-1',
      alarms: ['arn:aws:cloudwatch:eu-west-1:111122223333:alarm:prod-CNI-High', 'arn:aws:cloudwatch:eu-west-1:111122223333:alarm:UnnamedAlarm'],
    });
  });

  test('an intrinsic it does not know fails, naming the property and the ones it knows', () => {
    expect(() => resolveTemplateString({ 'Fn::ImportValue': 'x' }, PLACEHOLDERS, 'Stack Dash.DashboardBody'))
      .toThrow(/Stack Dash.DashboardBody: the intrinsic Fn::ImportValue is not one the preview resolves \(Fn::Join, Ref/);
  });
});

describe('parseDashboardBody', () => {
  test('expands "." and "..." and applies the widget defaults (Average, 300 s)', () => {
    const body = parseDashboardBody(JSON.stringify({ widgets: [{
      type: 'metric', x: 0, y: 0, width: 12, height: 6,
      properties: { metrics: [
        ['NS', 'a', 'CLUSTER_ID', 'one', { stat: 'Sum' }],
        ['.', 'b', '.', '.'],
        ['...', 'two'],
      ] },
    }] }), 'body');
    const widget = body.widgets[0];
    if (widget.type !== 'metric') throw new Error('expected a metric widget');
    expect(widget.lines.map((l) => (l.kind === 'metric' ? [l.namespace, l.metricName, l.dimensions, l.stat, l.periodSeconds] : l)))
      .toEqual([
        ['NS', 'a', { CLUSTER_ID: 'one' }, 'Sum', 300],
        ['NS', 'b', { CLUSTER_ID: 'one' }, 'Average', 300],
        ['NS', 'b', { CLUSTER_ID: 'two' }, 'Average', 300],
      ]);
  });

  test('a widget without a position fails with what the preview needs', () => {
    expect(() => parseDashboardBody('{"widgets":[{"type":"text","width":6,"height":2,"properties":{}}]}', 'body'))
      .toThrow(/body widgets\[0\] has no numeric x: .*every widget needs x, y, width and height/);
  });
});

describe('statistics and metric math', () => {
  test('statistics over one period\'s datums', () => {
    const values = [4, 1, 3, 2];
    expect([applyStatistic('Average', values), applyStatistic('Sum', values), applyStatistic('Minimum', values),
      applyStatistic('Maximum', values), applyStatistic('SampleCount', values), applyStatistic('p50', values)])
      .toEqual([2.5, 10, 1, 4, 4, 2]);
    expect(applyStatistic('Sum', [])).toBeUndefined();
  });

  test('expressions evaluate point by point; a missing operand or a zero divisor leaves a gap', () => {
    const byId = new Map([['a', [1, 2, undefined, 4]], ['b', [4, 0, 2, 8]]]);
    expect(evaluateExpression('100 * a / b', byId, 4)).toEqual([25, undefined, undefined, 50]);
    expect(evaluateExpression('-(a + b) * 2', byId, 4)).toEqual([-10, -4, undefined, -24]);
    expect(() => evaluateExpression('FILL(a, 0)', byId, 4)).toThrow(/only numbers, ids/);
  });

  test('lines match datums by namespace, name and the exact dimension set, per cycle timestamp', () => {
    const at = (ms: number, value: number, dimensions = [{ Name: 'CLUSTER_ID', Value: 'c' }]): ReceivedDatum =>
      ({ Namespace: 'NS', MetricName: 'm', Value: value, Timestamp: new Date(ms), Dimensions: dimensions });
    const datums = [at(1000, 5), at(2000, 7), at(2000, 100, [{ Name: 'CLUSTER_ID', Value: 'c' }, { Name: 'SubnetId', Value: 's' }])];
    const [line] = fillLines([{ kind: 'metric', namespace: 'NS', metricName: 'm', dimensions: { CLUSTER_ID: 'c' }, stat: 'Maximum',
      periodSeconds: 300, visible: true, yAxis: 'left', label: 'last ${LAST}' }], { datums, cycleTimestamps: [1000, 2000, 3000] });
    expect(line.points).toEqual([5, 7, undefined]);
    expect(line.label).toBe('last 7');
  });
});

describe('evaluateAlarm', () => {
  const alarm = (properties: Record<string, unknown>) => ({ logicalId: 'A', name: 'a', properties: {
    Namespace: 'NS', MetricName: 'm', Dimensions: [], Statistic: 'Maximum', Period: 300, Threshold: 10,
    ComparisonOperator: 'GreaterThanThreshold', EvaluationPeriods: 2, ...properties,
  } });
  const data = (values: Array<number | undefined>): { datums: ReceivedDatum[]; cycleTimestamps: number[] } => ({
    cycleTimestamps: values.map((_, i) => i + 1),
    datums: values.flatMap((v, i) => (v === undefined ? [] : [{ Namespace: 'NS', MetricName: 'm', Value: v, Timestamp: new Date(i + 1), Dimensions: [] }])),
  });

  test('ALARM when the last N points all breach, OK when one does not', () => {
    expect(evaluateAlarm(alarm({}), data([1, 11, 12])).state).toBe('ALARM');
    expect(evaluateAlarm(alarm({}), data([11, 12, 9])).state).toBe('OK');
  });

  test('missing points follow TreatMissingData', () => {
    expect(evaluateAlarm(alarm({}), data([11, undefined, undefined])).state).toBe('INSUFFICIENT_DATA');
    expect(evaluateAlarm(alarm({ TreatMissingData: 'breaching' }), data([1, undefined, undefined])).state).toBe('ALARM');
    expect(evaluateAlarm(alarm({ TreatMissingData: 'notBreaching' }), data([1, undefined, undefined])).state).toBe('OK');
  });
});

describe('the simulated cluster\'s scenario', () => {
  test('on every node and cycle, the change in assigned IPs is add requests minus PodDeleted requests, within the node\'s IPs', () => {
    for (const node of SCENARIO) {
      const assigned = node.samples.awscni_assigned_ip_addresses;
      const adds = node.samples.awscni_add_ip_req_count;
      const deletes = node.samples['awscni_del_ip_req_count{reason="PodDeleted"}'];
      expect([assigned.length, adds.length, deletes.length]).toEqual([SCENARIO_CYCLES, SCENARIO_CYCLES, SCENARIO_CYCLES]);
      for (let cycle = 1; cycle < SCENARIO_CYCLES; cycle++) {
        expect(assigned[cycle] - assigned[cycle - 1]).toBe((adds[cycle] - adds[cycle - 1]) - (deletes[cycle] - deletes[cycle - 1]));
        const payload = scenarioPayload(node.fixture, node.samples, cycle);
        const total = Number(/^awscni_total_ip_addresses (\S+)$/m.exec(payload)![1]);
        expect(assigned[cycle]).toBeLessThanOrEqual(total);
        // Where the scenario moves the per-prefix or per-ENI series, they add up to the assigned IPs.
        for (const family of ['awscni_assigned_ip_per_cidr', 'awscni_assigned_ip_per_eni']) {
          const series = Object.entries(node.samples).filter(([sample]) => sample.startsWith(`${family}{`));
          if (series.length > 0) expect(series.reduce((sum, [, values]) => sum + values[cycle], 0)).toBe(assigned[cycle]);
        }
      }
    }
  });

  test('cycle 0 is the fixture unchanged, and a sample the fixture lacks fails by name', () => {
    const nodeA = SCENARIO[0];
    expect(scenarioPayload(nodeA.fixture, nodeA.samples, 0)).toMatch(/^awscni_assigned_ip_addresses 17$/m);
    expect(() => scenarioPayload('node-a.prom', { awscni_no_such_family: [1] }, 0))
      .toThrow("scenario: node-a.prom has no sample line 'awscni_no_such_family' to change");
  });
});

describe('the preview command line and markdown', () => {
  test('--out and --dashboard, with defaults; an unknown flag fails with the usage', () => {
    expect(parseArguments([])).toEqual({ outDir: 'cdk.out/preview', dashboardName: 'EKS-CNI-metrics' });
    expect(parseArguments(['--out', 'x', '--dashboard', 'D'])).toEqual({ outDir: 'x', dashboardName: 'D' });
    expect(() => parseArguments(['--outdir', 'x'])).toThrow(/unknown argument '--outdir'\nusage: npm run preview/);
    expect(() => parseArguments(['--out'])).toThrow(/--out needs a value/);
  });

  test('markdown headings, code and escaping', () => {
    expect(renderMarkdown('# Title <b>\n\nUses `Kubernetes` namespace'))
      .toBe('<h3 class="md-h1">Title &lt;b&gt;</h3><p>Uses <code>Kubernetes</code> namespace</p>');
  });
});

describe('readSynthesizedDashboard', () => {
  const made: string[] = [];
  afterAll(() => made.forEach((dir) => fs.rmSync(dir, { recursive: true, force: true })));
  const assemblyWith = (dashboards: Record<string, string>): string => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'preview-assembly-'));
    made.push(dir);
    const resources = Object.fromEntries(Object.entries(dashboards).map(([name, body], i) => [`Dash${i}`, {
      Type: 'AWS::CloudWatch::Dashboard', Properties: { DashboardName: name, DashboardBody: body },
    }]));
    fs.writeFileSync(path.join(dir, 'S.template.json'), JSON.stringify({ Resources: resources }));
    fs.writeFileSync(path.join(dir, 'manifest.json'), JSON.stringify({ artifacts: {
      S: { type: 'aws:cloudformation:stack', environment: 'aws://unknown-account/unknown-region', properties: { templateFile: 'S.template.json' } },
    } }));
    return dir;
  };
  const body = (title: string): string => JSON.stringify({ widgets: [{ type: 'metric', x: 0, y: 0, width: 6, height: 6, properties: { title, metrics: [] } }] });

  test('takes the dashboard by name; an environment-agnostic stack gets placeholder region and account', () => {
    const dashboard = readSynthesizedDashboard(assemblyWith({ other: body('Other'), 'EKS-CNI-metrics': body('Ours') }));
    expect(dashboard.dashboardName).toBe('EKS-CNI-metrics');
    expect(dashboard.region).toBe('us-east-1');
    expect(dashboard.body.widgets[0]).toMatchObject({ type: 'metric', title: 'Ours' });
  });

  test('with several dashboards and none of the name, it fails listing them and the way to choose', () => {
    expect(() => readSynthesizedDashboard(assemblyWith({ a: body('A'), b: body('B') })))
      .toThrow(/found: a \(S\), b \(S\); pass --dashboard NAME to choose one/);
  });
});

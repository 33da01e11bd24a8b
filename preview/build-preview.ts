/**
 * The preview's pipeline: synthesize the app, read its dashboard, run the simulated cluster through
 * the real collector with the dashboard's cluster id and namespace, fill every widget from what
 * CloudWatch stored, write dashboard.html, and let headless chromium draw dashboard.png.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { evaluateAlarm } from './alarm-state';
import { HeadlessChromium } from './chromium';
import { DEFAULT_PERIOD_SECONDS, DashboardWidget } from './dashboard-model';
import { fillLines } from './metric-series';
import { DashboardPage, FilledWidget, pageSize, renderDashboardHtml } from './render-dashboard';
import { SCENARIO, SimulatedRun, runSimulatedCluster } from './simulated-cluster';
import { DEFAULT_DASHBOARD_NAME, SynthesizedDashboard, readSynthesizedDashboard, synthesizeApp } from './synthesized-dashboard';

export interface PreviewOptions {
  /** The project whose cdk.json app is synthesized. */
  readonly projectDir: string;
  /** Where dashboard.html, dashboard.png and the cloud assembly (cdk.out) go. */
  readonly outDir: string;
  /** The chromium executable (see ensureChromium). */
  readonly chromium: string;
  /** @default 'EKS-CNI-metrics' */
  readonly dashboardName?: string;
  readonly log?: (line: string) => void;
}

export interface PreviewResult {
  readonly htmlPath: string;
  readonly pngPath: string;
  readonly assemblyDir: string;
  readonly dashboard: SynthesizedDashboard;
  readonly run: SimulatedRun;
  readonly page: DashboardPage;
  /** Milliseconds spent in each step. */
  readonly timings: Readonly<Record<'synthesize' | 'collector' | 'render', number>>;
}

/** The dimension the collector publishes with; the dashboard's value of it is the cluster to simulate. */
const CLUSTER_DIMENSION = 'CLUSTER_ID';

export async function buildPreview(options: PreviewOptions): Promise<PreviewResult> {
  const log = options.log ?? (() => {});
  const outDir = path.resolve(options.outDir);
  const assemblyDir = path.join(outDir, 'cdk.out');
  fs.mkdirSync(outDir, { recursive: true });

  let started = Date.now();
  log('synthesizing the CDK app (cdk.json)');
  synthesizeApp(options.projectDir, assemblyDir);
  const dashboard = readSynthesizedDashboard(assemblyDir, options.dashboardName ?? DEFAULT_DASHBOARD_NAME);
  const synthesizeMs = Date.now() - started;

  const { clusterId, namespace } = publishedAs(dashboard);
  started = Date.now();
  log(`running dist/collector.js against a simulated ${SCENARIO.length}-node cluster '${clusterId}' (namespace ${namespace})`);
  const run = await runSimulatedCluster({ clusterId, namespace });
  const collectorMs = Date.now() - started;

  started = Date.now();
  const page = dashboardPage(dashboard, run);
  const htmlPath = path.join(outDir, 'dashboard.html');
  const pngPath = path.join(outDir, 'dashboard.png');
  fs.writeFileSync(htmlPath, renderDashboardHtml(page));
  log('drawing dashboard.png with headless chromium');
  const browser = await HeadlessChromium.launch(options.chromium);
  try {
    await browser.open(`file://${htmlPath}`, pageSize(page));
    fs.writeFileSync(pngPath, await browser.screenshot());
  } finally {
    await browser.close();
  }
  const renderMs = Date.now() - started;

  return { htmlPath, pngPath, assemblyDir, dashboard, run, page, timings: { synthesize: synthesizeMs, collector: collectorMs, render: renderMs } };
}

/** Every widget of the dashboard with what the simulated run gives it to show. */
export function dashboardPage(dashboard: SynthesizedDashboard, run: SimulatedRun): DashboardPage {
  const widgets = dashboard.body.widgets.map((widget): FilledWidget => {
    if (widget.type === 'metric') return { widget, lines: fillLines(widget.lines, run) };
    if (widget.type === 'alarm') {
      return {
        widget,
        alarms: widget.alarmArns.map((arn) => {
          const alarm = dashboard.alarmsByArn.get(arn);
          return alarm ? evaluateAlarm(alarm, run) : { name: arn.slice(arn.lastIndexOf(':') + 1), state: 'unknown' as const };
        }),
      };
    }
    return { widget };
  });
  const period = commonPeriod(dashboard.body.widgets);
  const last = run.cycleTimestamps[run.cycleTimestamps.length - 1] ?? 0;
  const end = Math.ceil(last / (period * 1000)) * period * 1000;
  const periodEnds = run.cycleTimestamps.map((_, i) => end - (run.cycleTimestamps.length - 1 - i) * period * 1000);
  const minutes = period % 60 === 0 ? `${period / 60}-minute` : `${period}-second`;
  return {
    dashboardName: dashboard.dashboardName,
    subtitle: `Preview of stack ${dashboard.stackName} as synthesized (${dashboard.region}). Numbers: a simulated ` +
      `${SCENARIO.length}-node cluster run through the real collector, ${run.cycleTimestamps.length} cycles, each drawn as one ${minutes} period.`,
    widgets,
    periodEnds,
  };
}

/** The cluster id and namespace of the dashboard's metrics, so that the collector publishes what it shows. */
function publishedAs(dashboard: SynthesizedDashboard): { clusterId: string; namespace: string } {
  for (const widget of dashboard.body.widgets) {
    if (widget.type !== 'metric') continue;
    for (const line of widget.lines) {
      if (line.kind === 'metric' && line.dimensions[CLUSTER_DIMENSION]) {
        return { clusterId: line.dimensions[CLUSTER_DIMENSION], namespace: line.namespace };
      }
    }
  }
  throw new Error(`dashboard '${dashboard.dashboardName}' has no metric with a ${CLUSTER_DIMENSION} dimension: nothing the collector publishes would show on it`);
}

/** The period most of the dashboard's metrics use: one simulated cycle is drawn as one of these. */
function commonPeriod(widgets: readonly DashboardWidget[]): number {
  const counts = new Map<number, number>();
  for (const widget of widgets) {
    if (widget.type !== 'metric') continue;
    for (const line of widget.lines) if (line.kind === 'metric') counts.set(line.periodSeconds, (counts.get(line.periodSeconds) ?? 0) + 1);
  }
  return [...counts.entries()].sort((a, b) => b[1] - a[1])[0]?.[0] ?? DEFAULT_PERIOD_SECONDS;
}

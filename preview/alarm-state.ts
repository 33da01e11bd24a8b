/**
 * The state an alarm of the template would be in on the simulated data: its metric (or the metric math
 * that returns data) per period, the last EvaluationPeriods points compared with the threshold, missing
 * points treated as TreatMissingData says. CloudWatch's rules, in their simple form (M out of N).
 */
import type { MetricLine } from './dashboard-model';
import { FilledLine, Point, StoredData, fillLines } from './metric-series';
import type { TemplateAlarm } from './synthesized-dashboard';

export type AlarmState = 'OK' | 'ALARM' | 'INSUFFICIENT_DATA';

export interface EvaluatedAlarm {
  readonly name: string;
  readonly state: AlarmState;
  /** The threshold as a sentence, e.g. "> 80 for 3 of 3 periods". */
  readonly condition: string;
}

const COMPARISONS: Record<string, { symbol: string; breaches: (value: number, threshold: number) => boolean }> = {
  GreaterThanThreshold: { symbol: '>', breaches: (v, t) => v > t },
  GreaterThanOrEqualToThreshold: { symbol: '>=', breaches: (v, t) => v >= t },
  LessThanThreshold: { symbol: '<', breaches: (v, t) => v < t },
  LessThanOrEqualToThreshold: { symbol: '<=', breaches: (v, t) => v <= t },
};

export function evaluateAlarm(alarm: TemplateAlarm, data: StoredData): EvaluatedAlarm {
  const p = alarm.properties;
  const comparison = COMPARISONS[String(p.ComparisonOperator)];
  const threshold = Number(p.Threshold);
  const periods = Number(p.EvaluationPeriods ?? 1);
  const needed = Number(p.DatapointsToAlarm ?? periods);
  if (!comparison || Number.isNaN(threshold)) {
    // Anomaly-detection bands and other shapes are not evaluated here.
    return { name: alarm.name, state: 'INSUFFICIENT_DATA', condition: `${String(p.ComparisonOperator)} (not evaluated in the preview)` };
  }
  const condition = `${comparison.symbol} ${threshold} for ${needed} of ${periods} periods`;
  const series = alarmSeries(p, data);
  const recent = series.slice(-periods);
  const treatMissing = String(p.TreatMissingData ?? 'missing');
  const breaching = recent.filter((v) => (v === undefined ? treatMissing === 'breaching' : comparison.breaches(v, threshold))).length;
  const present = recent.filter((v) => v !== undefined).length;
  let state: AlarmState;
  if (breaching >= needed) state = 'ALARM';
  else if (present > 0 || treatMissing === 'notBreaching' || treatMissing === 'breaching') state = 'OK';
  else state = 'INSUFFICIENT_DATA';
  return { name: alarm.name, state, condition };
}

/** The alarm's data per period: its one metric, or the metric math line that returns data. */
function alarmSeries(p: Readonly<Record<string, unknown>>, data: StoredData): Point[] {
  const dimensionsOf = (list: unknown): Record<string, string> =>
    Object.fromEntries(((list as Array<{ Name: string; Value: string }> | undefined) ?? []).map((d) => [d.Name, d.Value]));
  const lineOptions = { visible: true, yAxis: 'left' as const };
  let lines: MetricLine[];
  if (Array.isArray(p.Metrics)) {
    lines = (p.Metrics as Array<Record<string, unknown>>).map((m): MetricLine => {
      if (typeof m.Expression === 'string') return { ...lineOptions, kind: 'expression', id: m.Id as string, expression: m.Expression };
      const stat = m.MetricStat as { Metric: Record<string, unknown>; Period: number; Stat: string };
      return {
        ...lineOptions, kind: 'metric', id: m.Id as string,
        namespace: String(stat.Metric.Namespace), metricName: String(stat.Metric.MetricName),
        dimensions: dimensionsOf(stat.Metric.Dimensions), stat: stat.Stat, periodSeconds: stat.Period,
      };
    });
    const returned = (p.Metrics as Array<Record<string, unknown>>).findIndex((m) => m.ReturnData !== false);
    return pointsOf(fillLines(lines, data)[Math.max(0, returned)]);
  }
  lines = [{
    ...lineOptions, kind: 'metric', namespace: String(p.Namespace), metricName: String(p.MetricName),
    dimensions: dimensionsOf(p.Dimensions), stat: String(p.Statistic ?? p.ExtendedStatistic ?? 'Average'), periodSeconds: Number(p.Period ?? 300),
  }];
  return pointsOf(fillLines(lines, data)[0]);
}

function pointsOf(line: FilledLine): Point[] {
  return [...line.points];
}

/**
 * A dashboard's metric lines filled from the datums CloudWatch stored: one point per collector cycle
 * (each drawn as one period of the widget), the line's statistic applied to the datums of that cycle,
 * metric math evaluated point by point, and dynamic labels (${AVG}, ${MAX}, ...) filled in. A metric
 * with no datum has no points: "no data", as CloudWatch shows it.
 */
import type { ReceivedDatum } from '../test/support/cloudwatch-server';
import type { MetricLine } from './dashboard-model';

export type Point = number | undefined;

export interface FilledLine {
  readonly line: MetricLine;
  /** What the legend or tile says: the label with dynamic values filled, or the metric name. */
  readonly label: string;
  /** One value per cycle, oldest first; undefined where there was no datum. */
  readonly points: readonly Point[];
  /** Why the line could not be computed (an expression the preview does not evaluate). */
  readonly problem?: string;
}

export interface StoredData {
  readonly datums: readonly ReceivedDatum[];
  readonly cycleTimestamps: readonly number[];
}

/** Fills every line of one widget (expressions may refer to the widget's other lines by id). */
export function fillLines(lines: readonly MetricLine[], data: StoredData): FilledLine[] {
  const byId = new Map<string, readonly Point[]>();
  const metricPoints = lines.map((line) => {
    if (line.kind !== 'metric') return undefined;
    const points = metricSeries(line, data);
    if (line.id) byId.set(line.id, points);
    return points;
  });
  return lines.map((line, i) => {
    if (line.kind === 'metric') {
      const points = metricPoints[i]!;
      return { line, points, label: fillLabel(line.label ?? line.metricName, points) };
    }
    try {
      const points = evaluateExpression(line.expression, byId, data.cycleTimestamps.length);
      if (line.id) byId.set(line.id, points);
      return { line, points, label: fillLabel(line.label ?? line.id ?? line.expression, points) };
    } catch (err) {
      const points = data.cycleTimestamps.map((): Point => undefined);
      return { line, points, label: line.label ?? line.expression, problem: (err as Error).message };
    }
  });
}

/** The statistic of one metric's datums, per cycle. */
export function metricSeries(line: Extract<MetricLine, { kind: 'metric' }>, data: StoredData): Point[] {
  const wanted = Object.entries(line.dimensions).sort(([a], [b]) => a.localeCompare(b));
  const matching = data.datums.filter((d) => d.Namespace === line.namespace && d.MetricName === line.metricName
    && sameDimensions(d.Dimensions, wanted) && d.Value !== undefined);
  return data.cycleTimestamps.map((timestamp) => {
    const values = matching.filter((d) => d.Timestamp?.getTime() === timestamp).map((d) => d.Value as number);
    return applyStatistic(line.stat, values);
  });
}

/** CloudWatch's statistic `stat` over `values`; undefined for no values. */
export function applyStatistic(stat: string, values: readonly number[]): Point {
  if (values.length === 0) return undefined;
  const sorted = [...values].sort((a, b) => a - b);
  switch (stat) {
    case 'Average': return values.reduce((s, v) => s + v, 0) / values.length;
    case 'Sum': return values.reduce((s, v) => s + v, 0);
    case 'Minimum': return sorted[0];
    case 'Maximum': return sorted[sorted.length - 1];
    case 'SampleCount': return values.length;
    default: {
      const percentile = /^p(\d+(?:\.\d+)?)$/.exec(stat);
      if (!percentile) throw new Error(`statistic '${stat}' is not one the preview computes (Average, Sum, Minimum, Maximum, SampleCount, pNN)`);
      const rank = Math.ceil((Number(percentile[1]) / 100) * sorted.length) - 1;
      return sorted[Math.min(sorted.length - 1, Math.max(0, rank))];
    }
  }
}

/** The value the dynamic label `${NAME}` stands for. */
const LABEL_VALUES: Record<string, (defined: number[]) => number> = {
  AVG: (v) => v.reduce((s, x) => s + x, 0) / v.length,
  MAX: (v) => Math.max(...v),
  MIN: (v) => Math.min(...v),
  SUM: (v) => v.reduce((s, x) => s + x, 0),
  FIRST: (v) => v[0],
  LAST: (v) => v[v.length - 1],
};

function fillLabel(label: string, points: readonly Point[]): string {
  const defined = points.filter((p): p is number => p !== undefined);
  return label.replace(/\$\{([A-Z_]+)\}/g, (whole, name: string) => {
    const compute = LABEL_VALUES[name];
    if (!compute) return whole;
    return defined.length === 0 ? '-' : formatValue(compute(defined));
  });
}

/** A number as CloudWatch prints it in labels and Number widgets: integers whole, others to two decimals. */
export function formatValue(value: number): string {
  if (Number.isInteger(value)) return value.toLocaleString('en-US');
  const abs = Math.abs(value);
  const digits = abs >= 100 ? 1 : abs >= 0.01 ? 2 : 4;
  return Number(value.toFixed(digits)).toLocaleString('en-US', { maximumFractionDigits: digits });
}

function sameDimensions(got: readonly { Name: string; Value: string }[], wanted: Array<[string, string]>): boolean {
  if (got.length !== wanted.length) return false;
  const sorted = [...got].sort((a, b) => a.Name.localeCompare(b.Name));
  return sorted.every((d, i) => d.Name === wanted[i][0] && d.Value === wanted[i][1]);
}

/**
 * Metric math, the arithmetic part: numbers, ids of other lines, + - * /, unary minus and parentheses,
 * evaluated point by point; a point with an undefined operand, or a division by zero, is undefined.
 */
export function evaluateExpression(expression: string, byId: ReadonlyMap<string, readonly Point[]>, length: number): Point[] {
  const tokens = expression.match(/\s*(\d+(?:\.\d+)?|[A-Za-z_][A-Za-z0-9_]*|[-+*/()])/g)?.map((t) => t.trim()) ?? [];
  if (tokens.join('') !== expression.replace(/\s+/g, '')) {
    throw new Error(`expression '${expression}': only numbers, ids, + - * / and parentheses are evaluated by the preview`);
  }
  let position = 0;
  type Series = (i: number) => Point;
  const primary = (): Series => {
    const token = tokens[position++];
    if (token === '(') {
      const inner = sum();
      if (tokens[position++] !== ')') throw new Error(`expression '${expression}': missing ')'`);
      return inner;
    }
    if (token === '-') {
      const operand = primary();
      return (i) => { const v = operand(i); return v === undefined ? undefined : -v; };
    }
    if (token !== undefined && /^\d/.test(token)) return () => Number(token);
    const series = token === undefined ? undefined : byId.get(token);
    if (!series) throw new Error(`expression '${expression}': '${token ?? 'end'}' is not the id of a metric in the widget`);
    return (i) => series[i];
  };
  const binary = (next: () => Series, operators: string): (() => Series) => () => {
    let left = next();
    while (position < tokens.length && operators.includes(tokens[position])) {
      const operator = tokens[position++];
      const l = left;
      const r = next();
      left = (i) => {
        const a = l(i);
        const b = r(i);
        if (a === undefined || b === undefined) return undefined;
        if (operator === '/') return b === 0 ? undefined : a / b;
        return operator === '*' ? a * b : operator === '+' ? a + b : a - b;
      };
    }
    return left;
  };
  const product = binary(primary, '*/');
  const sum = binary(product, '+-');
  const root = sum();
  if (position !== tokens.length) throw new Error(`expression '${expression}': unexpected '${tokens[position]}'`);
  return Array.from({ length }, (_, i) => root(i));
}

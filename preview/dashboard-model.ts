/**
 * The CloudWatch dashboard body (CloudWatch-Dashboard-Body-Structure) as the preview reads it: widgets
 * on the 24-column grid, and each metric widget's metric lines with the shorthand ("." and "...")
 * expanded and the widget's defaults (stat, period, region) applied.
 */

/** CloudWatch's defaults for a metric widget that does not set them. */
export const DEFAULT_STAT = 'Average';
export const DEFAULT_PERIOD_SECONDS = 300;
export const GRID_COLUMNS = 24;

export interface DashboardBody {
  readonly widgets: readonly DashboardWidget[];
}

interface WidgetPlacement {
  readonly x: number;
  readonly y: number;
  readonly width: number;
  readonly height: number;
}

export type DashboardWidget =
  | (WidgetPlacement & { readonly type: 'text'; readonly markdown: string; readonly transparent: boolean })
  | (WidgetPlacement & { readonly type: 'alarm'; readonly title: string; readonly alarmArns: readonly string[] })
  | (WidgetPlacement & MetricWidget)
  | (WidgetPlacement & { readonly type: 'other'; readonly title: string; readonly widgetType: string });

export interface MetricWidget {
  readonly type: 'metric';
  /** timeSeries, singleValue, bar, pie, gauge. */
  readonly view: string;
  readonly title: string;
  readonly region: string;
  readonly sparkline: boolean;
  readonly lines: readonly MetricLine[];
  readonly yAxis: { readonly left?: AxisSettings; readonly right?: AxisSettings };
}

export interface AxisSettings {
  readonly min?: number;
  readonly max?: number;
  readonly label?: string;
}

interface LineOptions {
  readonly id?: string;
  readonly label?: string;
  readonly visible: boolean;
  readonly yAxis: 'left' | 'right';
  readonly color?: string;
}

export type MetricLine =
  | (LineOptions & {
    readonly kind: 'metric';
    readonly namespace: string;
    readonly metricName: string;
    readonly dimensions: Readonly<Record<string, string>>;
    readonly stat: string;
    readonly periodSeconds: number;
  })
  | (LineOptions & { readonly kind: 'expression'; readonly expression: string });

/** Parses the JSON text of a DashboardBody; `where` names it in errors. */
export function parseDashboardBody(text: string, where: string): DashboardBody {
  let json: { widgets?: unknown };
  try {
    json = JSON.parse(text) as { widgets?: unknown };
  } catch (err) {
    throw new Error(`${where} is not JSON once resolved: ${(err as Error).message}`);
  }
  if (!Array.isArray(json.widgets)) throw new Error(`${where} has no widgets list`);
  return { widgets: json.widgets.map((w, i) => parseWidget(w as RawWidget, `${where} widgets[${i}]`)) };
}

interface RawWidget {
  type?: string;
  x?: number;
  y?: number;
  width?: number;
  height?: number;
  properties?: Record<string, unknown>;
}

function parseWidget(raw: RawWidget, where: string): DashboardWidget {
  for (const key of ['x', 'y', 'width', 'height'] as const) {
    if (typeof raw[key] !== 'number') {
      throw new Error(`${where} has no numeric ${key}: the preview places widgets where the body puts them, so every widget needs x, y, width and height`);
    }
  }
  const placement = { x: raw.x!, y: raw.y!, width: raw.width!, height: raw.height! };
  const properties = raw.properties ?? {};
  const title = typeof properties.title === 'string' ? properties.title : '';
  switch (raw.type) {
    case 'text':
      return { ...placement, type: 'text', markdown: String(properties.markdown ?? ''), transparent: properties.background === 'transparent' };
    case 'alarm':
      return { ...placement, type: 'alarm', title, alarmArns: (properties.alarms as string[] | undefined) ?? [] };
    case 'metric':
      return { ...placement, ...parseMetricWidget(properties, title, where) };
    default:
      return { ...placement, type: 'other', title, widgetType: String(raw.type) };
  }
}

function parseMetricWidget(properties: Record<string, unknown>, title: string, where: string): MetricWidget {
  const widgetStat = typeof properties.stat === 'string' ? properties.stat : DEFAULT_STAT;
  const widgetPeriod = typeof properties.period === 'number' ? properties.period : DEFAULT_PERIOD_SECONDS;
  const rawLines = (properties.metrics as unknown[][] | undefined) ?? [];
  const lines: MetricLine[] = [];
  let previous: string[] = [];
  rawLines.forEach((raw, i) => {
    const hasOptions = raw.length > 0 && typeof raw[raw.length - 1] === 'object';
    const options = (hasOptions ? raw[raw.length - 1] : {}) as Record<string, unknown>;
    const common: LineOptions = {
      id: options.id as string | undefined,
      label: options.label as string | undefined,
      visible: options.visible !== false,
      yAxis: options.yAxis === 'right' ? 'right' : 'left',
      color: options.color as string | undefined,
    };
    if (typeof options.expression === 'string') {
      lines.push({ ...common, kind: 'expression', expression: options.expression });
      return;
    }
    const parts = expandShorthand((hasOptions ? raw.slice(0, -1) : raw) as string[], previous, `${where} metrics[${i}]`);
    previous = parts;
    const dimensions: Record<string, string> = {};
    for (let d = 2; d + 1 < parts.length; d += 2) dimensions[parts[d]] = parts[d + 1];
    lines.push({
      ...common,
      kind: 'metric',
      namespace: parts[0],
      metricName: parts[1],
      dimensions,
      stat: typeof options.stat === 'string' ? options.stat : widgetStat,
      periodSeconds: typeof options.period === 'number' ? options.period : widgetPeriod,
    });
  });
  const yAxis = (properties.yAxis ?? {}) as MetricWidget['yAxis'];
  return {
    type: 'metric',
    view: typeof properties.view === 'string' ? properties.view : 'timeSeries',
    title,
    region: String(properties.region ?? ''),
    sparkline: properties.sparkline === true,
    lines,
    yAxis,
  };
}

/**
 * "." repeats the value at the same position in the metric above; a leading "..." repeats the metric
 * above except its last values, which the rest of this line replaces.
 */
function expandShorthand(parts: string[], previous: string[], where: string): string[] {
  if ((parts[0] === '...' || parts.includes('.')) && previous.length === 0) {
    throw new Error(`${where} uses "." or "..." with no metric above it to repeat`);
  }
  const expanded = parts[0] === '...'
    ? [...previous.slice(0, previous.length - (parts.length - 1)), ...parts.slice(1)]
    : parts.map((part, i) => (part === '.' ? previous[i] : part));
  if (expanded.length < 2 || expanded.length % 2 !== 0) {
    throw new Error(`${where} is [${expanded.join(', ')}]: expected namespace, metric name, then dimension name/value pairs`);
  }
  return expanded;
}

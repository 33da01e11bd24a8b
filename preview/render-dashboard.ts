/**
 * The dashboard as one static HTML page in CloudWatch's look: widget boxes placed on the 24-column grid
 * where the body puts them, titles, Number widgets with big latest values and sparklines, graphs as
 * inline SVG lines with axes and legends, alarm tiles, and text widgets' markdown. No script: the
 * browser only lays it out and draws it.
 */
import { AxisSettings, DashboardWidget, GRID_COLUMNS, MetricWidget } from './dashboard-model';
import { EvaluatedAlarm } from './alarm-state';
import { FilledLine, Point, formatValue } from './metric-series';

/** Page geometry: the grid's column and row in CSS pixels, and the room around it. */
export const PAGE_WIDTH_PX = 1280;
export const GRID_PADDING_PX = 16;
export const COLUMN_PX = (PAGE_WIDTH_PX - 2 * GRID_PADDING_PX) / GRID_COLUMNS;
export const ROW_PX = 40;
/** Space between neighbouring widgets (half on each side of a widget). */
export const GUTTER_PX = 8;
const HEADER_PX = 64;
const TITLE_PX = 30;
const LEGEND_ROW_PX = 18;
const LEGEND_CHAR_PX = 6.2;
/** Colour square, its margin and the space after an item. */
const LEGEND_MARKER_PX = 30;

/** CloudWatch's default line colours, in the order it assigns them. */
const PALETTE = ['#1f77b4', '#ff7f0e', '#2ca02c', '#d62728', '#9467bd', '#8c564b', '#e377c2', '#7f7f7f', '#bcbd22', '#17becf'];
const STATE_COLOURS: Record<EvaluatedAlarm['state'], string> = { OK: '#1d8102', ALARM: '#d13212', INSUFFICIENT_DATA: '#687078' };

/** What each widget shows, filled from the simulated run. */
export type FilledWidget =
  | { readonly widget: Extract<DashboardWidget, { type: 'metric' }>; readonly lines: readonly FilledLine[] }
  | { readonly widget: Extract<DashboardWidget, { type: 'alarm' }>; readonly alarms: readonly (EvaluatedAlarm | { readonly name: string; readonly state: 'unknown' })[] }
  | { readonly widget: Exclude<DashboardWidget, { type: 'metric' } | { type: 'alarm' }> };

export interface DashboardPage {
  readonly dashboardName: string;
  /** One line under the name: where the layout and the numbers come from. */
  readonly subtitle: string;
  readonly widgets: readonly FilledWidget[];
  /** End of each simulated period, oldest first: the x axis of every graph (epoch ms). */
  readonly periodEnds: readonly number[];
}

/** The CSS pixel size of the whole page: every widget fits without scrolling. */
export function pageSize(page: DashboardPage): { width: number; height: number } {
  const rows = Math.max(0, ...page.widgets.map(({ widget }) => widget.y + widget.height));
  return { width: PAGE_WIDTH_PX, height: HEADER_PX + rows * ROW_PX + 2 * GRID_PADDING_PX };
}

export function renderDashboardHtml(page: DashboardPage): string {
  const { height } = pageSize(page);
  const gridHeight = height - HEADER_PX - 2 * GRID_PADDING_PX;
  return `<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>${escapeHtml(page.dashboardName)} (preview)</title>
<style>${STYLES}</style></head>
<body style="width:${PAGE_WIDTH_PX}px;height:${height}px">
<header class="bar" style="height:${HEADER_PX}px"><div class="crumbs">CloudWatch › Dashboards</div>
<h1 class="dashboard-name">${escapeHtml(page.dashboardName)}</h1><div class="subtitle">${escapeHtml(page.subtitle)}</div></header>
<main class="grid" style="left:${GRID_PADDING_PX}px;top:${HEADER_PX + GRID_PADDING_PX}px;width:${GRID_COLUMNS * COLUMN_PX}px;height:${gridHeight}px">
${page.widgets.map((w) => renderWidget(w, page.periodEnds)).join('\n')}
</main></body></html>
`;
}

function renderWidget(filled: FilledWidget, periodEnds: readonly number[]): string {
  const { widget } = filled;
  const box = { width: widget.width * COLUMN_PX - GUTTER_PX, height: widget.height * ROW_PX - GUTTER_PX };
  const style = `left:${widget.x * COLUMN_PX + GUTTER_PX / 2}px;top:${widget.y * ROW_PX + GUTTER_PX / 2}px;width:${box.width}px;height:${box.height}px`;
  const attributes = `data-x="${widget.x}" data-y="${widget.y}" data-width="${widget.width}" data-height="${widget.height}"`;
  if ('lines' in filled) {
    const metricWidget = filled.widget;
    const body = metricWidget.view === 'singleValue'
      ? renderNumbers(metricWidget, filled.lines, box)
      : renderGraph(metricWidget, filled.lines, box, periodEnds);
    return `<section class="widget metric ${metricWidget.view}" ${attributes} style="${style}">${title(metricWidget.title)}${body}</section>`;
  }
  if ('alarms' in filled) {
    const tiles = filled.alarms.map((a) => {
      const colour = a.state === 'unknown' ? '#687078' : STATE_COLOURS[a.state];
      const detail = 'condition' in a ? a.condition : 'not in the template';
      return `<div class="alarm" data-state="${a.state}"><span class="state" style="background:${colour}">${a.state === 'INSUFFICIENT_DATA' ? 'INSUFFICIENT' : a.state}</span>` +
        `<span class="alarm-name">${escapeHtml(a.name)}</span><span class="alarm-detail">${escapeHtml(detail)}</span></div>`;
    }).join('');
    return `<section class="widget alarms" ${attributes} style="${style}">${title(filled.widget.title)}<div class="alarm-row">${tiles}</div></section>`;
  }
  if (widget.type === 'text') {
    return `<section class="widget text${widget.transparent ? ' transparent' : ''}" ${attributes} style="${style}">${renderMarkdown(widget.markdown)}</section>`;
  }
  if (widget.type === 'other') {
    return `<section class="widget other" ${attributes} style="${style}">${title(widget.title)}<div class="empty">${escapeHtml(widget.widgetType)} widget: not drawn by the preview</div></section>`;
  }
  throw new Error(`widget of type ${widget.type} has nothing filled to draw`);
}

function title(text: string): string {
  return `<h2 class="widget-title">${escapeHtml(text)}</h2>`;
}

/** Number widget: each metric's latest value, big, with its label and (when asked) a sparkline. */
function renderNumbers(widget: MetricWidget, lines: readonly FilledLine[], box: { width: number; height: number }): string {
  const visible = lines.filter((l) => l.line.visible);
  const tileWidth = Math.floor((box.width - 16) / Math.max(1, visible.length));
  const tiles = visible.map((l) => {
    const latest = [...l.points].reverse().find((p) => p !== undefined);
    const value = latest === undefined
      ? '<div class="number-value no-data">no data</div>'
      : `<div class="number-value">${escapeHtml(formatValue(latest))}</div>`;
    const spark = widget.sparkline && latest !== undefined ? sparkline(l.points, tileWidth - 24, 30) : '';
    return `<div class="number" style="width:${tileWidth}px"><div class="number-label" title="${escapeHtml(l.label)}">${escapeHtml(l.label)}</div>${value}${spark}</div>`;
  }).join('');
  return `<div class="numbers">${tiles}</div>`;
}

function sparkline(points: readonly Point[], width: number, height: number): string {
  const defined = points.filter((p): p is number => p !== undefined);
  const min = Math.min(...defined);
  const max = Math.max(...defined);
  const y = (v: number): number => (max === min ? height / 2 : height - 2 - ((v - min) / (max - min)) * (height - 4));
  const x = (i: number): number => (points.length === 1 ? width / 2 : 3 + (i / (points.length - 1)) * (width - 6));
  return `<svg class="sparkline" width="${width}" height="${height}">${polylines(points, x, y, '#1f77b4', 1.5)}</svg>`;
}

/** A time series graph: axes, grid lines, one line per visible metric, and the legend. */
function renderGraph(widget: MetricWidget, lines: readonly FilledLine[], box: { width: number; height: number }, periodEnds: readonly number[]): string {
  const visible = lines.filter((l) => l.line.visible);
  const width = box.width - 16;
  const legendItems = visible.map((l, i) => legendItem(l, i));
  const legendRows = legendRowCount(legendItems.map((item) => item.estimatedWidth), width);
  const height = box.height - TITLE_PX - legendRows * LEGEND_ROW_PX - 10;
  const hasRight = visible.some((l) => l.line.yAxis === 'right');
  const plot = { left: 46, right: width - (hasRight ? 46 : 12), top: 8, bottom: height - 20 };
  const x = (i: number): number => plot.left + (periodEnds.length === 1 ? 0 : (i / (periodEnds.length - 1)) * (plot.right - plot.left));

  const svg: string[] = [];
  const axes = (['left', 'right'] as const).map((side) => {
    const onSide = visible.filter((l) => l.line.yAxis === side);
    if (side === 'right' && onSide.length === 0) return undefined;
    return { side, scale: axisScale(onSide.flatMap((l) => l.points), widget.yAxis[side]) };
  });
  const left = axes[0]!;
  for (const tick of left.scale.ticks) {
    const y = yPosition(tick, left.scale, plot);
    svg.push(`<line class="gridline" x1="${plot.left}" x2="${plot.right}" y1="${y}" y2="${y}"/>`);
  }
  for (const axis of axes) {
    if (!axis) continue;
    const isLeft = axis.side === 'left';
    const tx = isLeft ? plot.left - 6 : plot.right + 6;
    for (const tick of axis.scale.ticks) {
      svg.push(`<text class="tick" x="${tx}" y="${yPosition(tick, axis.scale, plot) + 4}" text-anchor="${isLeft ? 'end' : 'start'}">${escapeHtml(shortNumber(tick))}</text>`);
    }
    const label = widget.yAxis[axis.side]?.label;
    if (label) {
      const lx = isLeft ? 10 : width - 4;
      const ly = (plot.top + plot.bottom) / 2;
      svg.push(`<text class="axis-label" transform="translate(${lx},${ly}) rotate(-90)" text-anchor="middle">${escapeHtml(label)}</text>`);
    }
  }
  svg.push(`<line class="axis" x1="${plot.left}" x2="${plot.right}" y1="${plot.bottom}" y2="${plot.bottom}"/>`);
  periodEnds.forEach((end, i) => {
    svg.push(`<text class="tick" x="${x(i)}" y="${height - 4}" text-anchor="middle">${clock(end)}</text>`);
  });
  visible.forEach((l, i) => {
    const scale = (l.line.yAxis === 'right' ? axes[1] : left)!.scale;
    svg.push(polylines(l.points, x, (v) => yPosition(v, scale, plot), colourOf(l, i), 2));
  });
  if (visible.every((l) => l.points.every((p) => p === undefined))) {
    svg.push(`<text class="empty" x="${(plot.left + plot.right) / 2}" y="${(plot.top + plot.bottom) / 2}" text-anchor="middle">No data available.</text>`);
  }

  const legend = legendItems.map((item) => item.html).join('');
  return `<svg class="graph" width="${width}" height="${height}">${svg.join('')}</svg><div class="legend">${legend}</div>`;
}

/** A legend entry, and its width estimated from its text (11 px type is about 6.2 px a character). */
function legendItem(l: FilledLine, index: number): { html: string; estimatedWidth: number } {
  const noData = l.points.every((p) => p === undefined);
  // The reason an expression was not evaluated goes in the tooltip, not across the legend.
  const note = l.problem ? ' (not evaluated in the preview)' : noData ? ' (no data)' : '';
  const text = l.label + note;
  const html = `<span class="legend-item${noData ? ' no-data' : ''}" title="${escapeHtml(l.problem ? `${text}: ${l.problem}` : text)}">` +
    `<i style="background:${colourOf(l, index)}"></i>${escapeHtml(text)}</span>`;
  return { html, estimatedWidth: Math.ceil(LEGEND_MARKER_PX + text.length * LEGEND_CHAR_PX) };
}

/** Rows the legend takes when its items wrap within `width`. */
function legendRowCount(itemWidths: readonly number[], width: number): number {
  let rows = 0;
  let used = width;
  for (const itemWidth of itemWidths) {
    const fitted = Math.min(itemWidth, width);
    if (used + fitted > width) {
      rows++;
      used = 0;
    }
    used += fitted;
  }
  return rows;
}

interface Scale {
  readonly min: number;
  readonly max: number;
  readonly ticks: readonly number[];
}

/** The axis range: the widget's min/max where set, otherwise from 0 (or the lowest point) to a round number above the highest. */
function axisScale(points: readonly Point[], settings: AxisSettings | undefined): Scale {
  const defined = points.filter((p): p is number => p !== undefined);
  const min = settings?.min ?? Math.min(0, ...defined);
  const highest = Math.max(min, ...defined);
  const step = niceStep(((settings?.max ?? highest) - min) / 4 || 1);
  const max = settings?.max ?? Math.max(min + step, Math.ceil((highest * 1.05 - min) / step) * step + min);
  const ticks: number[] = [];
  for (let t = min; t <= max + step / 1000; t += step) ticks.push(Number(t.toPrecision(12)));
  return { min, max, ticks };
}

function niceStep(raw: number): number {
  const magnitude = 10 ** Math.floor(Math.log10(raw));
  return [1, 2, 2.5, 5, 10].map((m) => m * magnitude).find((s) => s >= raw) ?? 10 * magnitude;
}

function yPosition(value: number, scale: Scale, plot: { top: number; bottom: number }): number {
  const clamped = Math.min(scale.max, Math.max(scale.min, value));
  return plot.bottom - ((clamped - scale.min) / (scale.max - scale.min || 1)) * (plot.bottom - plot.top);
}

/** Lines through consecutive defined points, with a dot on each; a gap where a point is missing. */
function polylines(points: readonly Point[], x: (i: number) => number, y: (v: number) => number, colour: string, strokeWidth: number): string {
  const parts: string[] = [];
  let run: string[] = [];
  const flush = (): void => {
    if (run.length > 1) parts.push(`<polyline fill="none" stroke="${colour}" stroke-width="${strokeWidth}" points="${run.join(' ')}"/>`);
    run = [];
  };
  points.forEach((p, i) => {
    if (p === undefined) return flush();
    const px = x(i).toFixed(1);
    const py = y(p).toFixed(1);
    run.push(`${px},${py}`);
    parts.push(`<circle cx="${px}" cy="${py}" r="${strokeWidth + 0.5}" fill="${colour}"/>`);
  });
  flush();
  return parts.join('');
}

function colourOf(line: FilledLine, index: number): string {
  return line.line.color ?? PALETTE[index % PALETTE.length];
}

function shortNumber(value: number): string {
  const abs = Math.abs(value);
  if (abs >= 1e6) return `${Number((value / 1e6).toPrecision(3))}M`;
  if (abs >= 1e3) return `${Number((value / 1e3).toPrecision(3))}k`;
  return String(Number(value.toPrecision(3)));
}

function clock(epochMs: number): string {
  return new Date(epochMs).toISOString().slice(11, 16);
}

/** The markdown text widgets use in practice: headings, paragraphs, `code`, **bold** and links. */
export function renderMarkdown(markdown: string): string {
  const inline = (text: string): string => escapeHtml(text)
    .replace(/`([^`]+)`/g, '<code>$1</code>')
    .replace(/\*\*([^*]+)\*\*/g, '<strong>$1</strong>')
    .replace(/\[([^\]]+)\]\(([^)\s]+)\)/g, '<a href="$2">$1</a>');
  return markdown.split(/\n\s*\n/).map((block) => {
    const heading = /^(#{1,3})\s+(.*)$/s.exec(block.trim());
    if (heading) return `<h${heading[1].length + 2} class="md-h${heading[1].length}">${inline(heading[2])}</h${heading[1].length + 2}>`;
    return `<p>${inline(block.trim()).replace(/\n/g, '<br>')}</p>`;
  }).join('');
}

function escapeHtml(text: string): string {
  return text.replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c]!);
}

const STYLES = `
* { box-sizing: border-box; }
html, body { margin: 0; padding: 0; }
body { position: relative; background: #f2f3f3; font-family: "Amazon Ember", "Helvetica Neue", Roboto, Arial, sans-serif; color: #16191f; overflow: hidden; }
.bar { position: absolute; left: 0; top: 0; right: 0; background: #ffffff; border-bottom: 1px solid #d5dbdb; padding: 8px ${GRID_PADDING_PX + 4}px; }
.crumbs { font-size: 12px; color: #0073bb; }
.dashboard-name { display: inline-block; margin: 2px 16px 0 0; font-size: 20px; font-weight: 700; }
.subtitle { display: inline-block; font-size: 12px; color: #545b64; }
.grid { position: absolute; }
.widget { position: absolute; background: #ffffff; border-radius: 2px; box-shadow: 0 1px 1px 0 rgba(0,28,36,0.3), 1px 1px 1px 0 rgba(0,28,36,0.15), -1px 1px 1px 0 rgba(0,28,36,0.15); overflow: hidden; padding: 0 8px; }
.widget.transparent { background: transparent; box-shadow: none; }
.widget-title { margin: 0; height: ${TITLE_PX}px; line-height: ${TITLE_PX}px; font-size: 14px; font-weight: 700; white-space: nowrap; overflow: hidden; text-overflow: ellipsis; }
.text p { margin: 2px 0; font-size: 13px; color: #545b64; }
.text code { background: #eaeded; padding: 0 3px; border-radius: 2px; font-size: 12px; }
.md-h1 { margin: 4px 0 2px; font-size: 20px; font-weight: 400; }
.md-h2 { margin: 4px 0 2px; font-size: 17px; font-weight: 400; }
.md-h3 { margin: 4px 0 2px; font-size: 15px; font-weight: 700; }
.numbers { display: flex; padding: 4px 8px 0; }
.number { padding: 4px 12px 0 0; }
.number-label { font-size: 12px; color: #545b64; white-space: nowrap; overflow: hidden; text-overflow: ellipsis; }
.number-value { font-size: 34px; line-height: 48px; font-weight: 300; color: #16191f; }
.number-value.no-data { font-size: 16px; color: #879596; }
.sparkline { display: block; }
.graph { display: block; }
.gridline { stroke: #eaeded; stroke-width: 1; }
.axis { stroke: #879596; stroke-width: 1; }
.tick { font-size: 10px; fill: #545b64; }
.axis-label { font-size: 10px; fill: #545b64; }
.empty { font-size: 13px; fill: #879596; color: #879596; }
.legend { display: flex; flex-wrap: wrap; font-size: 11px; line-height: ${LEGEND_ROW_PX}px; }
.legend-item { white-space: nowrap; overflow: hidden; text-overflow: ellipsis; max-width: 100%; padding-right: 16px; }
.legend-item i { display: inline-block; width: 10px; height: 10px; margin-right: 4px; vertical-align: -1px; }
.legend-item.no-data { color: #879596; }
.alarm-row { display: flex; gap: 12px; padding-top: 2px; }
.alarm { display: flex; align-items: center; gap: 8px; border: 1px solid #eaeded; border-radius: 2px; padding: 6px 10px; font-size: 13px; }
.alarm .state { color: #fff; font-size: 11px; font-weight: 700; padding: 2px 6px; border-radius: 2px; }
.alarm-detail { color: #687078; font-size: 11px; }
`;

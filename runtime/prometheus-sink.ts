/**
 * The Prometheus sink (USE_PROMETHEUS): serves the latest cycle's cluster datums on `/metrics`
 * in the text exposition format 0.0.4, every series a gauge labelled `cluster="<cluster id>"`, plus
 * one label per extra dimension of the datum in snake case (a subnet's `subnet_id` and
 * `availability_zone`).
 *
 * Series names. Upstream's cni-metrics-helper (utils/prometheusmetrics,
 * `GetSupportedPrometheusCNIMetricsMapping`) re-exports exactly six ipamd gauges on :61681 under
 * ipamd's own family names, with no labels: awscni_eni_max, awscni_ip_max, awscni_eni_allocated,
 * awscni_total_ip_addresses, awscni_assigned_ip_addresses, awscni_total_ipv4_prefixes. Those six
 * carry the catalog's `prometheusName` and keep their names here, so queries on them keep working (the added `cluster` label does not stop a
 * selector from matching), and now carry the correct cluster sum. Every other catalog metric, which
 * upstream never exposed, is `cni_metrics_helper_<metric name in snake case>`, with `_ms` or
 * `_percent` appended when the unit is milliseconds or percent (ipamd's own `_ms` convention):
 * `addReqCount` is `cni_metrics_helper_add_req_count`, `awsAPILatency` is
 * `cni_metrics_helper_aws_api_latency_ms`. Per-cycle counts are gauges too: each value is the
 * cycle's own figure, not a running total. `cni_metrics_helper_last_cycle_timestamp_seconds`
 * tells a scraper how fresh the values are (samples carry no timestamps, as Prometheus advises).
 */
import * as http from 'node:http';
import type { AddressInfo } from 'node:net';
import { CATALOG, type CatalogMetric } from '../common/catalog';
import { silentLogger, type Logger } from './log';
import { listenOnAny } from './listen';
import type { ClusterDatum, Sink } from './types';

const OWN_PREFIX = 'cni_metrics_helper_';
const CLUSTER_LABEL = 'cluster';
const LAST_CYCLE_SERIES = `${OWN_PREFIX}last_cycle_timestamp_seconds`;
const CONTENT_TYPE = 'text/plain; version=0.0.4; charset=utf-8';

/** Prometheus series name of a catalog metric. */
export function prometheusMetricName(metric: CatalogMetric): string {
  if (metric.prometheusName !== undefined) return metric.prometheusName;
  const suffix = metric.unit === 'Milliseconds' ? '_ms' : metric.unit === 'Percent' ? '_percent' : '';
  const base = OWN_PREFIX + snakeCase(metric.metricName);
  return base.endsWith(suffix) ? base : base + suffix;
}

/**
 * camelCase to snake_case, keeping acronyms whole with their plural or version:
 * `awsAPILatency` → `aws_api_latency`, `minAvailableIPsPerNode` → `min_available_ips_per_node`,
 * `totalAssignedIPv4sPerCidr` → `total_assigned_ipv4s_per_cidr`, `awsAPILatencyMaxP99` → `aws_api_latency_max_p99`.
 */
export function snakeCase(name: string): string {
  const words = name.match(/[A-Z]{2,}(?:v\d+)?s?(?![a-z])|[A-Z]?[a-z]+\d*|[A-Z]\d*|\d+/g) ?? [];
  return words.map((w) => w.toLowerCase()).join('_');
}

export interface PrometheusSinkOptions {
  /** Port to listen on; 0 picks a free one (tests). */
  readonly port: number;
  /** Interface to bind. @default - all interfaces, IPv6 and IPv4 (`::` dual-stack, else 0.0.0.0), so the cluster's Prometheus can scrape the pod */
  readonly host?: string;
  /** Value of the `cluster` label on every series. */
  readonly clusterId: string;
  /** @default - silent */
  readonly logger?: Logger;
}

export class PrometheusSink implements Sink {
  readonly name = 'prometheus';
  private readonly options: PrometheusSinkOptions;
  private readonly logger: Logger;
  private readonly server: http.Server;
  private starting?: Promise<void>;
  private stopping?: Promise<void>;
  /** The exposition text of the latest cycle, rendered once per publish rather than per scrape. */
  private exposition = '';

  constructor(options: PrometheusSinkOptions) {
    if (!Number.isInteger(options.port) || options.port < 0 || options.port > 65535) {
      throw new Error(`Prometheus sink: port must be an integer from 0 to 65535, got ${options.port}; set PROMETHEUS_PORT`);
    }
    this.options = options;
    this.logger = options.logger ?? silentLogger;
    this.server = http.createServer((req, res) => this.answer(req, res));
  }

  /** Listens; rejects with the port and the fix when it cannot. Calling it again returns the same promise. */
  start(): Promise<void> {
    const hosts = this.options.host === undefined ? undefined : [this.options.host];
    this.starting ??= listenOnAny(this.server, this.options.port, hosts).then(
      () => {
        this.server.on('error', (err) => this.logger.error('Prometheus sink: server error', { error: err.message }));
        // Serving scrapes must not keep a finished collector alive.
        this.server.unref();
        this.logger.info('Prometheus sink listening', { url: this.url });
      },
      (err: NodeJS.ErrnoException) => {
        throw new Error(`Prometheus sink cannot listen on ${this.options.host ?? '*'}:${this.options.port}: ${err.code ?? err.message}; set PROMETHEUS_PORT to a free port`);
      },
    );
    return this.starting;
  }

  /** The scrape URL, e.g. `http://127.0.0.1:61681/metrics`; throws before start() has resolved. */
  get url(): string {
    const address = this.server.address() as AddressInfo | null;
    if (!address) throw new Error('Prometheus sink is not listening: await start() first');
    const host = this.options.host === undefined || this.options.host === '0.0.0.0' || this.options.host === '::'
      ? 'localhost'
      : this.options.host.includes(':') ? `[${this.options.host}]` : this.options.host;
    return `http://${host}:${address.port}/metrics`;
  }

  /** Replaces what is served with this cycle's datums. */
  async publish(datums: readonly ClusterDatum[]): Promise<void> {
    try {
      this.exposition = this.render(datums);
    } catch (err) {
      this.logger.error('Prometheus sink: could not render the cycle; serving the previous one', { error: (err as Error).message });
    }
  }

  /** Nothing is held: scrapes read the latest cycle. */
  async flush(): Promise<void> {}

  /** Closes the server and open connections; calling it twice is harmless. */
  stop(): Promise<void> {
    this.stopping ??= new Promise<void>((resolve) => {
      if (!this.server.listening) {
        resolve();
        return;
      }
      this.server.close(() => resolve());
      this.server.closeAllConnections();
    });
    return this.stopping;
  }

  private answer(req: http.IncomingMessage, res: http.ServerResponse): void {
    const path = new URL(req.url ?? '/', 'http://scrape').pathname;
    if (path !== '/metrics') {
      res.writeHead(404, { 'content-type': 'text/plain; charset=utf-8' });
      res.end('Not found: metrics are served on /metrics\n');
      return;
    }
    if (req.method !== 'GET' && req.method !== 'HEAD') {
      res.writeHead(405, { 'content-type': 'text/plain; charset=utf-8', allow: 'GET, HEAD' });
      res.end(`Method ${req.method} not allowed on /metrics\n`);
      return;
    }
    const body = Buffer.from(this.exposition, 'utf8');
    res.writeHead(200, { 'content-type': CONTENT_TYPE, 'content-length': body.length });
    res.end(req.method === 'HEAD' ? undefined : body);
  }

  private render(datums: readonly ClusterDatum[]): string {
    // A metric's series, keyed by their labels: a metric with extra dimensions has one per value set.
    const byName = new Map<string, Map<string, ClusterDatum>>();
    for (const datum of datums) {
      const labels = this.labelsOf(datum);
      let series = byName.get(datum.metricName);
      if (!series) byName.set(datum.metricName, (series = new Map()));
      if (series.has(labels)) {
        this.logger.warn('Prometheus sink: a cycle carried a series twice; serving the last value', { metric: datum.metricName, labels });
      }
      series.set(labels, datum);
    }
    const unknown = [...byName.keys()].filter((name) => !CATALOG.some((m) => m.metricName === name));
    if (unknown.length > 0) {
      this.logger.warn('Prometheus sink: skipped metrics not in the catalog', { metrics: unknown });
    }

    const labels = `{${CLUSTER_LABEL}="${escapeLabelValue(this.options.clusterId)}"}`;
    const lines: string[] = [];
    // Catalog order, so the page reads the same every cycle.
    for (const metric of CATALOG) {
      const series = byName.get(metric.metricName);
      if (!series) continue;
      const name = prometheusMetricName(metric);
      lines.push(`# HELP ${name} ${escapeHelp(`${metric.description} (CloudWatch: ${metric.metricName}, ${metric.unit})`)}`);
      lines.push(`# TYPE ${name} gauge`);
      for (const [seriesLabels, datum] of series) lines.push(`${name}${seriesLabels} ${formatValue(datum.value)}`);
    }
    if (datums.length > 0) {
      const newest = Math.max(...datums.map((d) => d.timestamp.getTime()));
      lines.push(`# HELP ${LAST_CYCLE_SERIES} Time of the collection cycle the other series come from, in seconds since the epoch.`);
      lines.push(`# TYPE ${LAST_CYCLE_SERIES} gauge`);
      lines.push(`${LAST_CYCLE_SERIES}${labels} ${formatValue(newest / 1000)}`);
    }
    return lines.length > 0 ? `${lines.join('\n')}\n` : '';
  }

  /** `{cluster="...",subnet_id="...",...}`: the cluster, then the datum's extra dimensions in snake case. */
  private labelsOf(datum: ClusterDatum): string {
    const pairs = [`${CLUSTER_LABEL}="${escapeLabelValue(this.options.clusterId)}"`];
    for (const [name, value] of Object.entries(datum.dimensions ?? {})) pairs.push(`${labelName(name)}="${escapeLabelValue(value)}"`);
    return `{${pairs.join(',')}}`;
  }
}

/** A dimension name as a Prometheus label name: snake case, anything outside [a-zA-Z0-9_] an underscore. */
export function labelName(dimension: string): string {
  const name = snakeCase(dimension).replace(/[^a-zA-Z0-9_]/g, '_') || '_';
  return /^[0-9]/.test(name) ? `_${name}` : name;
}

function formatValue(value: number): string {
  if (Number.isNaN(value)) return 'NaN';
  if (value === Infinity) return '+Inf';
  if (value === -Infinity) return '-Inf';
  return String(value);
}

function escapeLabelValue(value: string): string {
  return value.replace(/\\/g, '\\\\').replace(/"/g, '\\"').replace(/\n/g, '\\n');
}

function escapeHelp(text: string): string {
  return text.replace(/\\/g, '\\\\').replace(/\n/g, '\\n');
}

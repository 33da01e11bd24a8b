import * as net from 'node:net';
import { CATALOG, catalogMetric } from '../../common/catalog';
import { PrometheusSink, prometheusMetricName, snakeCase } from '../../runtime/prometheus-sink';
import type { ClusterDatum } from '../../runtime/types';

/** The reference parser (no type declarations are published for it). */
interface ParsedFamily {
  name: string;
  help: string;
  type: string;
  metrics: { value: string; labels?: Record<string, string> }[];
}
const parsePrometheusTextFormat = require('parse-prometheus-text-format') as (text: string) => ParsedFamily[];

const CLUSTER_ID = 'prod-eu-1';
const T0 = new Date('2026-11-25T10:00:00.000Z');

function cycle(timestamp: Date, valueOffset = 0): ClusterDatum[] {
  return CATALOG.map((m, i) => ({ metricName: m.metricName, unit: m.unit, value: valueOffset + i + 0.25, timestamp }));
}

/**
 * Checks what the lenient reference parser lets through: every line is a HELP, a TYPE or a sample;
 * each family has one HELP and one TYPE before its samples; names and label names are valid; no
 * series repeats; the text ends with a newline (text format 0.0.4).
 */
function expectStrictExposition(text: string): void {
  const name = '[a-zA-Z_:][a-zA-Z0-9_:]*';
  const sample = new RegExp(`^(${name})(\\{[a-zA-Z_][a-zA-Z0-9_]*="(?:[^"\\\\\\n]|\\\\[\\\\"n])*"(?:,[a-zA-Z_][a-zA-Z0-9_]*="(?:[^"\\\\\\n]|\\\\[\\\\"n])*")*\\})? (NaN|[+-]Inf|-?\\d+(?:\\.\\d+)?(?:e[+-]?\\d+)?)$`);
  const seenHelp = new Set<string>();
  const seenType = new Set<string>();
  const seenSeries = new Set<string>();
  if (text.length > 0) expect(text.endsWith('\n')).toBe(true);
  for (const line of text.split('\n').slice(0, -1)) {
    const help = new RegExp(`^# HELP (${name}) .+$`).exec(line);
    const type = new RegExp(`^# TYPE (${name}) gauge$`).exec(line);
    const series = sample.exec(line);
    if (help) {
      expect(seenHelp.has(help[1])).toBe(false);
      seenHelp.add(help[1]);
    } else if (type) {
      expect(seenType.has(type[1])).toBe(false);
      seenType.add(type[1]);
    } else if (series) {
      expect({ line, help: seenHelp.has(series[1]), type: seenType.has(series[1]) }).toEqual({ line, help: true, type: true });
      const key = `${series[1]}${series[2] ?? ''}`;
      expect(seenSeries.has(key)).toBe(false);
      seenSeries.add(key);
    } else {
      throw new Error(`not a valid exposition line: ${JSON.stringify(line)}`);
    }
  }
}

describe('PrometheusSink', () => {
  const started: PrometheusSink[] = [];
  afterEach(async () => {
    await Promise.all(started.splice(0).map((s) => s.stop()));
  });

  async function startSink(clusterId = CLUSTER_ID): Promise<PrometheusSink> {
    const sink = new PrometheusSink({ port: 0, host: '127.0.0.1', clusterId });
    started.push(sink);
    await sink.start();
    return sink;
  }

  async function scrape(sink: PrometheusSink): Promise<{ status: number; contentType: string | null; text: string; families: Map<string, ParsedFamily> }> {
    const response = await fetch(sink.url);
    const text = await response.text();
    const families = new Map(parsePrometheusTextFormat(text).map((f) => [f.name, f]));
    return { status: response.status, contentType: response.headers.get('content-type'), text, families };
  }

  test('without a host it listens on IPv6 and IPv4 alike, so an IPv6 cluster can scrape it', async () => {
    // GIVEN the sink's default bind (every interface)
    const sink = new PrometheusSink({ port: 0, clusterId: CLUSTER_ID });
    started.push(sink);
    await sink.start();
    await sink.publish(cycle(T0));
    const port = new URL(sink.url).port;
    // THEN the same series are served over both loopbacks
    const v4 = await (await fetch(`http://127.0.0.1:${port}/metrics`)).text();
    const v6 = await (await fetch(`http://[::1]:${port}/metrics`)).text();
    expect(v4).toContain(`cluster="${CLUSTER_ID}"`);
    expect(v6).toBe(v4);
  });

  test('serves every datum of the cycle as a gauge with HELP from the catalog and a cluster label', async () => {
    // GIVEN a sink that was handed one full cycle
    const sink = await startSink();
    const datums = cycle(T0);
    await sink.publish(datums);

    // WHEN it is scraped
    const { status, contentType, text, families } = await scrape(sink);

    // THEN the page is valid 0.0.4 text and carries each datum under its series name
    expect(status).toBe(200);
    expect(contentType).toBe('text/plain; version=0.0.4; charset=utf-8');
    expectStrictExposition(text);
    for (const datum of datums) {
      const metric = catalogMetric(datum.metricName);
      const family = families.get(prometheusMetricName(metric));
      expect(family).toMatchObject({ type: 'GAUGE', metrics: [{ value: String(datum.value), labels: { cluster: CLUSTER_ID } }] });
      expect(family?.help).toContain(metric.description);
    }
    expect(families.get('cni_metrics_helper_last_cycle_timestamp_seconds')?.metrics[0].value).toBe(String(T0.getTime() / 1000));
    expect(families.size).toBe(CATALOG.length + 1);
  });

  test('the six gauges upstream exported keep upstream\'s series names', async () => {
    const upstreamSeries = Object.fromEntries(
      ['eniMaxAvailable', 'maxIPAddresses', 'eniAllocated', 'totalIPAddresses', 'assignIPAddresses', 'totalIPv4Prefixes']
        .map((name) => [name, prometheusMetricName(catalogMetric(name))]),
    );

    expect(upstreamSeries).toEqual({
      eniMaxAvailable: 'awscni_eni_max', maxIPAddresses: 'awscni_ip_max', eniAllocated: 'awscni_eni_allocated',
      totalIPAddresses: 'awscni_total_ip_addresses', assignIPAddresses: 'awscni_assigned_ip_addresses',
      totalIPv4Prefixes: 'awscni_total_ipv4_prefixes',
    });
  });

  test('series names kept from upstream come from the catalog\'s prometheusName, nowhere else', () => {
    for (const metric of CATALOG) {
      if (metric.prometheusName !== undefined) expect(prometheusMetricName(metric)).toBe(metric.prometheusName);
      else expect(prometheusMetricName(metric)).toMatch(/^cni_metrics_helper_/);
    }
    // A catalog entry given a prometheusName is served under it, whatever its aggregation.
    expect(prometheusMetricName({ ...catalogMetric('addReqCount'), prometheusName: 'awscni_add_ip_req_count' })).toBe('awscni_add_ip_req_count');
  });

  test('extra dimensions become labels after cluster, one series per dimension set under one HELP and TYPE', async () => {
    // GIVEN a cycle with two subnets and their minimum
    const sink = await startSink();
    await sink.publish([
      { metricName: 'subnetAvailableIPs', unit: 'Count', value: 250, timestamp: T0, dimensions: { SubnetId: 'subnet-0a', AvailabilityZone: 'eu-west-1a' } },
      { metricName: 'subnetAvailableIPs', unit: 'Count', value: 12, timestamp: T0, dimensions: { SubnetId: 'subnet-0b', AvailabilityZone: 'eu-west-1b' } },
      { metricName: 'minSubnetAvailableIPs', unit: 'Count', value: 12, timestamp: T0 },
    ]);

    // WHEN scraped
    const { text, families } = await scrape(sink);

    // THEN each subnet is its own series with snake_case labels, and the page stays valid
    expectStrictExposition(text);
    expect(families.get('cni_metrics_helper_subnet_available_ips')?.metrics).toEqual([
      { value: '250', labels: { cluster: CLUSTER_ID, subnet_id: 'subnet-0a', availability_zone: 'eu-west-1a' } },
      { value: '12', labels: { cluster: CLUSTER_ID, subnet_id: 'subnet-0b', availability_zone: 'eu-west-1b' } },
    ]);
    expect(families.get('cni_metrics_helper_min_subnet_available_ips')?.metrics).toEqual([{ value: '12', labels: { cluster: CLUSTER_ID } }]);
    expect(text.match(/^# TYPE cni_metrics_helper_subnet_available_ips gauge$/gm)).toHaveLength(1);
  });

  test('the worst-node utilization is a percent series', () => {
    expect(prometheusMetricName(catalogMetric('maxNodeIPUtilization'))).toBe('cni_metrics_helper_max_node_ip_utilization_percent');
  });

  test('every other metric gets its own prefixed snake_case name, unique across the catalog', () => {
    const names = CATALOG.map(prometheusMetricName);

    expect(new Set(names).size).toBe(CATALOG.length);
    expect(prometheusMetricName(catalogMetric('awsAPILatency'))).toBe('cni_metrics_helper_aws_api_latency_ms');
    expect(prometheusMetricName(catalogMetric('minAvailableIPsPerNode'))).toBe('cni_metrics_helper_min_available_ips_per_node');
    expect(prometheusMetricName(catalogMetric('totalAssignedIPv4sPerCidr'))).toBe('cni_metrics_helper_total_assigned_ipv4s_per_cidr');
    expect(snakeCase('awsAPILatencyMaxP99')).toBe('aws_api_latency_max_p99');
    expect(snakeCase('podENIErr')).toBe('pod_eni_err');
    expect(snakeCase('ec2ApiReqCount')).toBe('ec2_api_req_count');
  });

  test('only the latest cycle is served: new values replace old ones and absent metrics disappear', async () => {
    // GIVEN a full cycle, then a cycle without the latency metrics
    const sink = await startSink();
    await sink.publish(cycle(T0));
    const later = new Date(T0.getTime() + 30_000);
    const second = cycle(later, 100).filter((d) => !d.metricName.startsWith('awsAPILatency'));
    await sink.publish(second);

    // WHEN scraped
    const { text, families } = await scrape(sink);

    // THEN the second cycle's values are served and the latency series are gone
    expectStrictExposition(text);
    expect(families.has('cni_metrics_helper_aws_api_latency_ms')).toBe(false);
    expect(families.get('awscni_eni_max')?.metrics[0].value).toBe(String(second.find((d) => d.metricName === 'eniMaxAvailable')?.value));
    expect(families.get('cni_metrics_helper_last_cycle_timestamp_seconds')?.metrics[0].value).toBe(String(later.getTime() / 1000));
  });

  test('special values and a cluster id needing escapes stay valid and read back exactly', async () => {
    const awkwardCluster = 'team "a"\\b\nc';
    const sink = await startSink(awkwardCluster);
    await sink.publish([
      { metricName: 'awsAPILatency', unit: 'Milliseconds', value: Number.NaN, timestamp: T0 },
      { metricName: 'eniAllocated', unit: 'Count', value: Number.POSITIVE_INFINITY, timestamp: T0 },
      { metricName: 'eniMaxAvailable', unit: 'Count', value: 1e21, timestamp: T0 },
    ]);

    const { text, families } = await scrape(sink);

    expectStrictExposition(text);
    expect(families.get('cni_metrics_helper_aws_api_latency_ms')?.metrics[0]).toEqual({ value: 'NaN', labels: { cluster: awkwardCluster } });
    expect(families.get('awscni_eni_allocated')?.metrics[0].value).toBe('+Inf');
    expect(Number(families.get('awscni_eni_max')?.metrics[0].value)).toBe(1e21);
  });

  test('metrics missing from the catalog are skipped, and the page stays valid', async () => {
    const sink = await startSink();
    await sink.publish([
      { metricName: 'notInTheCatalog', unit: 'Count', value: 1, timestamp: T0 },
      { metricName: 'addReqCount', unit: 'Count', value: 7, timestamp: T0 },
    ]);

    const { text, families } = await scrape(sink);

    expectStrictExposition(text);
    expect([...families.keys()]).toEqual(['cni_metrics_helper_add_req_count', 'cni_metrics_helper_last_cycle_timestamp_seconds']);
  });

  test('before the first cycle it serves an empty page', async () => {
    const sink = await startSink();

    const { status, text } = await scrape(sink);

    expect(status).toBe(200);
    expect(text).toBe('');
  });

  test('answers 404 away from /metrics and 405 to methods other than GET and HEAD', async () => {
    const sink = await startSink();
    await sink.publish(cycle(T0));
    const base = sink.url.replace(/\/metrics$/, '');

    expect((await fetch(`${base}/`)).status).toBe(404);
    expect((await fetch(`${base}/metricsx`)).status).toBe(404);
    expect((await fetch(`${base}/metrics?debug=1`)).status).toBe(200);
    const head = await fetch(sink.url, { method: 'HEAD' });
    expect(head.status).toBe(200);
    expect(Number(head.headers.get('content-length'))).toBeGreaterThan(0);
    const post = await fetch(sink.url, { method: 'POST' });
    expect(post.status).toBe(405);
    expect(post.headers.get('allow')).toBe('GET, HEAD');
  });

  test('stop closes the port, and stopping twice is harmless', async () => {
    const sink = await startSink();
    const url = sink.url;

    await sink.stop();
    await sink.stop();

    await expect(fetch(url)).rejects.toThrow();
  });

  test('start fails with the port and the fix when the port is taken', async () => {
    const blocker = net.createServer();
    await new Promise<void>((resolve) => blocker.listen(0, '127.0.0.1', resolve));
    const port = (blocker.address() as net.AddressInfo).port;
    try {
      const sink = new PrometheusSink({ port, host: '127.0.0.1', clusterId: CLUSTER_ID });
      started.push(sink);

      await expect(sink.start()).rejects.toThrow(`cannot listen on 127.0.0.1:${port}: EADDRINUSE; set PROMETHEUS_PORT to a free port`);
    } finally {
      await new Promise((resolve) => blocker.close(resolve));
    }
  });

  test('url names the fix before start, and bad ports are refused at construction', () => {
    expect(() => new PrometheusSink({ port: 0, clusterId: CLUSTER_ID }).url).toThrow(/await start\(\) first/);
    expect(() => new PrometheusSink({ port: 70000, clusterId: CLUSTER_ID })).toThrow(/port must be an integer from 0 to 65535, got 70000/);
  });
});

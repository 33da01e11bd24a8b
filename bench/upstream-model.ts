/**
 * A MODEL of the upstream cni-metrics-helper's collection cycle (aws/amazon-vpc-cni-k8s,
 * cmd/cni-metrics-helper), written from its algorithm, to time it against the same simulated
 * cluster as our collector. It is not upstream's code and does not reproduce upstream's
 * aggregation bugs; it reproduces what sets upstream's cycle time and request pattern:
 *
 * - one pod list, unpaginated (controller-runtime client List with a label selector, no limit);
 * - then every aws-node pod in turn, one at a time, through the API server's pod proxy
 *   (`RESTClient().Get()...SubResource("proxy").Name("<pod>:61678").Suffix("metrics").Do(ctx)`),
 *   with no timeout (the rest config sets none and the context has no deadline);
 * - every API request waits on the client-side token bucket that controller-runtime's GetConfig
 *   sets when the config has none: 20 requests/s, burst 30;
 * - a payload that does not parse ends the cycle (metricsListGrabAggregateConvert returns the error);
 * - CloudWatch: PutMetricData in batches of 20 datums (pkg/publisher maxDataPoints = 20), sent one
 *   after the other. Upstream flushes every 2 cycles; the model sends each cycle's datums at its end.
 *
 * Parsing uses parse-prometheus-text-format, the JavaScript stand-in for Go's expfmt text parser.
 */
import * as http from 'node:http';
import * as zlib from 'node:zlib';
import { CloudWatchClient, PutMetricDataCommand, type MetricDatum } from '@aws-sdk/client-cloudwatch';
import { CATALOG } from '../common/catalog';

// Reference parser without types of its own: the shape it returns.
interface ReferenceFamily {
  readonly name: string;
  readonly type: string;
  readonly metrics: readonly { readonly value?: string; readonly labels?: Record<string, string> }[];
}
const parseReference = require('parse-prometheus-text-format') as (text: string) => ReferenceFamily[];

/** controller-runtime's GetConfig defaults when the rest config sets no QPS. */
export const UPSTREAM_QPS = 20;
export const UPSTREAM_BURST = 30;
/** pkg/publisher: maxDataPoints per PutMetricData request. */
export const UPSTREAM_BATCH = 20;

export interface UpstreamModelOptions {
  /** Kube API server base URL, e.g. http://127.0.0.1:PORT (plain HTTP on loopback). */
  readonly apiServer: string;
  readonly namespace: string;
  readonly labelSelector: string;
  readonly ipamdPort: number;
  readonly clusterId: string;
  /** Called after each node, for progress. */
  readonly onNode?: (done: number, total: number) => void;
}

export interface UpstreamModelResult {
  readonly nodes: number;
  readonly scraped: number;
  /** Nodes whose request failed (upstream logs and skips them). */
  readonly failed: number;
  /** Set when a payload did not parse: upstream drops the rest of the cycle. */
  readonly parseError?: string;
  readonly listMs: number;
  readonly scrapeMs: number;
  /** Time spent waiting on the client-side rate limiter, all requests. */
  readonly rateLimitWaitMs: number;
  readonly publishMs: number;
  readonly cycleMs: number;
  readonly datums: number;
  readonly cloudWatchRequests: number;
}

/** golang.org/x/time/rate's token bucket as client-go uses it: starts full, one token per request. */
export class TokenBucket {
  private tokens: number;
  private last = performance.now();

  constructor(private readonly perSecond: number, private readonly burst: number) {
    this.tokens = burst;
  }

  /** Waits until a token is free and takes it; resolves with the time waited. */
  async take(): Promise<number> {
    const now = performance.now();
    this.tokens = Math.min(this.burst, this.tokens + ((now - this.last) / 1000) * this.perSecond);
    this.last = now;
    this.tokens -= 1;
    if (this.tokens >= 0) return 0;
    const waitMs = (-this.tokens / this.perSecond) * 1000;
    await new Promise((resolve) => setTimeout(resolve, waitMs));
    return waitMs;
  }
}

export async function runUpstreamModelCycle(options: UpstreamModelOptions): Promise<UpstreamModelResult> {
  const limiter = new TokenBucket(UPSTREAM_QPS, UPSTREAM_BURST);
  // Go's transport keeps the connection to the API server alive between sequential requests.
  const agent = new http.Agent({ keepAlive: true, maxSockets: 1 });
  const started = performance.now();
  let rateLimitWaitMs = 0;
  try {
    rateLimitWaitMs += await limiter.take();
    const selector = encodeURIComponent(options.labelSelector);
    const list = JSON.parse(await get(agent, `${options.apiServer}/api/v1/namespaces/${options.namespace}/pods?labelSelector=${selector}`)) as {
      items: { metadata: { name: string } }[];
    };
    const pods = list.items.map((p) => p.metadata.name);
    const listedAt = performance.now();

    const wanted = new Map(CATALOG.filter((m) => m.upstream && m.family).map((m) => [m.family as string, m.metricName]));
    const sums = new Map<string, number>();
    let scraped = 0;
    let failed = 0;
    let parseError: string | undefined;
    for (let i = 0; i < pods.length; i++) {
      rateLimitWaitMs += await limiter.take();
      let text: string;
      try {
        text = await get(agent, `${options.apiServer}/api/v1/namespaces/${options.namespace}/pods/${pods[i]}:${options.ipamdPort}/proxy/metrics`);
      } catch {
        failed++;
        options.onNode?.(i + 1, pods.length);
        continue;
      }
      let families: ReferenceFamily[];
      try {
        families = parseReference(text);
      } catch (err) {
        parseError = `pod ${pods[i]}: ${err instanceof Error ? err.message : String(err)}`;
        break;
      }
      for (const family of families) {
        const metricName = wanted.get(family.name);
        if (!metricName) continue;
        let total = 0;
        for (const m of family.metrics) total += Number(m.value ?? 0) || 0;
        sums.set(metricName, (sums.get(metricName) ?? 0) + total);
      }
      scraped++;
      options.onNode?.(i + 1, pods.length);
    }
    const scrapedAt = performance.now();

    const timestamp = new Date();
    const datums: MetricDatum[] = [...sums].map(([name, value]) => ({
      MetricName: name, Unit: 'Count', Value: value, Timestamp: timestamp,
      Dimensions: [{ Name: 'CLUSTER_ID', Value: options.clusterId }],
    }));
    const client = new CloudWatchClient({});
    let cloudWatchRequests = 0;
    try {
      for (let at = 0; at < datums.length; at += UPSTREAM_BATCH) {
        await client.send(new PutMetricDataCommand({ Namespace: 'Kubernetes', MetricData: datums.slice(at, at + UPSTREAM_BATCH) }));
        cloudWatchRequests++;
      }
    } finally {
      client.destroy();
    }
    const done = performance.now();
    return {
      nodes: pods.length,
      scraped,
      failed,
      ...(parseError ? { parseError } : {}),
      listMs: listedAt - started,
      scrapeMs: scrapedAt - listedAt,
      rateLimitWaitMs,
      publishMs: done - scrapedAt,
      cycleMs: done - started,
      datums: datums.length,
      cloudWatchRequests,
    };
  } finally {
    agent.destroy();
  }
}

/** GET with no timeout, as upstream; gzip accepted and decoded as Go's transport does. */
function get(agent: http.Agent, url: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const req = http.get(url, { agent, headers: { accept: 'application/json, */*', 'accept-encoding': 'gzip' } }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (chunk: Buffer) => chunks.push(chunk));
      res.on('error', reject);
      res.on('end', () => {
        const raw = Buffer.concat(chunks);
        const body = /gzip/.test(String(res.headers['content-encoding'] ?? '')) ? zlib.gunzipSync(raw) : raw;
        if ((res.statusCode ?? 0) >= 300) reject(new Error(`HTTP ${res.statusCode}: ${body.toString('utf8').slice(0, 200)}`));
        else resolve(body.toString('utf8'));
      });
    });
    req.on('error', reject);
  });
}

/**
 * Builds parser output (ParsedMetrics) and scrape results by hand, shaped as runtime/parse.ts
 * returns them: summary `_sum`/`_count`/quantile samples grouped under the base family name.
 */
import type { AwsNodePod, FamilyType, MetricFamily, NodeScrapeResult, ParsedMetrics, Sample } from '../../runtime/types';

type Labels = Record<string, string>;

export interface SummarySeries {
  readonly sum: number;
  readonly count: number;
  readonly labels?: Labels;
  /** Quantile label value ('0.5', '0.99', ...) to sample value. */
  readonly quantiles?: Record<string, number>;
}

export class ParsedMetricsBuilder {
  private readonly families = new Map<string, { type: FamilyType; samples: Sample[] }>();

  gauge(family: string, value: number, labels: Labels = {}): this {
    return this.add(family, 'gauge', { name: family, labels, value });
  }

  counter(family: string, value: number, labels: Labels = {}): this {
    return this.add(family, 'counter', { name: family, labels, value });
  }

  /** The process start time the default Prometheus registry serves, in seconds since the epoch. */
  processStart(seconds: number): this {
    return this.gauge('process_start_time_seconds', seconds);
  }

  /** One label set of a summary: its quantile samples, then `_sum` and `_count`, as ipamd writes them. */
  summary(family: string, series: SummarySeries): this {
    const labels = series.labels ?? {};
    for (const [quantile, value] of Object.entries(series.quantiles ?? {})) {
      this.add(family, 'summary', { name: family, labels: { ...labels, quantile }, value });
    }
    this.add(family, 'summary', { name: `${family}_sum`, labels, value: series.sum });
    return this.add(family, 'summary', { name: `${family}_count`, labels, value: series.count });
  }

  build(): ParsedMetrics {
    const parsed: ParsedMetrics = new Map();
    for (const [name, { type, samples }] of this.families) {
      const family: MetricFamily = { name, type, samples: [...samples] };
      parsed.set(name, family);
    }
    return parsed;
  }

  private add(family: string, type: FamilyType, sample: Sample): this {
    const held = this.families.get(family);
    if (held && held.type !== type) {
      throw new Error(`Family '${family}' was built as a ${held.type}; it cannot also hold ${type} samples`);
    }
    if (held) held.samples.push(sample);
    else this.families.set(family, { type, samples: [sample] });
    return this;
  }
}

export function metrics(): ParsedMetricsBuilder {
  return new ParsedMetricsBuilder();
}

/** Start time of every default pod: before any cycle the tests run. */
export const POD_START_MS = Date.UTC(2026, 0, 1, 0, 0, 0);

/** The aws-node pod of `nodeName`, named after it unless overridden. */
export function awsNodePod(nodeName: string, overrides: Partial<AwsNodePod> = {}): AwsNodePod {
  return { podName: `aws-node-${nodeName}`, namespace: 'kube-system', nodeName, startTimeMs: POD_START_MS, ...overrides };
}

export function okNode(
  nodeName: string, parsed: ParsedMetrics | ParsedMetricsBuilder, pod: Partial<AwsNodePod> = {},
): NodeScrapeResult {
  const built = parsed instanceof ParsedMetricsBuilder ? parsed.build() : parsed;
  return { ok: true, pod: awsNodePod(nodeName, pod), metrics: built, durationMs: 5 };
}

export function failedNode(nodeName: string, pod: Partial<AwsNodePod> = {}): NodeScrapeResult {
  return { ok: false, pod: awsNodePod(nodeName, pod), error: 'connect ECONNREFUSED 10.0.0.1:61678', durationMs: 5 };
}

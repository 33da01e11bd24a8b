/**
 * `--print`: each cycle's cluster datums on stdout as JSON lines (logs go to stderr).
 */
import type { ClusterDatum, Sink } from './types';

export class StdoutSink implements Sink {
  readonly name = 'stdout';

  constructor(private readonly clusterId: string, private readonly write: (line: string) => void = (l) => process.stdout.write(l)) {}

  async publish(datums: readonly ClusterDatum[]): Promise<void> {
    for (const d of datums) {
      this.write(JSON.stringify({
        timestamp: d.timestamp.toISOString(),
        cluster: this.clusterId,
        metric: d.metricName,
        value: d.value,
        unit: d.unit,
        ...(d.dimensions ? { dimensions: d.dimensions } : {}),
      }) + '\n');
    }
  }

  async flush(): Promise<void> {}

  async stop(): Promise<void> {}
}

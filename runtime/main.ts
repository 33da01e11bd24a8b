/**
 * The bundle's entry (dist/collector.js): the collector (runtime/collector.ts) when run as a
 * program, or a scrape worker when runtime/shards.ts starts the bundle as one (SCRAPE_WORKERS).
 * Each side is required only on its branch, and esbuild evaluates a required module only when the
 * require runs, so a worker does not load the CloudWatch and EC2 clients, the health server or the
 * sinks (about 60 MiB of RSS a worker less).
 *
 *   node collector.js [--once] [--print]     see runtime/collector.ts
 */
import { isMainThread, workerData } from 'node:worker_threads';
import { SHARD_WORKER_KIND, type ShardWorkerData } from './shard-protocol';

if (!isMainThread && (workerData as Partial<ShardWorkerData> | null)?.kind === SHARD_WORKER_KIND) {
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  (require('./shard-worker') as typeof import('./shard-worker')).runShardWorker(workerData as ShardWorkerData);
} else if (require.main === module) {
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  (require('./collector') as typeof import('./collector')).runCollectorProgram();
}

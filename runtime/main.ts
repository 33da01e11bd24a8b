/**
 * The bundle's entry (dist/collector.js): the collector (runtime/collector.ts) when run as a
 * program, or a scrape worker when runtime/shards.ts starts this file as one (SCRAPE_WORKERS
 * outside the bundle: tsx, tests; the bundle starts its workers from the small worker bundle it
 * carries, see runtime/build.js). Each side is required only on its branch, and esbuild evaluates
 * a required module only when the require runs, so a worker started from the whole bundle does
 * not load the CloudWatch and EC2 clients or the sinks (measured idle: 57 MiB of RSS, not 69).
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

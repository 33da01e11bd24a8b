/**
 * A scrape worker's whole program: runtime/build.js bundles it on its own and inlines it into the
 * collector bundle, which starts its workers from that text (runtime/worker-source.ts).
 */
import { workerData } from 'node:worker_threads';
import type { ShardWorkerData } from './shard-protocol';
import { runShardWorker } from './shard-worker';

runShardWorker(workerData as ShardWorkerData);

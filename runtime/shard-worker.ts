/**
 * One scrape worker thread (see runtime/shards.ts): it owns a share of the nodes, scrapes them with
 * its own Scraper, folds each payload into its own aggregator as it arrives, and answers each cycle
 * with its mergeable part and its failed nodes. The collector's bundle runs this when it is started
 * as a worker with `ShardWorkerData` (main.ts).
 */
import { parentPort } from 'node:worker_threads';
import { SCRAPED_FAMILIES } from '../common/catalog';
import { ClusterAggregator } from './aggregate';
import { collectShare } from './collect-share';
import { createLogger } from './log';
import { PassedProxyAuth } from './proxy-auth';
import { Scraper } from './scrape';
import type { FromShard, ShardWorkerData, ToShard } from './shard-protocol';

export function runShardWorker(data: ShardWorkerData): void {
  const port = parentPort;
  if (!port) throw new Error('runShardWorker runs in a worker thread only');
  const logger = createLogger(data.logLevel);
  // Keep-alive connections to the API server live as long as the worker, as in the main thread.
  const proxyAuth = new PassedProxyAuth(data.apiServer ?? 'http://api-server.invalid', { maxSockets: data.scrape.concurrency, idleSocketTimeoutMs: 60_000 });
  const scraper = new Scraper(proxyAuth, { ...data.scrape, keep: SCRAPED_FAMILIES, logger });
  const aggregator = new ClusterAggregator({ logger });
  const running = new Map<number, AbortController>();
  const answer = (message: FromShard): void => port.postMessage(message);

  port.on('message', (message: ToShard) => {
    switch (message.type) {
      case 'abort':
        running.get(message.id)?.abort();
        return;
      case 'reset':
        aggregator.reset();
        return;
      case 'cycle': {
        const abort = new AbortController();
        running.set(message.id, abort);
        if (message.credentials) proxyAuth.use(message.credentials);
        collectShare(scraper, aggregator, message.pods, new Date(message.cycleTimeMs), abort.signal).then(
          (done) => answer({ type: 'done', id: message.id, ...done }),
          (err: unknown) => answer({ type: 'failed', id: message.id, error: err instanceof Error ? err.message : String(err) }),
        ).finally(() => running.delete(message.id));
        return;
      }
    }
  });
}

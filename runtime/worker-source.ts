/**
 * Where a scrape worker's code comes from. In dist/collector.js, runtime/build.js has inlined the
 * worker's own small bundle (runtime/shard-worker-main.ts) as text; outside the bundle (tsx, tests)
 * there is none, and a worker runs the entry file itself (runtime/main.ts starts it as a worker).
 */
declare const __SCRAPE_WORKER_SOURCE__: string | undefined;

/** How a worker is started: from inlined code, or from a file. */
export type WorkerScript = { readonly source: string } | { readonly file: string };

/** The inlined worker, else `file` (the entry, which dispatches to the worker when started as one). */
export function scrapeWorkerScript(file: string): WorkerScript {
  const source = typeof __SCRAPE_WORKER_SOURCE__ === 'string' ? __SCRAPE_WORKER_SOURCE__ : '';
  return source !== '' ? { source } : { file };
}

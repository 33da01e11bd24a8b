/**
 * SIGTERM exit times of a collector bundle under each outside fault, against loopback servers:
 *
 *   npx tsx soak/stop-times.ts                          dist/collector.js (npm run build:collector first)
 *   npx tsx soak/stop-times.ts --bundle other/collector.js   e.g. an older build, to compare
 *
 * Faults (one collector each, side by side): PutMetricData hangs; PutMetricData answers one byte
 * every 2 s; the pod list hangs; a node trickles its body (scrape timeout 60 s, past the grace).
 * For the two CloudWatch faults it also counts the cycles finished in the 5 s after the first
 * PutMetricData opened (a loop held by publishing finishes none). A collector still running 70 s
 * after SIGTERM is killed and reported as such. Prints one JSON object.
 */
import * as path from 'node:path';
import { COLLECTOR_BUNDLE, startCollector } from '../test/support/collector-process';
import type { CloudWatchFault } from '../test/support/cloudwatch-server';
import { NODE_A, NODE_B, printedCycles, startLoopbackCluster, waitFor, waitForPrintedCycles } from '../test/support/loopback-cluster';

const GIVE_UP_MS = 70_000;
const FAULTS = ['putMetricDataHangs', 'putMetricDataTrickles', 'podListHangs', 'nodeTrickles'] as const;
type Fault = (typeof FAULTS)[number];

interface StopTime {
  readonly fault: Fault;
  /** Exit code or signal; `SIGKILL` when it was still running GIVE_UP_MS after SIGTERM. */
  readonly exit: number | string;
  readonly exitMs: number;
  /** Cycles printed in the 5 s after the first PutMetricData opened (CloudWatch faults only). */
  readonly cyclesWhilePutMetricDataOpen?: number;
}

async function measure(fault: Fault, bundle: string): Promise<StopTime> {
  const cluster = await startLoopbackCluster([NODE_A, NODE_B], [], fault === 'nodeTrickles' ? { SCRAPE_TIMEOUT_MS: '60000' } : {});
  try {
    const cloudWatchFault: CloudWatchFault | undefined = fault === 'putMetricDataHangs' ? 'hang' : fault === 'putMetricDataTrickles' ? 'trickle' : undefined;
    if (cloudWatchFault) cluster.cloudWatch.faults.push(...Array<CloudWatchFault>(100).fill(cloudWatchFault));
    const run = startCollector(['--print'], cluster.env, GIVE_UP_MS + 20_000, bundle);
    let cyclesWhilePutMetricDataOpen: number | undefined;
    if (cloudWatchFault) {
      await cluster.cloudWatch.waitForRequests(1, 15_000);
      const before = printedCycles(run).length;
      await new Promise((resolve) => setTimeout(resolve, 5_000));
      cyclesWhilePutMetricDataOpen = printedCycles(run).length - before;
    } else {
      await waitForPrintedCycles(run, 2, 15_000);
      if (fault === 'podListHangs') {
        cluster.kube.setListDelay(10 * 60_000);
        const lists = cluster.kube.counters.lists;
        await waitFor(() => cluster.kube.counters.lists > lists, 5_000, 'a held pod list');
      } else {
        cluster.fleet.setBehaviour(1, 'slow-body');
        const requests = cluster.fleet.counters.requestsPerEndpoint[1];
        await waitFor(() => cluster.fleet.counters.requestsPerEndpoint[1] > requests, 5_000, 'a trickling scrape');
      }
      await new Promise((resolve) => setTimeout(resolve, 500));
    }
    const signalledAt = Date.now();
    run.child.kill('SIGTERM');
    const killer = setTimeout(() => run.child.kill('SIGKILL'), GIVE_UP_MS);
    const exit = await run.exited;
    clearTimeout(killer);
    return { fault, exit, exitMs: Date.now() - signalledAt, ...(cyclesWhilePutMetricDataOpen !== undefined ? { cyclesWhilePutMetricDataOpen } : {}) };
  } finally {
    await cluster.stop();
  }
}

async function main(argv: readonly string[]): Promise<void> {
  const at = argv.indexOf('--bundle');
  const bundle = at >= 0 ? path.resolve(argv[at + 1] ?? '') : COLLECTOR_BUNDLE;
  const results = await Promise.all(FAULTS.map((fault) => measure(fault, bundle)));
  process.stdout.write(JSON.stringify({ bundle, node: process.version, date: new Date().toISOString(), results }, null, 2) + '\n');
}

main(process.argv.slice(2)).then(() => process.exit(0), (err: unknown) => {
  process.stderr.write(`stop-times failed: ${err instanceof Error ? err.stack : String(err)}\n`);
  process.exit(1);
});

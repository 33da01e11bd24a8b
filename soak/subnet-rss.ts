/**
 * What subnet metrics cost in memory: the bundled collector (dist/collector.js) run against the
 * loopback cluster (two fixture nodes, CloudWatch) without and with SUBNET_IDS (a loopback EC2
 * endpoint with 3 subnets), RSS and peak RSS read from /proc after the collector started and
 * after its fifth cycle, several runs each, alternating.
 *
 *   npx tsx soak/subnet-rss.ts [runs]     (after `npm run build:collector`)
 */
import * as fs from 'node:fs';
import { startCollector } from '../test/support/collector-process';
import { startEc2Server } from '../test/support/ec2-server';
import { NODE_A, NODE_B, startLoopbackCluster, waitForLogCount } from '../test/support/loopback-cluster';

const SUBNETS = [
  { subnetId: 'subnet-0a1b2c3d4e5f60718', availabilityZone: 'us-east-1a', availableIps: 4011 },
  { subnetId: 'subnet-1a2b3c4d', availabilityZone: 'us-east-1b', availableIps: 37 },
  { subnetId: 'subnet-0fedcba9876543210', availabilityZone: 'us-east-1c', availableIps: 250 },
];

function memoryKb(pid: number): { rssKb: number; peakKb: number } {
  const status = fs.readFileSync(`/proc/${pid}/status`, 'utf8');
  const field = (name: string): number => Number(new RegExp(`^${name}:\\s+(\\d+) kB`, 'm').exec(status)?.[1]);
  return { rssKb: field('VmRSS'), peakKb: field('VmHWM') };
}

async function measure(withSubnets: boolean): Promise<{ startedKb: number; fiveCyclesKb: number; peakKb: number }> {
  const ec2 = await startEc2Server({ subnets: SUBNETS });
  const cluster = await startLoopbackCluster([NODE_A, NODE_B], [], {
    AWS_ENDPOINT_URL_EC2: ec2.endpoint,
    ...(withSubnets ? { SUBNET_IDS: SUBNETS.map((s) => s.subnetId).join(',') } : {}),
  });
  const run = startCollector([], cluster.env, 60_000);
  try {
    await run.waitForLog((l) => l.msg === 'collector started', 20_000);
    const started = memoryKb(run.child.pid as number);
    await waitForLogCount(run, 'cycle done', 5, 30_000);
    if (withSubnets && ec2.requests.length === 0) throw new Error('no DescribeSubnets call was made');
    if (!withSubnets && ec2.requests.length > 0) throw new Error('a DescribeSubnets call was made without SUBNET_IDS');
    const after = memoryKb(run.child.pid as number);
    return { startedKb: started.rssKb, fiveCyclesKb: after.rssKb, peakKb: after.peakKb };
  } finally {
    run.child.kill('SIGTERM');
    await run.exited;
    await Promise.all([cluster.stop(), ec2.close()]);
  }
}

async function main(): Promise<void> {
  const runs = Number(process.argv[2] ?? 3);
  const results: Record<'off' | 'on', Array<{ startedKb: number; fiveCyclesKb: number; peakKb: number }>> = { off: [], on: [] };
  for (let i = 0; i < runs; i++) {
    results.off.push(await measure(false));
    results.on.push(await measure(true));
  }
  const mb = (kb: number): string => (kb / 1024).toFixed(1);
  for (const key of ['off', 'on'] as const) {
    const r = results[key];
    const median = (pick: (x: typeof r[number]) => number): number => r.map(pick).sort((a, b) => a - b)[Math.floor(r.length / 2)];
    process.stdout.write(
      `subnets ${key}: RSS at start ${r.map((x) => mb(x.startedKb)).join('/')} MB (median ${mb(median((x) => x.startedKb))}), ` +
        `after 5 cycles ${r.map((x) => mb(x.fiveCyclesKb)).join('/')} MB (median ${mb(median((x) => x.fiveCyclesKb))}), ` +
        `peak ${r.map((x) => mb(x.peakKb)).join('/')} MB (median ${mb(median((x) => x.peakKb))})\n`,
    );
  }
}

main().catch((err) => {
  process.stderr.write(`${err instanceof Error ? err.stack : String(err)}\n`);
  process.exit(1);
});

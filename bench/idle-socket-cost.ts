/**
 * What one idle keep-alive connection costs the collector: direct mode keeps one per node between
 * cycles (the scraper's agent, maxFreeSockets 1 per host, idle timeout 60 s), so at 100,000 nodes
 * the collector would hold 100,000 of them. Opens `--sockets` keep-alive connections to a server in
 * another process, each to its own 127.x address (one agent pool entry per host, as per node), lets
 * them go idle, and reports heap and RSS per socket.
 *
 *   node --expose-gc --import tsx bench/idle-socket-cost.ts [--sockets 5000]
 */
import { spawn } from 'node:child_process';
import * as http from 'node:http';
import { loopbackAddresses } from '../test/support/ipamd-fleet';

const SERVER = `
const http = require('http');
const server = http.createServer((req, res) => res.end('ok\\n'));
server.keepAliveTimeout = 600000;
server.listen(0, '0.0.0.0', () => process.stdout.write(String(server.address().port) + '\\n'));
process.stdin.on('end', () => process.exit(0)); process.stdin.resume();
`;

function argValue(name: string, fallback: string): string {
  const i = process.argv.indexOf(name);
  return i === -1 ? fallback : process.argv[i + 1];
}

function memory(): { heapMiB: number; rssMiB: number } {
  (globalThis as { gc?: () => void }).gc?.();
  const m = process.memoryUsage();
  return { heapMiB: m.heapUsed / 2 ** 20, rssMiB: m.rss / 2 ** 20 };
}

function get(agent: http.Agent, host: string, port: number): Promise<void> {
  return new Promise((resolve, reject) => {
    http.get({ host, port, path: '/metrics', agent }, (res) => {
      res.resume();
      res.on('end', () => resolve());
    }).on('error', reject);
  });
}

async function main(): Promise<void> {
  const sockets = Number(argValue('--sockets', '5000'));
  const server = spawn(process.execPath, ['-e', SERVER], { stdio: ['pipe', 'pipe', 'inherit'] });
  try {
    const port = await new Promise<number>((resolve) => server.stdout.once('data', (d: Buffer) => resolve(Number(String(d).trim()))));
    // The scraper's direct agent, as in runtime/scrape.ts.
    const agent = new http.Agent({ keepAlive: true, maxFreeSockets: 1, timeout: 60_000, scheduling: 'lifo' });
    const hosts = loopbackAddresses(sockets);
    const before = memory();
    for (let i = 0; i < hosts.length; i += 200) await Promise.all(hosts.slice(i, i + 200).map((h) => get(agent, h, port)));
    await new Promise((resolve) => setTimeout(resolve, 200));
    const after = memory();
    const idle = Object.values(agent.freeSockets).reduce((n, list) => n + (list?.length ?? 0), 0);
    process.stdout.write(`${idle} idle keep-alive sockets: heap +${(after.heapMiB - before.heapMiB).toFixed(1)} MiB `
      + `(${((after.heapMiB - before.heapMiB) * 1024 / idle).toFixed(2)} KiB each), RSS +${(after.rssMiB - before.rssMiB).toFixed(1)} MiB `
      + `(${((after.rssMiB - before.rssMiB) * 1024 / idle).toFixed(2)} KiB each); at 100,000 nodes: heap +${((after.heapMiB - before.heapMiB) / idle * 100_000).toFixed(0)} MiB, `
      + `RSS +${((after.rssMiB - before.rssMiB) / idle * 100_000).toFixed(0)} MiB\n`);
    agent.destroy();
  } finally {
    server.stdin?.end();
    server.kill();
  }
}

main().catch((err: unknown) => {
  process.stderr.write(`idle-socket-cost: ${err instanceof Error ? err.stack : String(err)}\n`);
  process.exit(1);
});

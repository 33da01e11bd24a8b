/** Ports and probes for the collector's health endpoints in integration tests. */
import * as net from 'node:net';

/**
 * A port free right now on every interface: bound on `::` (dual-stack), as the collector binds its
 * health port a moment later, so a port free on IPv4 but taken on IPv6 is never handed out.
 */
export async function freePort(): Promise<number> {
  const server = net.createServer();
  await new Promise<void>((resolve) => server.listen(0, '::', resolve));
  const { port } = server.address() as net.AddressInfo;
  await new Promise((resolve) => server.close(resolve));
  return port;
}

/** GETs `url`: its status and trimmed body. */
export async function probe(url: string): Promise<{ status: number; body: string }> {
  const response = await fetch(url);
  return { status: response.status, body: (await response.text()).trim() };
}

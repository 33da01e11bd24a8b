/**
 * Binding a server on every interface, IPv6 and IPv4 alike: the kubelet probes a pod on its IP,
 * which is an IPv6 address on an IPv6 cluster. `::` with dual-stack takes both families on Linux;
 * where the kernel has no IPv6 (or the address is unavailable), 0.0.0.0 takes IPv4.
 */
import type * as net from 'node:net';

/** Tried in order; a host whose address family the machine lacks is skipped. */
export const ALL_INTERFACES: readonly string[] = ['::', '0.0.0.0'];

/** Errors that mean "this address family or address is not here", not "the port is taken". */
const FAMILY_MISSING = new Set(['EAFNOSUPPORT', 'EADDRNOTAVAIL', 'EINVAL', 'EPROTONOSUPPORT']);

/** Listens on the first of `hosts` this machine has; resolves with the host bound. */
export async function listenOnAny(server: net.Server, port: number, hosts: readonly string[] = ALL_INTERFACES): Promise<string> {
  let lastError: Error | undefined;
  for (const host of hosts) {
    try {
      await listenOnce(server, port, host);
      return host;
    } catch (err) {
      lastError = err as Error;
      if (!FAMILY_MISSING.has((err as NodeJS.ErrnoException).code ?? '')) throw err;
    }
  }
  throw lastError ?? new Error('no host to listen on');
}

function listenOnce(server: net.Server, port: number, host: string): Promise<void> {
  return new Promise<void>((resolve, reject) => {
    const onError = (err: Error): void => reject(err);
    server.once('error', onError);
    // ipv6Only false: `::` also accepts IPv4 (as ::ffff:a.b.c.d), whatever the sysctl default.
    server.listen({ port, host, ipv6Only: false }, () => {
      server.off('error', onError);
      resolve();
    });
  });
}

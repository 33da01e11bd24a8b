/**
 * IP addresses read from pod objects. A pod's status is written by whoever can write pods, so a
 * podIP is text to check, never a host to hand to a URL as it is.
 */
import * as net from 'node:net';

/**
 * `text` as a canonical IP address (IPv4 dotted quad, or IPv6 in its shortest form), or undefined
 * when it is not exactly one IP address. Zone ids (`fe80::1%eth0`) are refused: a node's address
 * has none.
 */
export function canonicalIP(text: string | undefined): string | undefined {
  if (text === undefined || text.includes('%')) return undefined;
  const family = net.isIP(text);
  if (family === 4) return text;
  // The URL parser writes IPv6 in its shortest lower-case form, so equal addresses compare equal.
  if (family === 6) return new URL(`http://[${text}]/`).hostname.slice(1, -1);
  return undefined;
}

/** The host part of a URL for an IP address: IPv6 in brackets. */
export function urlHost(ip: string): string {
  return net.isIPv6(ip) ? `[${ip}]` : ip;
}

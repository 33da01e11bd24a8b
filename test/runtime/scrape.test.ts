import * as http from 'node:http';
import type { AddressInfo } from 'node:net';
import { CoreV1Api, KubeConfig } from '@kubernetes/client-node';
import { SCRAPED_FAMILIES } from '../../common/catalog';
import { Scraper, failedFirst, type ScrapeOptions } from '../../runtime/scrape';
import type { AwsNodePod, NodeScrapeResult } from '../../runtime/types';
import {
  fleetAwsNodePods, fleetKubePods, GARBAGE_LINE, loopbackAddresses, startIpamdFleet, type IpamdFleet, type IpamdFleetOptions,
} from '../support/ipamd-fleet';
import { startKubeApiServer, type KubeApiServer } from '../support/kube-api-server';

const TOKEN = 'scrape-token';

/** An ipamd payload in the shape ipamd writes it, with values that tell the nodes apart. */
function ipamdPayload(i: number): string {
  return [
    '# HELP awscni_eni_allocated The number of ENIs allocated',
    '# TYPE awscni_eni_allocated gauge',
    `awscni_eni_allocated ${i + 1}`,
    '# HELP awscni_total_ip_addresses The total number of IP addresses',
    '# TYPE awscni_total_ip_addresses gauge',
    `awscni_total_ip_addresses ${10 * (i + 1)}`,
    '# HELP awscni_add_ip_req_count The number of add IP address requests',
    '# TYPE awscni_add_ip_req_count counter',
    `awscni_add_ip_req_count ${100 + i}`,
    '# HELP go_goroutines Number of goroutines that currently exist.',
    '# TYPE go_goroutines gauge',
    'go_goroutines 42',
    '',
  ].join('\n');
}

function scrapeOptions(overrides: Partial<ScrapeOptions> = {}): ScrapeOptions {
  return { mode: 'direct', port: 61678, timeoutMs: 2000, concurrency: 8, maxBytes: 1 << 20, keep: SCRAPED_FAMILIES, ...overrides };
}

/** The single sample value of a gauge or counter family, from a successful result. */
function valueOf(result: NodeScrapeResult, family: string): number | undefined {
  return result.ok ? result.metrics.get(family)?.samples[0]?.value : undefined;
}

function errorOf(result: NodeScrapeResult): string {
  return result.ok ? '' : result.error;
}

describe('Scraper in direct mode', () => {
  let fleet: IpamdFleet | undefined;
  let scraper: Scraper | undefined;

  afterEach(async () => {
    scraper?.close();
    await fleet?.close();
    scraper = undefined;
    fleet = undefined;
  });

  async function start(fleetOptions: Partial<IpamdFleetOptions> & { count: number }, overrides: Partial<ScrapeOptions> = {}): Promise<{ pods: AwsNodePod[]; scraper: Scraper }> {
    fleet = await startIpamdFleet({ payload: ipamdPayload, ...fleetOptions });
    scraper = new Scraper(new KubeConfig(), scrapeOptions({ port: fleet.port, ...overrides }));
    return { pods: fleetAwsNodePods(fleet), scraper };
  }

  test('scrapes several 127.0.0.x hosts and parses each node\'s payload with the real parser', async () => {
    const { pods, scraper } = await start({ count: 5 });

    const results = await scraper.scrapeAll(pods);

    // THEN one ok result per pod, in order, with that node's own values and only kept families
    expect(results.map((r) => r.pod.podIP)).toEqual(['127.0.0.2', '127.0.0.3', '127.0.0.4', '127.0.0.5', '127.0.0.6']);
    expect(results.map((r) => valueOf(r, 'awscni_eni_allocated'))).toEqual([1, 2, 3, 4, 5]);
    expect(results.map((r) => valueOf(r, 'awscni_add_ip_req_count'))).toEqual([100, 101, 102, 103, 104]);
    expect(results.every((r) => r.ok && !r.metrics.has('go_goroutines'))).toBe(true);
    expect(results.every((r) => r.durationMs >= 0)).toBe(true);
    expect(Array.from(fleet!.counters.requestsPerEndpoint)).toEqual([1, 1, 1, 1, 1]);
  });

  test('keeps one connection per node between cycles up to directKeepAliveMaxNodes, and none above it', async () => {
    // GIVEN 3 keep-alive ipamd endpoints
    const { pods, scraper: kept } = await start({ count: 3 }, { directKeepAliveMaxNodes: 3 });
    // WHEN scraped twice with a bound of 3 nodes: THEN 3 connections, reused by the second cycle
    await kept.scrapeAll(pods);
    await kept.scrapeAll(pods);
    expect(fleet!.counters.connectionsAccepted).toBe(3);
    expect(fleet!.counters.openConnections).toBe(3);
    kept.close();
    // WHEN a scraper with a bound of 2 scrapes the 3 nodes twice: THEN a connection per scrape, none left open
    const closing = new Scraper(new KubeConfig(), scrapeOptions({ port: fleet!.port, directKeepAliveMaxNodes: 2 }));
    const acceptedBefore = fleet!.counters.connectionsAccepted;
    try {
      expect((await closing.scrapeAll(pods)).every((r) => r.ok)).toBe(true);
      await closing.scrapeAll(pods);
      await new Promise((resolve) => setTimeout(resolve, 50));
      expect(fleet!.counters.connectionsAccepted - acceptedBefore).toBe(6);
      expect(fleet!.counters.openConnections).toBe(0);
    } finally {
      closing.close();
    }
  });

  test('reads plain (not gzipped) answers too, and sees a changed payload on the next cycle', async () => {
    const { pods, scraper } = await start({ count: 2, gzip: false });

    const first = await scraper.scrapeAll(pods);
    fleet!.setPayload(1, ipamdPayload(41));
    const second = await scraper.scrapeAll(pods);

    expect(first.map((r) => valueOf(r, 'awscni_eni_allocated'))).toEqual([1, 2]);
    expect(second.map((r) => valueOf(r, 'awscni_eni_allocated'))).toEqual([1, 42]);
  });

  test('reuses keep-alive connections from one cycle to the next', async () => {
    const { pods, scraper } = await start({ count: 3 });

    await scraper.scrapeAll(pods);
    await scraper.scrapeAll(pods);

    expect(fleet!.counters.requests).toBe(6);
    expect(fleet!.counters.connectionsAccepted).toBe(3);
  });

  test('a hanging node costs about the timeout while the others succeed', async () => {
    // GIVEN node 1 accepts and never answers; the timeout is 500 ms
    const timeoutMs = 500;
    const { pods, scraper } = await start({ count: 4, behaviour: (i) => (i === 1 ? 'hang' : 'ok') }, { timeoutMs });

    const started = performance.now();
    const results = await scraper.scrapeAll(pods);
    const elapsed = performance.now() - started;

    expect(results.map((r) => r.ok)).toEqual([true, false, true, true]);
    expect(results.map((r) => valueOf(r, 'awscni_eni_allocated'))).toEqual([1, undefined, 3, 4]);
    expect(errorOf(results[1])).toMatch(
      /^node node-1 \(pod kube-system\/aws-node-1\): timed out after 500 ms while connecting and waiting for response headers \(GET http:\/\/127\.0\.0\.3:\d+\/metrics\)$/,
    );
    expect(results[1].durationMs).toBeGreaterThanOrEqual(timeoutMs - 5);
    expect(elapsed).toBeLessThan(timeoutMs + 2000);
  });

  test('a node whose body trickles without end is cut at the timeout', async () => {
    const { pods, scraper } = await start({ count: 2, behaviour: (i) => (i === 0 ? 'slow-body' : 'ok') }, { timeoutMs: 300 });

    const results = await scraper.scrapeAll(pods);

    expect(errorOf(results[0])).toMatch(/timed out after 300 ms while reading the body/);
    expect(results[1].ok).toBe(true);
  });

  test('a garbage payload fails only that node, naming the line', async () => {
    const { pods, scraper } = await start({ count: 3, behaviour: (i) => (i === 2 ? 'garbage' : 'ok') });

    const results = await scraper.scrapeAll(pods);

    expect(results.map((r) => r.ok)).toEqual([true, true, false]);
    expect(errorOf(results[2])).toMatch(new RegExp(`^node node-2 \\(pod kube-system/aws-node-2\\): invalid exposition text at line ${GARBAGE_LINE}: `));
  });

  test('a payload larger than maxBytes fails that node, gzipped or not', async () => {
    const big = `${ipamdPayload(0)}${'# padding comment line\n'.repeat(200)}`;
    const { pods, scraper } = await start({ count: 2, payload: (i) => (i === 0 ? big : ipamdPayload(i)) }, { maxBytes: 2048 });
    const gzipped = await scraper.scrapeAll(pods);
    scraper.close();
    await fleet!.close();

    const plain = await start({ count: 2, payload: (i) => (i === 0 ? big : ipamdPayload(i)), gzip: false }, { maxBytes: 2048 });
    const plainResults = await plain.scraper.scrapeAll(plain.pods);

    for (const results of [gzipped, plainResults]) {
      expect(errorOf(results[0])).toMatch(/payload larger than 2048 bytes/);
      expect(valueOf(results[1], 'awscni_eni_allocated')).toBe(2);
    }
  });

  test('a connection reset in the middle of the body fails that node', async () => {
    const { pods, scraper } = await start({ count: 2, behaviour: (i) => (i === 0 ? 'reset' : 'ok') });

    const results = await scraper.scrapeAll(pods);

    expect(errorOf(results[0])).toMatch(/^node node-0 .*(connection reset by the peer|connection closed after \d+ bytes, before the body was complete)/);
    expect(results[1].ok).toBe(true);
  });

  test('a 500 answer fails that node with the status and the body', async () => {
    const { pods, scraper } = await start({ count: 2, behaviour: (i) => (i === 1 ? 'http500' : 'ok') });

    const results = await scraper.scrapeAll(pods);

    expect(errorOf(results[1])).toMatch(/HTTP 500 Internal Server Error: ipamd: internal error collecting metrics/);
    expect(results[0].ok).toBe(true);
  });

  test('a node with nothing listening, or without a pod IP, fails alone', async () => {
    const { pods, scraper } = await start({ count: 1 });
    const unreachable: AwsNodePod = { podName: 'aws-node-x', namespace: 'kube-system', nodeName: 'node-x', podIP: '127.0.0.1' };
    const noIp: AwsNodePod = { podName: 'aws-node-y', namespace: 'kube-system', nodeName: 'node-y' };

    const results = await scraper.scrapeAll([unreachable, ...pods, noIp]);

    expect(errorOf(results[0])).toMatch(/^node node-x .*connection refused/);
    expect(results[1].ok).toBe(true);
    expect(errorOf(results[2])).toMatch(/^node node-y \(pod kube-system\/aws-node-y\): the pod has no podIP/);
  });

  test('connects only to a podIP that is an IP address: a path, a port or userinfo in it fails the node unsent', async () => {
    // GIVEN one good node and podIPs that would steer a URL elsewhere if pasted into it
    const { pods, scraper } = await start({ count: 1 });
    const host = pods[0].podIP as string;
    const hostile = [`${host}:8080/steal?x=#`, `user@${host}`, `${host}/x`, 'fe80::1%eth0', 'localhost']
      .map((podIP, i): AwsNodePod => ({ podName: `aws-node-h${i}`, namespace: 'kube-system', nodeName: `node-h${i}`, podIP }));

    const results = await scraper.scrapeAll([...hostile, ...pods]);

    // THEN each hostile one fails with a clear cause, no request reached any endpoint but the good one
    expect(results.slice(0, hostile.length).map(errorOf)).toEqual(hostile.map((p) =>
      expect.stringMatching(new RegExp(`^node ${p.nodeName} .*is not an IP address, so direct scraping does not connect to it$`))));
    expect(results[hostile.length].ok).toBe(true);
    expect(fleet!.counters.requests).toBe(1);
  });

  test('an IPv6 podIP is bracketed in the URL and scraped', async () => {
    const server = http.createServer((req, res) => res.end(req.url === '/metrics' ? ipamdPayload(4) : ''));
    await new Promise<void>((resolve) => server.listen(0, '::1', resolve));
    try {
      scraper = new Scraper(new KubeConfig(), scrapeOptions({ port: (server.address() as AddressInfo).port }));

      // written long-hand: the URL carries the short form
      const [result] = await scraper.scrapeAll([{ podName: 'p6', namespace: 'kube-system', nodeName: 'n6', podIP: '0:0:0:0:0:0:0:1' }]);

      expect(valueOf(result, 'awscni_eni_allocated')).toBe(5);
    } finally {
      scraper?.close();
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    }
  });

  test('a failed answer is quoted as a short printable excerpt, never the body whole', async () => {
    // GIVEN a 500 whose 3 KB body has an escape sequence, a newline, non-ASCII text, and a secret past the excerpt
    const body = `\u001b[31mboom\u001b[0m\nline two é ${'x'.repeat(3000)} SECRET-TOKEN`;
    const server = http.createServer((_req, res) => {
      res.writeHead(500);
      res.end(body);
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    try {
      scraper = new Scraper(new KubeConfig(), scrapeOptions({ port: (server.address() as AddressInfo).port }));

      const [result] = await scraper.scrapeAll([{ podName: 'p', namespace: 'kube-system', nodeName: 'n', podIP: '127.0.0.1' }]);

      const error = errorOf(result);
      const quoted = /HTTP 500 Internal Server Error: (.*) \(GET /.exec(error)?.[1] ?? '';
      expect(quoted.startsWith('?[31mboom?[0m line two ? xxx')).toBe(true);
      expect(quoted.length).toBe(160 + '...'.length);
      expect(error).not.toContain('SECRET');
      expect(/^[\x20-\x7e]*$/.test(error)).toBe(true);
    } finally {
      scraper?.close();
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    }
  });

  test('decodes invalid UTF-8 as U+FFFD and leaves the verdict to the parser', async () => {
    // GIVEN an endpoint whose HELP text carries bytes that are not UTF-8
    const raw = Buffer.concat([
      Buffer.from('# HELP awscni_eni_allocated ENIs '), Buffer.from([0xff, 0xfe]),
      Buffer.from('\n# TYPE awscni_eni_allocated gauge\nawscni_eni_allocated 3\n'),
    ]);
    const server = http.createServer((_req, res) => res.end(raw));
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    try {
      const port = (server.address() as AddressInfo).port;
      scraper = new Scraper(new KubeConfig(), scrapeOptions({ port }));

      const [result] = await scraper.scrapeAll([{ podName: 'p', namespace: 'kube-system', nodeName: 'n', podIP: '127.0.0.1' }]);

      expect(result.ok && result.metrics.get('awscni_eni_allocated')?.help).toBe('ENIs \uFFFD\uFFFD');
      expect(valueOf(result, 'awscni_eni_allocated')).toBe(3);
    } finally {
      scraper?.close();
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    }
  });

  test('retries once on a new connection when a reused keep-alive connection turns out closed', async () => {
    // GIVEN an endpoint that drops a connection when a second request arrives on it, without answering
    const requestsBySocket = new Map<unknown, number>();
    const server = http.createServer((req, res) => {
      const seen = (requestsBySocket.get(req.socket) ?? 0) + 1;
      requestsBySocket.set(req.socket, seen);
      if (seen > 1) {
        req.socket.destroy();
        return;
      }
      res.end(ipamdPayload(0));
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    try {
      scraper = new Scraper(new KubeConfig(), scrapeOptions({ port: (server.address() as AddressInfo).port }));
      const pod: AwsNodePod = { podName: 'p', namespace: 'kube-system', nodeName: 'n', podIP: '127.0.0.1' };

      const first = await scraper.scrapeAll([pod]);
      const second = await scraper.scrapeAll([pod]);

      // THEN the second cycle reused the idle connection, lost it, and succeeded on a new one
      expect([first[0].ok, second[0].ok]).toEqual([true, true]);
      expect(requestsBySocket.size).toBe(2);
    } finally {
      scraper?.close();
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    }
  });

  test('starts the nodes that failed last cycle first, and still returns results in the pods\' order', async () => {
    // GIVEN four nodes scraped one at a time, the third failing in the first cycle
    const { pods, scraper } = await start({ count: 4, behaviour: (i) => (i === 2 ? 'http500' : 'ok') }, { concurrency: 1 });
    const arrivals = (order: string[]) => (r: NodeScrapeResult) => { order.push(r.pod.nodeName); return r; };
    const first: string[] = [];
    await scraper.scrapeAll(pods, undefined, arrivals(first));
    // WHEN it recovers and the next cycle runs
    fleet!.setBehaviour(2, 'ok');
    const second: string[] = [];
    const results = await scraper.scrapeAll(pods, undefined, arrivals(second));
    // THEN the failed node went first (a hanging one's timeout then overlaps the others), results keep order
    const names = pods.map((p) => p.nodeName);
    expect(first).toEqual(names);
    expect(second).toEqual([names[2], names[0], names[1], names[3]]);
    expect(results.map((r) => r.pod.nodeName)).toEqual(names);
    expect(results.every((r) => r.ok)).toBe(true);
  });

  test('failedFirst orders indexes of previously failed nodes first, each group stable', () => {
    const pod = (nodeName: string): AwsNodePod => ({ podName: `aws-node-${nodeName}`, namespace: 'kube-system', nodeName });
    const pods = ['a', 'b', 'c', 'd', 'e'].map(pod);
    expect(failedFirst(pods, new Set(['d', 'b']))).toEqual([1, 3, 0, 2, 4]);
    expect(failedFirst(pods, new Set())).toEqual([0, 1, 2, 3, 4]);
  });

  test('never has more scrapes in flight than the concurrency', async () => {
    // GIVEN 12 nodes that each take 100 ms, and a concurrency of 3
    const { pods, scraper } = await start({ count: 12, latencyMs: 100 }, { concurrency: 3 });

    const results = await scraper.scrapeAll(pods);

    expect(results.every((r) => r.ok)).toBe(true);
    expect(fleet!.counters.peakInFlight).toBe(3);
    expect(fleet!.counters.peakOpenConnections).toBeLessThanOrEqual(12);
  });

  test('an abort stops new scrapes and ends the ones in flight', async () => {
    // GIVEN 10 slow nodes scraped two at a time
    const { pods, scraper } = await start({ count: 10, latencyMs: 1000 }, { concurrency: 2 });
    const controller = new AbortController();

    const scraping = scraper.scrapeAll(pods, controller.signal);
    setTimeout(() => controller.abort(), 100);
    const results = await scraping;

    expect(results).toHaveLength(10);
    expect(results.every((r) => !r.ok)).toBe(true);
    expect(results.slice(0, 2).map(errorOf)).toEqual([
      expect.stringMatching(/^node node-0 .*aborted while connecting and waiting for response headers/),
      expect.stringMatching(/^node node-1 .*aborted while connecting and waiting for response headers/),
    ]);
    expect(results.slice(2).every((r) => errorOf(r).endsWith('not scraped: the cycle was aborted'))).toBe(true);
    expect(fleet!.counters.requests).toBe(2);
  });

  test('fails every node once closed, without throwing', async () => {
    const { pods, scraper } = await start({ count: 2 });
    scraper.close();

    const results = await scraper.scrapeAll(pods);

    expect(results.map(errorOf)).toEqual([expect.stringMatching(/the scraper is closed$/), expect.stringMatching(/the scraper is closed$/)]);
  });

  test('rejects options that cannot work, naming the option', () => {
    expect(() => new Scraper(new KubeConfig(), scrapeOptions({ concurrency: 0 }))).toThrow(/ScrapeOptions.concurrency must be a positive integer, got 0/);
    expect(() => new Scraper(new KubeConfig(), scrapeOptions({ port: 70000 }))).toThrow(/ScrapeOptions.port must be at most 65535/);
  });
});

describe('Scraper in proxy mode', () => {
  let fleet: IpamdFleet;
  let api: KubeApiServer;
  let kc: KubeConfig;
  let scraper: Scraper | undefined;

  afterEach(async () => {
    scraper?.close();
    scraper = undefined;
    await api.close();
    await fleet.close();
  });

  async function start(fleetOptions: Partial<IpamdFleetOptions> & { count: number }, inProcess = false): Promise<void> {
    fleet = await startIpamdFleet({ payload: ipamdPayload, ...fleetOptions, listen: !inProcess });
    api = await startKubeApiServer({
      token: TOKEN,
      pods: fleetKubePods(fleet),
      ...(inProcess ? { proxyHandler: (target, req, res) => { fleet.serve(target.pod.status.podIP ?? '', target.path, req, res); } } : {}),
    });
    kc = new KubeConfig();
    kc.loadFromString(api.kubeconfigYaml);
  }

  test('scrapes through the API server pod proxy with the kubeconfig token, reusing connections', async () => {
    // GIVEN 10 nodes behind the API server, scraped two at a time
    await start({ count: 10 });
    scraper = new Scraper(kc, scrapeOptions({ mode: 'proxy', port: fleet.port, concurrency: 2 }));
    const pods = fleetAwsNodePods(fleet);

    const first = await scraper.scrapeAll(pods);
    const second = await scraper.scrapeAll(pods);

    expect(first.map((r) => valueOf(r, 'awscni_eni_allocated'))).toEqual([1, 2, 3, 4, 5, 6, 7, 8, 9, 10]);
    expect(second.every((r) => r.ok)).toBe(true);
    expect(api.counters.unauthorized).toBe(0);
    // The colon is sent literally, as kubectl does
    expect(api.requests[0].url).toBe(`/api/v1/namespaces/kube-system/pods/aws-node-0:${fleet.port}/proxy/metrics`);
    expect(api.counters.connections).toBeLessThanOrEqual(2);
  });

  test('serves the fleet in-process when the API server is given a proxy handler', async () => {
    await start({ count: 3, behaviour: (i) => (i === 1 ? 'garbage' : 'ok') }, true);
    scraper = new Scraper(kc, scrapeOptions({ mode: 'proxy', port: 61678 }));

    const results = await scraper.scrapeAll(fleetAwsNodePods(fleet));

    expect(results.map((r) => valueOf(r, 'awscni_eni_allocated'))).toEqual([1, undefined, 3]);
    expect(errorOf(results[1])).toMatch(new RegExp(`line ${GARBAGE_LINE}:`));
    expect(fleet.counters.requests).toBe(3);
  });

  test('a throttling API server (429) halves the scrapes in flight once per round, and they grow back with answers', async () => {
    // GIVEN 48 nodes scraped 16 at a time, where the first 16 requests get 429 after 30 ms and
    // every later one an answer after 30 ms; the server counts requests in flight
    fleet = await startIpamdFleet({ payload: ipamdPayload, count: 48, listen: false, latencyMs: 30 });
    let arrivals = 0;
    let inFlight = 0;
    let peakAfterThrottling = 0;
    api = await startKubeApiServer({
      token: TOKEN,
      pods: fleetKubePods(fleet),
      proxyHandler: (target, req, res) => {
        const k = ++arrivals;
        inFlight++;
        if (k > 16) peakAfterThrottling = Math.max(peakAfterThrottling, inFlight);
        res.on('close', () => { inFlight--; });
        if (k <= 16) {
          setTimeout(() => {
            res.writeHead(429, { 'content-type': 'application/json', 'retry-after': '0' });
            res.end(JSON.stringify({ kind: 'Status', code: 429, message: 'Too many requests, please try again later.' }));
          }, 30);
          return;
        }
        fleet.serve(target.pod.status.podIP ?? '', target.path, req, res);
      },
    });
    kc = new KubeConfig();
    kc.loadFromString(api.kubeconfigYaml);
    scraper = new Scraper(kc, scrapeOptions({ mode: 'proxy', port: 61678, concurrency: 16 }));

    const results = await scraper.scrapeAll(fleetAwsNodePods(fleet));

    // THEN 16 nodes fail with the 429, 32 answer; one cut (16 -> 8) for the whole first round,
    // and later requests never reach 16 in flight again: from a window of 8, 32 answers grow it
    // to at most sqrt(8^2 + 2*32) = 11.3 (each answer adds 1/window)
    expect(results.filter((r) => !r.ok).map(errorOf).every((e) => /HTTP 429/.test(e))).toBe(true);
    expect(results.filter((r) => r.ok)).toHaveLength(32);
    expect(scraper.limit.counters).toMatchObject({ throttled: 16, cuts: 1 });
    expect(peakAfterThrottling).toBeGreaterThanOrEqual(8);
    expect(peakAfterThrottling).toBeLessThanOrEqual(12);
  });

  test('the API server accepts the colon encoded as %3A, as client-node\'s generated proxy call sends it', async () => {
    await start({ count: 1 });
    const core = kc.makeApiClient(CoreV1Api);

    const body = await core.connectGetNamespacedPodProxyWithPath({
      name: `aws-node-0:${fleet.port}`, namespace: 'kube-system', path: 'metrics',
    });

    expect(api.requests[0].url).toBe(`/api/v1/namespaces/kube-system/pods/aws-node-0%3A${fleet.port}/proxy/metrics`);
    expect(api.requests[0].status).toBe(200);
    expect(body).toContain('awscni_eni_allocated 1');
  });

  test('a pod the API server does not know fails with the API server\'s message', async () => {
    await start({ count: 1 });
    scraper = new Scraper(kc, scrapeOptions({ mode: 'proxy', port: fleet.port }));
    const ghost: AwsNodePod = { podName: 'aws-node-gone', namespace: 'kube-system', nodeName: 'node-gone', podIP: '127.0.0.9' };

    const [result] = await scraper.scrapeAll([ghost]);

    expect(errorOf(result)).toMatch(/^node node-gone \(pod kube-system\/aws-node-gone\): HTTP 404 Not Found: pods "aws-node-gone" not found/);
  });

  test('a hanging node behind the proxy costs about the timeout and the others succeed', async () => {
    await start({ count: 3, behaviour: (i) => (i === 0 ? 'hang' : 'ok') });
    scraper = new Scraper(kc, scrapeOptions({ mode: 'proxy', port: fleet.port, timeoutMs: 400 }));

    const started = performance.now();
    const results = await scraper.scrapeAll(fleetAwsNodePods(fleet));

    expect(errorOf(results[0])).toMatch(/timed out after 400 ms/);
    expect(results.slice(1).every((r) => r.ok)).toBe(true);
    expect(performance.now() - started).toBeLessThan(400 + 2000);
  });

  test('rejected credentials fail every node with the 401', async () => {
    await start({ count: 2 });
    const wrong = new KubeConfig();
    wrong.loadFromString(api.kubeconfigYaml.replace(TOKEN, 'wrong'));
    scraper = new Scraper(wrong, scrapeOptions({ mode: 'proxy', port: fleet.port }));

    const results = await scraper.scrapeAll(fleetAwsNodePods(fleet));

    expect(results.map(errorOf)).toEqual([expect.stringMatching(/HTTP 401 Unauthorized/), expect.stringMatching(/HTTP 401 Unauthorized/)]);
  });
});

describe('startIpamdFleet', () => {
  test('lays endpoints on consecutive loopback addresses, skipping .0 and .255', () => {
    const hosts = loopbackAddresses(300);

    expect(hosts.slice(0, 2)).toEqual(['127.0.0.2', '127.0.0.3']);
    expect(hosts).not.toContain('127.0.0.255');
    expect(hosts).not.toContain('127.0.1.0');
    expect(hosts[253]).toBe('127.0.1.1');
    expect(new Set(hosts).size).toBe(300);
  });

  test('answers with Connection: close when keep-alive is off', async () => {
    const fleet = await startIpamdFleet({ count: 2, payload: ipamdPayload, keepAlive: false });
    const scraper = new Scraper(new KubeConfig(), scrapeOptions({ port: fleet.port }));
    try {
      const pods = fleetAwsNodePods(fleet);
      await scraper.scrapeAll(pods);
      const results = await scraper.scrapeAll(pods);

      expect(results.every((r) => r.ok)).toBe(true);
      expect(fleet.counters.connectionsAccepted).toBe(4);
    } finally {
      scraper.close();
      await fleet.close();
    }
  });
});

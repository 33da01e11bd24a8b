import * as fs from 'node:fs';
import * as http from 'node:http';
import * as os from 'node:os';
import * as path from 'node:path';
import { KubeConfig } from '@kubernetes/client-node';
import { discoverNodes, DiscoveryError, type DiscoverOptions } from '../../runtime/discover';
import { loadKubeConfig } from '../../runtime/kube-config';
import type { Logger } from '../../runtime/log';
import { kubePod, startKubeApiServer, type KubeApiServer, type KubePod } from '../support/kube-api-server';

const TOKEN = 'test-token';
/** Fast backoff so retry tests take milliseconds. */
const FAST_RETRY = { baseDelayMs: 5, maxDelayMs: 50, requestTimeoutMs: 2000 };

function options(overrides: Partial<DiscoverOptions> = {}): DiscoverOptions {
  return { namespace: 'kube-system', labelSelector: 'k8s-app=aws-node', pageSize: 500, retry: FAST_RETRY, ...overrides };
}

function kubeConfigFor(server: KubeApiServer): KubeConfig {
  const kc = new KubeConfig();
  kc.loadFromString(server.kubeconfigYaml);
  return kc;
}

/** aws-node pods aws-node-0 .. aws-node-(n-1), node-i at 10.0.0.(i+1). */
function awsNodePods(n: number): KubePod[] {
  return Array.from({ length: n }, (_, i) => kubePod({ name: `aws-node-${i}`, nodeName: `node-${i}`, podIP: `10.0.0.${i + 1}` }));
}

function recordingLogger(): Logger & { lines: { level: string; msg: string; fields?: Record<string, unknown> }[] } {
  const lines: { level: string; msg: string; fields?: Record<string, unknown> }[] = [];
  const at = (level: string) => (msg: string, fields?: Record<string, unknown>): void => { lines.push({ level, msg, fields }); };
  return { lines, debug: at('debug'), info: at('info'), warn: at('warn'), error: at('error') };
}

function get(url: string, headers: Record<string, string> = {}): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    http.get(url, { headers }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (c: string) => { body += c; });
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
    }).on('error', reject);
  });
}

describe('discoverNodes: the pods', () => {
  let server: KubeApiServer;
  let kc: KubeConfig;

  beforeEach(async () => {
    server = await startKubeApiServer({ token: TOKEN });
    kc = kubeConfigFor(server);
  });
  afterEach(async () => {
    await server.close();
  });

  test('follows continue tokens across several pages and returns every pod once', async () => {
    // GIVEN 7 aws-node pods and pages of 3
    server.setPods(awsNodePods(7));

    // WHEN
    const { pods } = await discoverNodes(kc, options({ pageSize: 3 }));

    // THEN three list calls, the later two continuing the first
    expect(pods.map((p) => p.podName).sort()).toEqual(awsNodePods(7).map((p) => p.metadata.name).sort());
    const lists = server.requests.filter((r) => r.kind === 'list');
    expect(lists).toHaveLength(3);
    expect(lists.every((r) => r.url.includes('limit=3'))).toBe(true);
    expect(lists[0].url).not.toContain('continue=');
    expect(lists[1].url).toContain('continue=');
    expect(lists[2].url).toContain('continue=');
  });

  test('sends the label selector and keeps only the pods it selects in the namespace', async () => {
    // GIVEN aws-node pods, a kube-proxy pod in the same namespace and an aws-node pod elsewhere
    server.setPods([
      ...awsNodePods(2),
      kubePod({ name: 'kube-proxy-a', nodeName: 'node-0', podIP: '10.0.0.1', labels: { 'k8s-app': 'kube-proxy' } }),
      kubePod({ name: 'aws-node-x', namespace: 'other', nodeName: 'node-9', podIP: '10.0.0.9' }),
    ]);

    const { pods } = await discoverNodes(kc, options());

    expect(pods.map((p) => p.podName).sort()).toEqual(['aws-node-0', 'aws-node-1']);
    expect(decodeURIComponent(server.requests[0].url)).toContain('labelSelector=k8s-app=aws-node');
  });

  test('maps node name, pod IP, uid, the aws-node container start, restarts and id, falling back to the pod start', async () => {
    server.setPods([
      kubePod({ name: 'aws-node-a', nodeName: 'node-a', podIP: '10.0.0.1', restartCount: 3, containerID: 'containerd://abc123',
        startTime: '2026-01-01T00:00:00Z', containerStartedAt: '2026-01-01T00:05:00Z' }),
      { ...kubePod({ name: 'aws-node-b', nodeName: 'node-b', podIP: '10.0.0.2', startTime: '2026-01-02T00:00:00Z' }),
        status: { phase: 'Running', podIP: '10.0.0.2', startTime: '2026-01-02T00:00:00Z' } },
    ]);

    const { pods } = await discoverNodes(kc, options());

    expect(pods).toEqual([
      { podName: 'aws-node-a', namespace: 'kube-system', nodeName: 'node-a', podIP: '10.0.0.1', startTimeMs: Date.parse('2026-01-01T00:05:00Z'),
        podUid: 'uid-aws-node-a', restartCount: 3, containerID: 'containerd://abc123' },
      // no container status: no restart count nor container id, and the pod's start stands in
      { podName: 'aws-node-b', namespace: 'kube-system', nodeName: 'node-b', podIP: '10.0.0.2', startTimeMs: Date.parse('2026-01-02T00:00:00Z'),
        podUid: 'uid-aws-node-b' },
    ]);
  });

  test('skips pods that are not scheduled or not running, and logs why at debug', async () => {
    const logger = recordingLogger();
    server.setPods([
      ...awsNodePods(1),
      kubePod({ name: 'aws-node-pending', phase: 'Pending' }),
      kubePod({ name: 'aws-node-failed', nodeName: 'node-7', phase: 'Failed' }),
    ]);

    const { pods } = await discoverNodes(kc, options({ logger }));

    expect(pods.map((p) => p.podName)).toEqual(['aws-node-0']);
    const skipped = logger.lines.filter((l) => l.level === 'debug' && l.msg.includes('skipping'));
    expect(skipped.map((l) => l.fields?.pod).sort()).toEqual(['aws-node-failed', 'aws-node-pending']);
  });

  test('keeps one pod per node while a DaemonSet update runs two, preferring the one not terminating', async () => {
    // GIVEN node-0 has an old pod being deleted and a new one; node-1 has two live pods (surge)
    server.setPods([
      kubePod({ name: 'aws-node-old0', nodeName: 'node-0', podIP: '10.0.0.1', startTime: '2026-01-01T00:00:00Z',
        deletionTimestamp: '2026-01-03T00:00:00Z' }),
      kubePod({ name: 'aws-node-new0', nodeName: 'node-0', podIP: '10.0.0.1', startTime: '2025-12-01T00:00:00Z' }),
      kubePod({ name: 'aws-node-old1', nodeName: 'node-1', podIP: '10.0.0.2', startTime: '2026-01-01T00:00:00Z' }),
      kubePod({ name: 'aws-node-new1', nodeName: 'node-1', podIP: '10.0.0.2', startTime: '2026-01-02T00:00:00Z' }),
    ]);

    const discovery = await discoverNodes(kc, options());

    expect(discovery.pods.map((p) => p.podName).sort()).toEqual(['aws-node-new0', 'aws-node-new1']);
    expect(discovery.skipped).toEqual({ notRunning: 0, notHostNetwork: 0, podIPNotHostIP: 0, duplicateOnNode: 2 });
  });

  test('retries a 429 and succeeds', async () => {
    server.setPods(awsNodePods(2));
    server.failNextLists(1, { status: 429 });

    const { pods } = await discoverNodes(kc, options());

    expect(pods).toHaveLength(2);
    expect(server.requests.map((r) => r.status)).toEqual([429, 200]);
  });

  test('waits as long as Retry-After says, within the delay cap', async () => {
    // GIVEN a 429 asking for 1 s, then one asking for 60 s (beyond the 1.1 s cap)
    const logger = recordingLogger();
    server.setPods(awsNodePods(1));
    server.failNextLists(1, { status: 429, retryAfterSeconds: 1 });
    server.failNextLists(1, { status: 429, retryAfterSeconds: 60 });

    const { pods } = await discoverNodes(kc, options({ logger, retry: { ...FAST_RETRY, maxDelayMs: 1100 } }));

    expect(pods).toHaveLength(1);
    const delays = logger.lines.filter((l) => l.level === 'warn').map((l) => l.fields?.delayMs);
    expect(delays).toEqual([1000, 1100]);
  });

  test('retries 500 and 503 with exponential backoff and succeeds', async () => {
    const logger = recordingLogger();
    server.setPods(awsNodePods(3));
    server.failNextLists(1, { status: 500 });
    server.failNextLists(1, { status: 503 });

    const { pods } = await discoverNodes(kc, options({ logger }));

    expect(pods).toHaveLength(3);
    expect(server.requests.map((r) => r.status)).toEqual([500, 503, 200]);
    expect(logger.lines.filter((l) => l.level === 'warn').map((l) => l.fields?.delayMs)).toEqual([5, 10]);
  });

  test('gives up after the attempt limit with an error naming the call, namespace, selector and status', async () => {
    server.failNextLists(10, { status: 500 });

    const listing = discoverNodes(kc, options({ retry: { ...FAST_RETRY, maxAttempts: 3 } }));

    await expect(listing).rejects.toThrow(
      /listNamespacedPod\(namespace='kube-system', labelSelector='k8s-app=aws-node'\) failed: HTTP 500: injected fault: HTTP 500 \(after 3 attempts\)/,
    );
    expect(server.counters.lists).toBe(3);
  });

  test('does not retry a 403 and says which permission is missing', async () => {
    server.failNextLists(1, { status: 403 });

    await expect(discoverNodes(kc, options())).rejects.toThrow(/HTTP 403.*list on pods/);
    expect(server.counters.lists).toBe(1);
  });

  test('fails at once on rejected credentials', async () => {
    const wrong = new KubeConfig();
    wrong.loadFromString(server.kubeconfigYaml.replace(TOKEN, 'wrong-token'));

    await expect(discoverNodes(wrong, options())).rejects.toThrow(/HTTP 401.*credentials rejected/);
    expect(server.counters.unauthorized).toBe(1);
  });

  test('restarts the list from the first page when a continue token has expired', async () => {
    // GIVEN 5 pods in pages of 2, and the first continued page answered 410 Gone
    const logger = recordingLogger();
    server.setPods(awsNodePods(5));
    server.failNextLists(1, { status: 410, onlyContinued: true });

    const { pods } = await discoverNodes(kc, options({ pageSize: 2, logger }));

    // THEN page 1, 410, then pages 1, 2, 3 again: every pod exactly once
    expect(pods.map((p) => p.podName).sort()).toEqual(['aws-node-0', 'aws-node-1', 'aws-node-2', 'aws-node-3', 'aws-node-4']);
    expect(server.requests.map((r) => r.status)).toEqual([200, 410, 200, 200, 200]);
    expect(server.requests[2].url).not.toContain('continue=');
    expect(logger.lines.some((l) => l.level === 'info' && l.msg.includes('continue token expired'))).toBe(true);
  });

  test('stops restarting after the restart limit', async () => {
    server.setPods(awsNodePods(5));
    server.failNextLists(10, { status: 410, onlyContinued: true });

    const listing = discoverNodes(kc, options({ pageSize: 2, retry: { ...FAST_RETRY, maxListRestarts: 2 } }));

    await expect(listing).rejects.toThrow(/HTTP 410.*restarted 2 times/);
    expect(server.counters.lists).toBe(6);
  });

  test('ends a page request that takes longer than the request timeout, and retries it', async () => {
    server.setPods(awsNodePods(1));
    server.setListDelay(2000);

    const listing = discoverNodes(kc, options({ retry: { ...FAST_RETRY, requestTimeoutMs: 100, maxAttempts: 2 } }));

    await expect(listing).rejects.toThrow(/timed out after 100 ms while connecting and waiting for response headers \(after 2 attempts\)/);
    expect(server.counters.lists).toBe(2);
  });

  test('stops when aborted during a backoff', async () => {
    server.failNextLists(10, { status: 503 });
    const controller = new AbortController();
    const reason = new Error('collector stopping');

    const listing = discoverNodes(kc, options({ signal: controller.signal, retry: { ...FAST_RETRY, baseDelayMs: 10_000, maxDelayMs: 10_000 } }));
    setTimeout(() => controller.abort(reason), 50);

    await expect(listing).rejects.toBe(reason);
    expect(server.counters.lists).toBe(1);
  });

  describe('direct mode keeps only pods it may connect to', () => {
    test('skips pods off the host network, and podIPs that are not a valid IP equal to the hostIP, counting each', async () => {
      // GIVEN good pods (IPv4, and IPv6 written two ways) and six that direct mode must not scrape
      const logger = recordingLogger();
      server.setPods([
        kubePod({ name: 'aws-node-v4', nodeName: 'n-v4', podIP: '10.0.0.1' }),
        kubePod({ name: 'aws-node-v6', nodeName: 'n-v6', podIP: 'fd00:0:0::a', hostIP: 'fd00::A' }),
        kubePod({ name: 'aws-node-pod-net', nodeName: 'n1', podIP: '10.0.0.2', hostNetwork: false }),
        kubePod({ name: 'aws-node-path', nodeName: 'n2', podIP: '127.0.0.5:8080/steal?x=#', hostIP: '127.0.0.5' }),
        kubePod({ name: 'aws-node-userinfo', nodeName: 'n3', podIP: 'user@127.0.0.5', hostIP: 'user@127.0.0.5' }),
        kubePod({ name: 'aws-node-other-ip', nodeName: 'n4', podIP: '10.0.0.4', hostIP: '10.0.0.40' }),
        kubePod({ name: 'aws-node-zone', nodeName: 'n5', podIP: 'fe80::1%eth0' }),
        kubePod({ name: 'aws-node-no-ip', nodeName: 'n6' }),
      ]);

      // WHEN discovered for direct scraping, and for proxy scraping
      const direct = await discoverNodes(kc, options({ scrapeMode: 'direct', logger }));
      const proxy = await discoverNodes(kc, options({ scrapeMode: 'proxy' }));

      // THEN direct keeps the two good ones and counts the six by reason; proxy keeps all eight
      expect(direct.pods.map((p) => p.podName).sort()).toEqual(['aws-node-v4', 'aws-node-v6']);
      expect(direct.skipped).toEqual({ notRunning: 0, notHostNetwork: 1, podIPNotHostIP: 5, duplicateOnNode: 0 });
      expect(proxy.pods).toHaveLength(8);
      const debug = logger.lines.filter((l) => l.level === 'debug' && l.msg.startsWith('skipping aws-node pod'));
      expect(debug.map((l) => l.fields?.pod).sort()).toEqual(
        ['aws-node-no-ip', 'aws-node-other-ip', 'aws-node-path', 'aws-node-pod-net', 'aws-node-userinfo', 'aws-node-zone']);
      expect(logger.lines.filter((l) => l.level !== 'debug')).toEqual([]);
    });

    test('a bad pod on a node does not hide a good one on the same node', async () => {
      server.setPods([
        kubePod({ name: 'aws-node-a-bad', nodeName: 'n', podIP: '10.0.0.9', hostNetwork: false, startTime: '2026-02-01T00:00:00Z' }),
        kubePod({ name: 'aws-node-b-good', nodeName: 'n', podIP: '10.0.0.1', startTime: '2026-01-01T00:00:00Z' }),
      ]);

      const direct = await discoverNodes(kc, options({ scrapeMode: 'direct' }));

      expect(direct.pods.map((p) => p.podName)).toEqual(['aws-node-b-good']);
      expect(direct.skipped).toEqual({ notRunning: 0, notHostNetwork: 1, podIPNotHostIP: 0, duplicateOnNode: 0 });
    });
  });

  describe('a list the API server never ends', () => {
    /** A page of `n` new pods on new nodes, named from `from`. */
    const freshPods = (from: number, n: number): KubePod[] =>
      Array.from({ length: n }, (_, i) => kubePod({ name: `aws-node-f${from + i}`, nodeName: `node-f${from + i}`, podIP: '10.0.0.1' }));

    test('continue tokens A, B, A end the list at the repeat, with an error naming the loop', async () => {
      // GIVEN a server that answers continue tokens A, B, A, B, ... forever
      server.setListOverride((call) => ({ kind: 'page', pods: freshPods(call.count * 2, 2), continue: call.count % 2 === 1 ? 'A' : 'B' }));

      const listing = discoverNodes(kc, options({ pageSize: 2 }));

      // THEN pages 1 (A), 2 (B), 3 (A again): three list calls, then a 'continue-loop' failure
      await expect(listing).rejects.toThrow(/returned a continue token it had returned before \(page 3\).*next cycle lists again/);
      await expect(listing).rejects.toMatchObject({ reason: 'continue-loop' });
      expect(server.counters.lists).toBe(3);

      // AND the next cycle retries from the first page, and succeeds once the server mends
      server.setListOverride(undefined);
      server.setPods(awsNodePods(3));
      expect((await discoverNodes(kc, options({ pageSize: 2 }))).pods).toHaveLength(3);
      expect(server.requests[3].url).not.toContain('continue=');
    });

    test('endless pages of new pods stop at maxPods, holding no more than that', async () => {
      // GIVEN pages of 10 new pods, each with a fresh continue token, and a cap of 45 pods
      server.setListOverride((call) => ({ kind: 'page', pods: freshPods(call.count * 10, 10), continue: `t${call.count}` }));

      const listing = discoverNodes(kc, options({ pageSize: 10, maxPods: 45 }));

      // THEN page 5 brings the count to 50 > 45: five calls, then 'too-many-pods'
      await expect(listing).rejects.toMatchObject({ reason: 'too-many-pods' });
      await expect(listing).rejects.toThrow(/returned more than 45 pods \(50 by page 5\)/);
      expect(server.counters.lists).toBe(5);
    });

    test('endless empty pages stop at the page cap derived from maxPods and the page size', async () => {
      // GIVEN empty pages with fresh tokens; maxPods 45 in pages of 10: cap 2 * ceil(45 / 10) + 8 = 18 pages
      server.setListOverride((call) => ({ kind: 'page', pods: [], continue: `t${call.count}` }));

      const listing = discoverNodes(kc, options({ pageSize: 10, maxPods: 45 }));

      await expect(listing).rejects.toMatchObject({ reason: 'too-many-pages' });
      await expect(listing).rejects.toThrow(/still had more pages after 18 pages of limit 10/);
      expect(server.counters.lists).toBe(18);
    });

    test('a list longer than its deadline ends at the deadline, and the next cycle lists again', async () => {
      // GIVEN 10 pages of 1 pod, each answered after 100 ms, and a deadline 350 ms away
      server.setPods(awsNodePods(10));
      server.setListDelay(100);
      const started = performance.now();

      const listing = discoverNodes(kc, options({ pageSize: 1, deadlineMs: Date.now() + 350 }));

      // THEN it fails 'deadline' at about 350 ms (the margin is for a loaded machine; ten pages take 1 s
      // or more), having asked for no more than four pages (four answers take 400 ms)
      await expect(listing).rejects.toMatchObject({ reason: 'deadline' });
      const elapsedMs = performance.now() - started;
      expect(elapsedMs).toBeGreaterThanOrEqual(340);
      expect(elapsedMs).toBeLessThan(350 + 500);
      expect(server.counters.lists).toBeLessThanOrEqual(4);
      server.setListDelay(0);
      expect((await discoverNodes(kc, options({ pageSize: 5, deadlineMs: Date.now() + 5000 }))).pods).toHaveLength(10);
    });
  });

  describe('a page that never arrives', () => {
    test('a hanging page ends when the stop signal aborts, well inside its own timeout', async () => {
      // GIVEN a list page that is accepted and never answered, and a page timeout of 10 s
      server.setListOverride(() => ({ kind: 'hang' }));
      const controller = new AbortController();
      const reason = new Error('collector stopping');
      const started = performance.now();

      const listing = discoverNodes(kc, options({ signal: controller.signal, retry: { ...FAST_RETRY, requestTimeoutMs: 10_000 } }));
      setTimeout(() => controller.abort(reason), 200);

      // THEN it rejects with the stop reason soon after the abort (1 s of margin for a loaded machine), not at 10 s
      await expect(listing).rejects.toBe(reason);
      const elapsedMs = performance.now() - started;
      expect(elapsedMs).toBeLessThan(200 + 1000);
      expect(server.counters.lists).toBe(1);
    });

    test('a page whose body trickles a byte every 50 ms is cut at the list deadline', async () => {
      // GIVEN a 200-byte-plus page sent one byte every 50 ms (10 s or more), a page timeout of 10 s, a deadline 400 ms away
      server.setListOverride(() => ({ kind: 'trickle', pods: awsNodePods(1), everyMs: 50 }));
      const started = performance.now();

      const listing = discoverNodes(kc, options({ deadlineMs: Date.now() + 400, retry: { ...FAST_RETRY, requestTimeoutMs: 10_000 } }));

      // THEN it fails 'deadline' at about 400 ms, headers having arrived long before
      await expect(listing).rejects.toMatchObject({ reason: 'deadline' });
      const elapsedMs = performance.now() - started;
      expect(elapsedMs).toBeGreaterThanOrEqual(390);
      expect(elapsedMs).toBeLessThan(400 + 1000);
    });

    test('a trickling page is cut at the page timeout and retried, ending within the attempts', async () => {
      server.setListOverride(() => ({ kind: 'trickle', pods: awsNodePods(1), everyMs: 50 }));
      const started = performance.now();

      const listing = discoverNodes(kc, options({ retry: { ...FAST_RETRY, requestTimeoutMs: 200, maxAttempts: 2 } }));

      await expect(listing).rejects.toThrow(/timed out after 200 ms while reading the body \(after 2 attempts\)/);
      await expect(listing).rejects.toBeInstanceOf(DiscoveryError);
      // two 200 ms attempts and a 5 ms backoff (the whole page would take over 30 s)
      expect(performance.now() - started).toBeLessThan(405 + 1000);
      expect(server.counters.lists).toBe(2);
    });
  });

  test('rejects a page size that is not a positive integer', async () => {
    await expect(discoverNodes(kc, options({ pageSize: 0 }))).rejects.toThrow(/pageSize must be a positive integer, got 0/);
  });
});

describe('startKubeApiServer', () => {
  let server: KubeApiServer;

  beforeEach(async () => {
    server = await startKubeApiServer({ token: TOKEN, pods: awsNodePods(4) });
  });
  afterEach(async () => {
    await server.close();
  });

  const auth = { authorization: `Bearer ${TOKEN}` };
  const listUrl = (query: string): string => `${server.url}/api/v1/namespaces/kube-system/pods?${query}`;

  test('answers 410 Gone for a continue token whose snapshot has expired', async () => {
    const first = await get(listUrl('limit=2'), auth);
    const token = (JSON.parse(first.body) as { metadata: { continue: string } }).metadata.continue;

    server.expireContinueTokens();
    const second = await get(listUrl(`limit=2&continue=${encodeURIComponent(token)}`), auth);

    expect(second.status).toBe(410);
    expect(JSON.parse(second.body)).toMatchObject({ kind: 'Status', reason: 'Expired', code: 410 });
  });

  test('keeps a paginated list consistent while pods change', async () => {
    const first = JSON.parse((await get(listUrl('limit=2'), auth)).body) as { metadata: { continue: string }; items: KubePod[] };

    server.setPods(awsNodePods(1));
    const second = JSON.parse((await get(listUrl(`limit=2&continue=${encodeURIComponent(first.metadata.continue)}`), auth)).body) as
      { metadata: { continue?: string }; items: KubePod[] };

    expect([...first.items, ...second.items].map((p) => p.metadata.name)).toEqual(['aws-node-0', 'aws-node-1', 'aws-node-2', 'aws-node-3']);
    expect(second.metadata.continue).toBeUndefined();
  });

  test('answers 400 to an unknown continue token and 401 without the bearer token', async () => {
    expect((await get(listUrl('continue=bogus'), auth)).status).toBe(400);
    expect((await get(listUrl('limit=1'))).status).toBe(401);
  });

  test('writes a kubeconfig file that the Kubernetes client can use', async () => {
    const file = server.writeKubeconfig();
    const kc = new KubeConfig();
    kc.loadFromFile(file);

    const { pods } = await discoverNodes(kc, options());

    expect(pods).toHaveLength(4);
    await server.close();
    expect(fs.existsSync(file)).toBe(false);
  });
});

describe('loadKubeConfig', () => {
  let dir: string;
  let saDir: string;
  let home: string;
  let kubeconfigFile: string;

  beforeEach(() => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'kube-config-test-'));
    saDir = path.join(dir, 'serviceaccount');
    home = path.join(dir, 'home');
    fs.mkdirSync(saDir);
    fs.mkdirSync(path.join(home, '.kube'), { recursive: true });
    kubeconfigFile = path.join(dir, 'kubeconfig');
    fs.writeFileSync(kubeconfigFile, kubeconfig('from-env', 'https://env.example:6443'));
  });
  afterEach(() => {
    fs.rmSync(dir, { recursive: true, force: true });
  });

  function kubeconfig(name: string, server: string): string {
    return `apiVersion: v1
kind: Config
clusters: [{ name: ${name}, cluster: { server: '${server}' } }]
users: [{ name: ${name}, user: { token: t-${name} } }]
contexts: [{ name: ${name}, context: { cluster: ${name}, user: ${name} } }]
current-context: ${name}
`;
  }

  function writeServiceAccount(): void {
    fs.writeFileSync(path.join(saDir, 'token'), 'sa-token');
    fs.writeFileSync(path.join(saDir, 'ca.crt'), 'not-a-real-ca');
  }

  test('uses the pod service account when KUBERNETES_SERVICE_HOST is set and the token exists', () => {
    writeServiceAccount();

    const kc = loadKubeConfig({ env: { KUBERNETES_SERVICE_HOST: '10.100.0.1', KUBERNETES_SERVICE_PORT: '443' }, serviceAccountDir: saDir, homeDir: home });

    expect(kc.getCurrentCluster()).toMatchObject({ server: 'https://10.100.0.1:443', caFile: path.join(saDir, 'ca.crt'), skipTLSVerify: false });
    expect(kc.getCurrentUser()?.authProvider).toEqual({ name: 'tokenFile', config: { tokenFile: path.join(saDir, 'token') } });
  });

  test('brackets an IPv6 service host', () => {
    writeServiceAccount();

    const kc = loadKubeConfig({ env: { KUBERNETES_SERVICE_HOST: 'fd00::1', KUBERNETES_SERVICE_PORT: '443' }, serviceAccountDir: saDir, homeDir: home });

    expect(kc.getCurrentCluster()?.server).toBe('https://[fd00::1]:443');
  });

  test('prefers an explicit KUBECONFIG over the ambient service account, as controller-runtime does', () => {
    writeServiceAccount();

    const kc = loadKubeConfig({ env: { KUBECONFIG: kubeconfigFile, KUBERNETES_SERVICE_HOST: '10.100.0.1' }, serviceAccountDir: saDir, homeDir: home });

    expect(kc.getCurrentCluster()?.server).toBe('https://env.example:6443');
  });

  test('merges a KUBECONFIG list, skipping missing files, with the first file\'s context winning', () => {
    const second = path.join(dir, 'second');
    fs.writeFileSync(second, kubeconfig('second', 'https://second.example'));

    const kc = loadKubeConfig({ env: { KUBECONFIG: [path.join(dir, 'missing'), kubeconfigFile, second].join(path.delimiter) }, serviceAccountDir: saDir, homeDir: home });

    expect(kc.getCurrentContext()).toBe('from-env');
    expect(kc.getContexts().map((c) => c.name)).toEqual(['from-env', 'second']);
  });

  test('falls back to ~/.kube/config outside a cluster', () => {
    fs.writeFileSync(path.join(home, '.kube', 'config'), kubeconfig('home', 'https://home.example'));

    const kc = loadKubeConfig({ env: {}, serviceAccountDir: saDir, homeDir: home });

    expect(kc.getCurrentCluster()?.server).toBe('https://home.example');
  });

  test('explains what is missing when no credentials exist', () => {
    expect(() => loadKubeConfig({ env: { KUBERNETES_SERVICE_HOST: '10.100.0.1' }, serviceAccountDir: saDir, homeDir: home }))
      .toThrow(/No Kubernetes credentials found: KUBECONFIG is not set, the service account token .*token does not exist.*automountServiceAccountToken/);
  });

  test('names the file when KUBECONFIG points nowhere or has no current context', () => {
    expect(() => loadKubeConfig({ env: { KUBECONFIG: path.join(dir, 'nope') }, homeDir: home }))
      .toThrow(/KUBECONFIG names no existing file .*nope/);
    fs.writeFileSync(kubeconfigFile, kubeconfig('x', 'https://x.example').replace('current-context: x', ''));
    expect(() => loadKubeConfig({ env: { KUBECONFIG: kubeconfigFile }, homeDir: home }))
      .toThrow(/has no usable current-context/);
  });
});

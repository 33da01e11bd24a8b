import * as fs from 'node:fs';
import * as http from 'node:http';
import * as os from 'node:os';
import * as path from 'node:path';
import { KubeConfig } from '@kubernetes/client-node';
import { discoverAwsNodePods, type DiscoverOptions } from '../../runtime/discover';
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

describe('discoverAwsNodePods', () => {
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
    const pods = await discoverAwsNodePods(kc, options({ pageSize: 3 }));

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

    const pods = await discoverAwsNodePods(kc, options());

    expect(pods.map((p) => p.podName).sort()).toEqual(['aws-node-0', 'aws-node-1']);
    expect(decodeURIComponent(server.requests[0].url)).toContain('labelSelector=k8s-app=aws-node');
  });

  test('maps node name, pod IP and the aws-node container start, falling back to the pod start', async () => {
    server.setPods([
      kubePod({ name: 'aws-node-a', nodeName: 'node-a', podIP: '10.0.0.1',
        startTime: '2026-01-01T00:00:00Z', containerStartedAt: '2026-01-01T00:05:00Z' }),
      { ...kubePod({ name: 'aws-node-b', nodeName: 'node-b', podIP: '10.0.0.2', startTime: '2026-01-02T00:00:00Z' }),
        status: { phase: 'Running', podIP: '10.0.0.2', startTime: '2026-01-02T00:00:00Z' } },
    ]);

    const pods = await discoverAwsNodePods(kc, options());

    expect(pods).toEqual([
      { podName: 'aws-node-a', namespace: 'kube-system', nodeName: 'node-a', podIP: '10.0.0.1', startTimeMs: Date.parse('2026-01-01T00:05:00Z') },
      { podName: 'aws-node-b', namespace: 'kube-system', nodeName: 'node-b', podIP: '10.0.0.2', startTimeMs: Date.parse('2026-01-02T00:00:00Z') },
    ]);
  });

  test('skips pods that are not scheduled or not running, and logs why at debug', async () => {
    const logger = recordingLogger();
    server.setPods([
      ...awsNodePods(1),
      kubePod({ name: 'aws-node-pending', phase: 'Pending' }),
      kubePod({ name: 'aws-node-failed', nodeName: 'node-7', phase: 'Failed' }),
    ]);

    const pods = await discoverAwsNodePods(kc, options({ logger }));

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

    const pods = await discoverAwsNodePods(kc, options());

    expect(pods.map((p) => p.podName).sort()).toEqual(['aws-node-new0', 'aws-node-new1']);
  });

  test('retries a 429 and succeeds', async () => {
    server.setPods(awsNodePods(2));
    server.failNextLists(1, { status: 429 });

    const pods = await discoverAwsNodePods(kc, options());

    expect(pods).toHaveLength(2);
    expect(server.requests.map((r) => r.status)).toEqual([429, 200]);
  });

  test('waits as long as Retry-After says, within the delay cap', async () => {
    // GIVEN a 429 asking for 1 s, then one asking for 60 s (beyond the 1.1 s cap)
    const logger = recordingLogger();
    server.setPods(awsNodePods(1));
    server.failNextLists(1, { status: 429, retryAfterSeconds: 1 });
    server.failNextLists(1, { status: 429, retryAfterSeconds: 60 });

    const pods = await discoverAwsNodePods(kc, options({ logger, retry: { ...FAST_RETRY, maxDelayMs: 1100 } }));

    expect(pods).toHaveLength(1);
    const delays = logger.lines.filter((l) => l.level === 'warn').map((l) => l.fields?.delayMs);
    expect(delays).toEqual([1000, 1100]);
  });

  test('retries 500 and 503 with exponential backoff and succeeds', async () => {
    const logger = recordingLogger();
    server.setPods(awsNodePods(3));
    server.failNextLists(1, { status: 500 });
    server.failNextLists(1, { status: 503 });

    const pods = await discoverAwsNodePods(kc, options({ logger }));

    expect(pods).toHaveLength(3);
    expect(server.requests.map((r) => r.status)).toEqual([500, 503, 200]);
    expect(logger.lines.filter((l) => l.level === 'warn').map((l) => l.fields?.delayMs)).toEqual([5, 10]);
  });

  test('gives up after the attempt limit with an error naming the call, namespace, selector and status', async () => {
    server.failNextLists(10, { status: 500 });

    const listing = discoverAwsNodePods(kc, options({ retry: { ...FAST_RETRY, maxAttempts: 3 } }));

    await expect(listing).rejects.toThrow(
      /listNamespacedPod\(namespace='kube-system', labelSelector='k8s-app=aws-node'\) failed: HTTP 500: injected fault: HTTP 500 \(after 3 attempts\)/,
    );
    expect(server.counters.lists).toBe(3);
  });

  test('does not retry a 403 and says which permission is missing', async () => {
    server.failNextLists(1, { status: 403 });

    await expect(discoverAwsNodePods(kc, options())).rejects.toThrow(/HTTP 403.*list on pods/);
    expect(server.counters.lists).toBe(1);
  });

  test('fails at once on rejected credentials', async () => {
    const wrong = new KubeConfig();
    wrong.loadFromString(server.kubeconfigYaml.replace(TOKEN, 'wrong-token'));

    await expect(discoverAwsNodePods(wrong, options())).rejects.toThrow(/HTTP 401.*credentials rejected/);
    expect(server.counters.unauthorized).toBe(1);
  });

  test('restarts the list from the first page when a continue token has expired', async () => {
    // GIVEN 5 pods in pages of 2, and the first continued page answered 410 Gone
    const logger = recordingLogger();
    server.setPods(awsNodePods(5));
    server.failNextLists(1, { status: 410, onlyContinued: true });

    const pods = await discoverAwsNodePods(kc, options({ pageSize: 2, logger }));

    // THEN page 1, 410, then pages 1, 2, 3 again: every pod exactly once
    expect(pods.map((p) => p.podName).sort()).toEqual(['aws-node-0', 'aws-node-1', 'aws-node-2', 'aws-node-3', 'aws-node-4']);
    expect(server.requests.map((r) => r.status)).toEqual([200, 410, 200, 200, 200]);
    expect(server.requests[2].url).not.toContain('continue=');
    expect(logger.lines.some((l) => l.level === 'info' && l.msg.includes('continue token expired'))).toBe(true);
  });

  test('stops restarting after the restart limit', async () => {
    server.setPods(awsNodePods(5));
    server.failNextLists(10, { status: 410, onlyContinued: true });

    const listing = discoverAwsNodePods(kc, options({ pageSize: 2, retry: { ...FAST_RETRY, maxListRestarts: 2 } }));

    await expect(listing).rejects.toThrow(/HTTP 410.*restarted 2 times/);
    expect(server.counters.lists).toBe(6);
  });

  test('ends a page request that takes longer than the request timeout, and retries it', async () => {
    server.setPods(awsNodePods(1));
    server.setListDelay(2000);

    const listing = discoverAwsNodePods(kc, options({ retry: { ...FAST_RETRY, requestTimeoutMs: 100, maxAttempts: 2 } }));

    await expect(listing).rejects.toThrow(/request timed out \(after 2 attempts\)/);
    expect(server.counters.lists).toBe(2);
  });

  test('stops when aborted during a backoff', async () => {
    server.failNextLists(10, { status: 503 });
    const controller = new AbortController();
    const reason = new Error('collector stopping');

    const listing = discoverAwsNodePods(kc, options({ signal: controller.signal, retry: { ...FAST_RETRY, baseDelayMs: 10_000, maxDelayMs: 10_000 } }));
    setTimeout(() => controller.abort(reason), 50);

    await expect(listing).rejects.toBe(reason);
    expect(server.counters.lists).toBe(1);
  });

  test('rejects a page size that is not a positive integer', async () => {
    await expect(discoverAwsNodePods(kc, options({ pageSize: 0 }))).rejects.toThrow(/pageSize must be a positive integer, got 0/);
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

    const pods = await discoverAwsNodePods(kc, options());

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

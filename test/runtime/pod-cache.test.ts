import { KubeConfig } from '@kubernetes/client-node';
import { discoverForCycle, PodCache, type PodCacheOptions } from '../../runtime/pod-cache';
import { kubePod, startKubeApiServer, type KubeApiServer, type KubePod, type KubePodFields } from '../support/kube-api-server';

const TOKEN = 'cache-token';

function kubeConfigFor(server: KubeApiServer): KubeConfig {
  const kc = new KubeConfig();
  kc.loadFromString(server.kubeconfigYaml);
  return kc;
}

function pod(i: number, fields: Partial<KubePodFields> = {}): KubePod {
  return kubePod({ name: `aws-node-${i}`, nodeName: `node-${i}`, podIP: `10.0.0.${i + 1}`, ...fields });
}

function cacheOptions(overrides: Partial<PodCacheOptions> = {}): PodCacheOptions {
  return {
    namespace: 'kube-system', labelSelector: 'k8s-app=aws-node', pageSize: 2,
    retry: { baseDelayMs: 5, maxDelayMs: 50, requestTimeoutMs: 2000 },
    baseBackoffMs: 10, maxBackoffMs: 50,
    ...overrides,
  };
}

/** Polls `condition` every 10 ms; fails the test with `what` after `timeoutMs`. */
async function waitFor(what: string, condition: () => boolean, timeoutMs = 5000): Promise<void> {
  const until = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > until) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}

/** The snapshot as sorted "node=pod" strings. */
function placement(cache: PodCache): string[] {
  return cache.snapshot().map((p) => `${p.nodeName}=${p.podName}`).sort();
}

/** The resourceVersion query parameter of every watch request, in order. */
function watchVersions(server: KubeApiServer): string[] {
  return server.requests.filter((r) => r.kind === 'watch')
    .map((r) => new URL(r.url, 'http://x').searchParams.get('resourceVersion') ?? '');
}

describe('PodCache', () => {
  let server: KubeApiServer;
  let cache: PodCache | undefined;

  beforeEach(async () => {
    server = await startKubeApiServer({ token: TOKEN, eventsKept: 2 });
  });
  afterEach(async () => {
    await cache?.stop();
    cache = undefined;
    await server.close();
  });

  test('lists in pages, then watches from the list\'s resourceVersion with bookmarks allowed', async () => {
    // GIVEN 5 pods and pages of 2
    server.setPods([0, 1, 2, 3, 4].map((i) => pod(i)));
    const listedAt = server.resourceVersion;
    cache = new PodCache(kubeConfigFor(server), cacheOptions());
    expect(cache.synced).toBe(false);
    // WHEN started
    cache.start();
    await waitFor('the first watch', () => server.openWatches === 1);
    // THEN 3 list pages, one watch from the listed version, and every node's pod
    expect(cache.synced).toBe(true);
    expect(server.counters.lists).toBe(3);
    expect(watchVersions(server)).toEqual([String(listedAt)]);
    const watchUrl = new URL(server.requests.find((r) => r.kind === 'watch')?.url ?? '', 'http://x');
    expect(watchUrl.searchParams.get('allowWatchBookmarks')).toBe('true');
    expect(watchUrl.searchParams.get('labelSelector')).toBe('k8s-app=aws-node');
    expect(placement(cache)).toEqual(['node-0=aws-node-0', 'node-1=aws-node-1', 'node-2=aws-node-2', 'node-3=aws-node-3', 'node-4=aws-node-4']);
    expect(cache.counters).toMatchObject({ lists: 1, relists: 0, watches: 1, added: 0 });
  });

  test('applies adds, deletes and modifications from the watch without listing again', async () => {
    server.setPods([0, 1, 2, 3, 4].map((i) => pod(i)));
    cache = new PodCache(kubeConfigFor(server), cacheOptions());
    cache.start();
    await waitFor('the first watch', () => server.openWatches === 1);
    // WHEN aws-node-1 goes, aws-node-5 comes, aws-node-2's container restarts 3 times,
    // aws-node-3 stops running, and a second, newer pod lands on node-0 (a surge rollout)
    server.setPods([
      pod(0),
      pod(2, { restartCount: 3 }),
      pod(3, { phase: 'Pending' }),
      pod(4),
      pod(5),
      kubePod({ name: 'aws-node-0b', nodeName: 'node-0', podIP: '10.0.0.1', startTime: '2026-02-01T00:00:00Z' }),
    ]);
    // THEN by hand: 2 adds (aws-node-5, aws-node-0b), 2 modifications (2, 3), 1 delete (1)
    await waitFor('five events', () => cache!.counters.added + cache!.counters.modified + cache!.counters.deleted === 5);
    expect(cache.counters).toMatchObject({ added: 2, modified: 2, deleted: 1, lists: 1, relists: 0 });
    expect(server.counters.lists).toBe(3);
    expect(placement(cache)).toEqual(['node-0=aws-node-0b', 'node-2=aws-node-2', 'node-4=aws-node-4', 'node-5=aws-node-5']);
    expect(cache.snapshot().find((p) => p.nodeName === 'node-2')?.restartCount).toBe(3);
    expect(cache.discovery().skipped).toEqual({ notRunning: 1, notHostNetwork: 0, podIPNotHostIP: 0, duplicateOnNode: 1 });
  });

  test('a dropped watch connection is watched again from the last version, without a list', async () => {
    server.setPods([0, 1, 2].map((i) => pod(i)));
    cache = new PodCache(kubeConfigFor(server), cacheOptions());
    cache.start();
    await waitFor('the first watch', () => server.openWatches === 1);
    server.setPods([0, 1, 2, 3].map((i) => pod(i)));
    await waitFor('the add', () => cache!.counters.added === 1);
    const seen = server.resourceVersion;
    // WHEN the connection drops and a pod goes before the cache reconnects
    server.dropOpenWatches();
    server.setPods([0, 2, 3].map((i) => pod(i)));
    await waitFor('the delete', () => cache!.counters.deleted === 1);
    // THEN the second watch started from the version of the last event seen, and no list was made
    expect(watchVersions(server)).toEqual([expect.any(String), String(seen)]);
    expect(server.counters.lists).toBe(2);
    expect(cache.counters).toMatchObject({ lists: 1, relists: 0, rewatches: 1, expired: 0 });
    expect(placement(cache)).toEqual(['node-0=aws-node-0', 'node-2=aws-node-2', 'node-3=aws-node-3']);
  });

  test('a bookmark moves the version the next watch starts from', async () => {
    server.setPods([0, 1].map((i) => pod(i)));
    cache = new PodCache(kubeConfigFor(server), cacheOptions({ pageSize: 10 }));
    cache.start();
    await waitFor('the first watch', () => server.openWatches === 1);
    // Pods outside the selector change the version without an event for this watch.
    server.setPods([pod(0), pod(1), pod(7, { labels: { 'k8s-app': 'other' } })]);
    const bookmarked = server.resourceVersion;
    server.sendBookmarks();
    await waitFor('the bookmark', () => cache!.counters.bookmarks === 1);
    server.dropOpenWatches();
    await waitFor('the second watch', () => server.openWatches === 1);
    expect(watchVersions(server)[1]).toBe(String(bookmarked));
    expect(cache.counters).toMatchObject({ added: 0, lists: 1 });
  });

  test('410 Gone on resuming a watch lists again and serves the new list', async () => {
    server.setPods([0, 1, 2].map((i) => pod(i)));
    cache = new PodCache(kubeConfigFor(server), cacheOptions());
    cache.start();
    await waitFor('the first watch', () => server.openWatches === 1);
    // WHEN the watch drops and more changes than the server keeps (2) happen before it resumes
    server.dropOpenWatches();
    server.setPods([3, 4, 5].map((i) => pod(i)));
    // THEN the resumed watch gets 410, the cache lists again (2 pages) and watches from there
    await waitFor('the relist', () => cache!.counters.relists === 1);
    await waitFor('the third watch', () => server.openWatches === 1 && server.counters.watches === 3);
    expect(cache.counters).toMatchObject({ lists: 2, relists: 1, expired: 1 });
    expect(server.counters.lists).toBe(4);
    expect(placement(cache)).toEqual(['node-3=aws-node-3', 'node-4=aws-node-4', 'node-5=aws-node-5']);
    expect(cache.synced).toBe(true);
  });

  test('an ERROR 410 event on an open watch lists again', async () => {
    server.setPods([0, 1].map((i) => pod(i)));
    cache = new PodCache(kubeConfigFor(server), cacheOptions());
    cache.start();
    await waitFor('the first watch', () => server.openWatches === 1);
    server.compactWatchHistory();
    server.expireOpenWatches();
    await waitFor('the relist', () => cache!.counters.relists === 1);
    expect(cache.counters.expired).toBe(1);
    expect(server.counters.lists).toBe(2);
  });

  test('a watch the server ends at timeoutSeconds is opened again at once, without a list', async () => {
    server.setPods([pod(0)]);
    cache = new PodCache(kubeConfigFor(server), cacheOptions({ watchTimeoutSeconds: 1, idleTimeoutMs: 10_000 }));
    cache.start();
    await waitFor('the second watch', () => server.counters.watches === 2);
    expect(cache.counters).toMatchObject({ watchFailures: 0, rewatches: 1, lists: 1 });
    expect(server.counters.lists).toBe(1);
    const timeout = new URL(server.requests.find((r) => r.kind === 'watch')?.url ?? '', 'http://x').searchParams.get('timeoutSeconds');
    expect(timeout).toBe('1');
  });

  test('a watch that stays silent past the idle timeout is taken for dead and opened again, without a list', async () => {
    server.setPods([pod(0)]);
    cache = new PodCache(kubeConfigFor(server), cacheOptions({ watchTimeoutSeconds: 60, idleTimeoutMs: 300 }));
    cache.start();
    await waitFor('three watches', () => server.counters.watches >= 3);
    expect(cache.counters.watchFailures).toBeGreaterThanOrEqual(2);
    expect(cache.counters.lists).toBe(1);
    expect(server.counters.lists).toBe(1);
  });

  test('is not synced while the list fails, and syncs once it succeeds', async () => {
    server.setPods([pod(0)]);
    server.failNextLists(2, { status: 403 });
    cache = new PodCache(kubeConfigFor(server), cacheOptions());
    cache.start();
    await waitFor('two failed lists', () => cache!.counters.listFailures === 2);
    expect(cache.synced).toBe(false);
    await waitFor('the sync', () => cache!.synced);
    expect(placement(cache)).toEqual(['node-0=aws-node-0']);
  });

  test('direct mode keeps only host-network pods whose podIP is their hostIP', async () => {
    server.setPods([pod(0), pod(1, { hostNetwork: false }), pod(2, { hostIP: '10.9.9.9' })]);
    cache = new PodCache(kubeConfigFor(server), cacheOptions({ scrapeMode: 'direct' }));
    cache.start();
    await waitFor('the sync', () => cache!.synced);
    expect(placement(cache)).toEqual(['node-0=aws-node-0']);
    expect(cache.discovery().skipped).toEqual({ notRunning: 0, notHostNetwork: 1, podIPNotHostIP: 1, duplicateOnNode: 0 });
  });

  test('a cycle lists while the cache is not synced and reads the cache once it is', async () => {
    server.setPods([pod(0), pod(1)]);
    const kc = kubeConfigFor(server);
    const discover = { namespace: 'kube-system', labelSelector: 'k8s-app=aws-node', pageSize: 10 };
    // WHEN the cache's first list fails, a cycle lists by itself (one list call of its own)
    server.failNextLists(1, { status: 403 });
    cache = new PodCache(kc, cacheOptions({ pageSize: 10, baseBackoffMs: 200 }));
    cache.start();
    await waitFor('the failed cache list', () => cache!.counters.listFailures === 1);
    const listsBefore = server.counters.lists;
    const early = await discoverForCycle(cache, kc, discover);
    expect(early.source).toBe('list');
    expect(server.counters.lists).toBe(listsBefore + 1);
    // THEN once synced, cycles cost no list at all
    await waitFor('the sync', () => cache!.synced && server.openWatches === 1);
    const listsSynced = server.counters.lists;
    const late = await discoverForCycle(cache, kc, discover);
    expect(late.source).toBe('cache');
    expect(late.pods.map((p) => p.podName).sort()).toEqual(['aws-node-0', 'aws-node-1']);
    expect(server.counters.lists).toBe(listsSynced);
    // Without a cache (--once), always the list
    expect((await discoverForCycle(undefined, kc, discover)).source).toBe('list');
  });

  test('a cycle during the cache\'s own list waits for it instead of listing every pod a second time', async () => {
    // GIVEN 4 pods, pages of 2, and an API server that takes 300 ms to answer each list page
    server.setPods([pod(0), pod(1), pod(2), pod(3)]);
    server.setListDelay(300);
    const kc = kubeConfigFor(server);
    const discover = { namespace: 'kube-system', labelSelector: 'k8s-app=aws-node', pageSize: 2 };
    cache = new PodCache(kc, cacheOptions());
    cache.start();
    await waitFor('the cache\'s list to start', () => cache!.listInFlight && server.counters.lists >= 1);

    // WHEN a cycle with a 100 ms deadline discovers while the list is under way
    // THEN it fails for the deadline, having sent no list of its own (the cache's 2 pages only)
    await expect(discoverForCycle(cache, kc, { ...discover, deadlineMs: Date.now() + 100 }))
      .rejects.toMatchObject({ name: 'DiscoveryError', reason: 'deadline', message: expect.stringMatching(/waited for it rather than list every pod a second time/) });
    // AND a cycle with room waits for the list and reads the cache: still the cache's 2 pages only
    const waited = await discoverForCycle(cache, kc, { ...discover, deadlineMs: Date.now() + 5000 });
    expect(waited.source).toBe('cache');
    expect(waited.pods.map((p) => p.podName).sort()).toEqual(['aws-node-0', 'aws-node-1', 'aws-node-2', 'aws-node-3']);
    expect(server.requests.filter((r) => r.kind === 'list')).toHaveLength(2);
  });

  test('stop ends the open watch', async () => {
    server.setPods([pod(0)]);
    cache = new PodCache(kubeConfigFor(server), cacheOptions());
    cache.start();
    await waitFor('the first watch', () => server.openWatches === 1);
    await cache.stop();
    await waitFor('the server to see the watch close', () => server.openWatches === 0);
  });
});

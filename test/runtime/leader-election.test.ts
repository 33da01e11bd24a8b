import { spawn } from 'node:child_process';
import * as path from 'node:path';
import { LeaderElector, leaderElectorOptions, type LeaderElectorOptions } from '../../runtime/leader-election';
import { ENV } from '../../common/settings';
import { ConfigError } from '../../runtime/env-reader';
import { loadLeaderElectionSettings } from '../../runtime/leader-settings';
import { createLogger } from '../../runtime/log';
import { startLeaseServer, type LeaseServer, type LeaseWrite } from '../support/lease-server';

const NAMESPACE = 'kube-system';
const LEASE = 'cni-metrics-helper';
/** Short timings with client-go's proportions, so a takeover takes about two seconds. */
const LEASE_DURATION_MS = 2_000;
const RENEW_DEADLINE_MS = 1_200;
const RETRY_PERIOD_MS = 250;
/** Scheduling and loopback latency allowed on a loaded two-core machine. */
const SLACK_MS = 300;
const MICRO_TIME = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{6}Z$/;

describe('leader election settings', () => {
  const enabled = { LEADER_ELECTION: 'true', POD_NAME: 'cni-metrics-helper-7d9f-abcde', POD_NAMESPACE: 'kube-system' };

  test('off unless LEADER_ELECTION is true', () => {
    expect(loadLeaderElectionSettings({})).toBeUndefined();
    expect(loadLeaderElectionSettings({ LEADER_ELECTION: 'false', POD_NAME: 'x' })).toBeUndefined();
  });

  test('on: the pod is the identity, and client-go\'s defaults apply', () => {
    expect(loadLeaderElectionSettings(enabled)).toEqual({
      identity: 'cni-metrics-helper-7d9f-abcde', namespace: 'kube-system', leaseName: 'cni-metrics-helper',
      leaseDurationSeconds: 15, renewDeadlineSeconds: 10, retryPeriodSeconds: 2,
    });
    expect(loadLeaderElectionSettings({
      ...enabled, LEASE_NAME: 'metrics.leader', LEASE_DURATION_SECONDS: '30', LEASE_RENEW_DEADLINE_SECONDS: '20', LEASE_RETRY_PERIOD_SECONDS: '5',
    })).toMatchObject({ leaseName: 'metrics.leader', leaseDurationSeconds: 30, renewDeadlineSeconds: 20, retryPeriodSeconds: 5 });
  });

  test.each([
    [{ POD_NAME: '' }, /POD_NAME is not set: LEADER_ELECTION=true needs it as this replica's identity .* downward API/],
    [{ POD_NAMESPACE: '' }, /POD_NAMESPACE is not set: .*\(fieldRef metadata.namespace\)/],
    [{ POD_NAMESPACE: 'Kube_System' }, /POD_NAMESPACE="Kube_System" is not a namespace name/],
    [{ LEASE_NAME: 'Leader!' }, /LEASE_NAME="Leader!" is not a valid Lease name/],
    [{ LEADER_ELECTION: 'maybe' }, /LEADER_ELECTION="maybe" is not a boolean: use true or false/],
    [{ LEASE_DURATION_SECONDS: 'fifteen' }, /LEASE_DURATION_SECONDS="fifteen" is invalid: use a whole number of whole seconds from 2 to 3600/],
    [{ LEASE_RETRY_PERIOD_SECONDS: '0' }, /LEASE_RETRY_PERIOD_SECONDS="0" is invalid/],
    [{ LEASE_DURATION_SECONDS: '10' }, /lease duration \(10 seconds\) must be longer than the renew deadline \(10 seconds\).*LEASE_DURATION_SECONDS > LEASE_RENEW_DEADLINE_SECONDS > LEASE_RETRY_PERIOD_SECONDS/],
    [{ LEASE_RENEW_DEADLINE_SECONDS: '2' }, /renew deadline \(2 seconds\) must be longer than the retry period \(2 seconds\)/],
  ])('%j is refused with a message naming the setting and the fix', (change, message) => {
    const env: Record<string, string | undefined> = { ...enabled, ...change };
    expect(() => loadLeaderElectionSettings(env)).toThrow(ConfigError);
    expect(() => loadLeaderElectionSettings(env)).toThrow(message);
  });

  test('the settings become elector options in milliseconds', () => {
    const settings = loadLeaderElectionSettings(enabled);
    const options = leaderElectorOptions(settings!, {} as never);
    expect(options).toMatchObject({ leaseDurationMs: 15_000, renewDeadlineMs: 10_000, retryPeriodMs: 2_000, identity: enabled.POD_NAME });
    expect(ENV.leaseName).toBe('LEASE_NAME');
  });
});

/** What each elector said, on one clock. */
interface Happening {
  readonly who: string;
  readonly what: 'startedLeading' | 'stoppedLeading';
  readonly atMs: number;
}

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

async function waitFor(condition: () => boolean, timeoutMs: number, what: string): Promise<number> {
  const started = Date.now();
  while (!condition()) {
    if (Date.now() - started > timeoutMs) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await sleep(10);
  }
  return Date.now();
}

/** Spans in which each elector said it led; a span still open ends now. */
function leadershipSpans(timeline: readonly Happening[]): { who: string; from: number; to: number }[] {
  const open = new Map<string, number>();
  const spans: { who: string; from: number; to: number }[] = [];
  for (const h of timeline) {
    if (h.what === 'startedLeading') open.set(h.who, h.atMs);
    else {
      spans.push({ who: h.who, from: open.get(h.who) as number, to: h.atMs });
      open.delete(h.who);
    }
  }
  for (const [who, from] of open) spans.push({ who, from, to: Date.now() });
  return spans;
}

function expectNoOverlap(timeline: readonly Happening[]): void {
  const spans = leadershipSpans(timeline).sort((a, b) => a.from - b.from);
  for (let i = 1; i < spans.length; i++) {
    expect(spans[i].from).toBeGreaterThan(spans[i - 1].to);
  }
}

/**
 * From the server's log: whenever the holder changed from one replica to another, the old holder
 * had released the Lease, or its last renewTime was at least a lease duration before the change.
 */
function expectHolderChangesRespectTheLease(writes: readonly LeaseWrite[]): number {
  const applied = writes.filter((w) => w.lease !== undefined && w.verb !== 'touch');
  let changes = 0;
  for (let i = 1; i < applied.length; i++) {
    const before = applied[i - 1].lease!.spec;
    const after = applied[i].lease!.spec;
    if (!before.holderIdentity || before.holderIdentity === after.holderIdentity) continue;
    changes++;
    const renewedMs = Date.parse(before.renewTime as string);
    expect(applied[i].atMs - renewedMs).toBeGreaterThanOrEqual(before.leaseDurationSeconds! * 1000);
  }
  return changes;
}

describe('LeaderElector against a loopback API server', () => {
  let server: LeaseServer;
  let timeline: Happening[];
  const electors: LeaderElector[] = [];

  beforeEach(async () => {
    server = await startLeaseServer(['a', 'b']);
    timeline = [];
  });
  afterEach(async () => {
    await Promise.all(electors.splice(0).map((e) => e.stop({ release: false })));
    await server.close();
  });

  function elector(client: 'a' | 'b', overrides: Partial<LeaderElectorOptions> = {}): LeaderElector {
    const e = new LeaderElector({
      kubeConfig: server.kubeConfig(client),
      namespace: NAMESPACE,
      leaseName: LEASE,
      identity: `collector-${client}`,
      leaseDurationMs: LEASE_DURATION_MS,
      renewDeadlineMs: RENEW_DEADLINE_MS,
      retryPeriodMs: RETRY_PERIOD_MS,
      ...overrides,
    });
    e.on('startedLeading', () => timeline.push({ who: client, what: 'startedLeading', atMs: Date.now() }));
    e.on('stoppedLeading', () => timeline.push({ who: client, what: 'stoppedLeading', atMs: Date.now() }));
    electors.push(e);
    return e;
  }

  const lease = () => server.lease(NAMESPACE, LEASE);
  const appliedBy = (client: string) => server.writes.filter((w) => w.client === client && w.lease !== undefined);

  test('with no Lease, the first replica creates it holding it, then renews it every retry period', async () => {
    const a = elector('a');
    a.start();
    await waitFor(() => a.isLeader, 2_000, 'a to lead');

    expect(server.writes[0]).toMatchObject({ client: 'a', verb: 'create', status: 201 });
    const created = lease()!.spec;
    expect(created).toMatchObject({ holderIdentity: 'collector-a', leaseDurationSeconds: 2, leaseTransitions: 0 });
    expect(created.renewTime).toMatch(MICRO_TIME);
    expect(created.acquireTime).toBe(created.renewTime);

    const before = appliedBy('a').length;
    await sleep(1_000);
    const renewals = appliedBy('a').slice(before);
    // 1000 ms / 250 ms: four renewals, give or take one for where the window falls
    expect(renewals.length).toBeGreaterThanOrEqual(3);
    expect(renewals.length).toBeLessThanOrEqual(5);
    expect(renewals.every((w) => w.verb === 'replace' && w.lease!.spec.acquireTime === created.acquireTime)).toBe(true);
    const renewTimes = renewals.map((w) => Date.parse(w.lease!.spec.renewTime!));
    expect([...renewTimes].sort((x, y) => x - y)).toEqual(renewTimes);
    // the leader renews from its copy: no read before each renewal
    expect(server.requestCounts.get('a GET') ?? 0).toBe(1);
  });

  test('two replicas: one leads, the other waits; when the leader dies the other takes over within lease duration + retry period', async () => {
    // GIVEN a leads and b stands by for longer than a lease duration
    const a = elector('a');
    a.start();
    await waitFor(() => a.isLeader, 2_000, 'a to lead');
    const b = elector('b');
    b.start();
    const standbyUntil = Date.now() + LEASE_DURATION_MS + 500;
    while (Date.now() < standbyUntil) {
      expect(b.isLeader).toBe(false);
      await sleep(20);
    }
    expect(b.leader).toBe('collector-a');

    // WHEN a's process dies: it stops renewing and does not release
    await a.stop({ release: false });
    const diedAtMs = Date.now();
    const lastRenewMs = Date.parse(appliedBy('a').at(-1)!.lease!.spec.renewTime!);

    // THEN b takes the Lease once it expired, and not before
    await waitFor(() => b.isLeader, LEASE_DURATION_MS + 2_000, 'b to lead');
    const takeover = appliedBy('b')[0];
    expect(takeover.lease!.spec).toMatchObject({ holderIdentity: 'collector-b', leaseTransitions: 1, leaseDurationSeconds: 2 });
    expect(takeover.lease!.spec.acquireTime).toBe(takeover.lease!.spec.renewTime);
    expect(takeover.atMs - lastRenewMs).toBeGreaterThanOrEqual(LEASE_DURATION_MS);
    expect(takeover.atMs - lastRenewMs).toBeLessThanOrEqual(LEASE_DURATION_MS + RETRY_PERIOD_MS + SLACK_MS);
    expect(takeover.atMs - diedAtMs).toBeLessThanOrEqual(LEASE_DURATION_MS + RETRY_PERIOD_MS + SLACK_MS);
    // AND they never led at once, by their own word and by the server's log
    expectNoOverlap(timeline);
    expect(expectHolderChangesRespectTheLease(server.writes)).toBe(1);
    expect(timeline.map((h) => `${h.who} ${h.what}`)).toEqual(['a startedLeading', 'a stoppedLeading', 'b startedLeading']);
  });

  test('a leader killed with SIGKILL (its process gone, no release) is replaced within lease duration + retry period', async () => {
    // GIVEN a leads from its own process: plain node with tsx's loader, so `kill` reaches the elector itself
    const childCode = `
      const { KubeConfig } = require('@kubernetes/client-node');
      const { LeaderElector } = require('./runtime/leader-election');
      const kc = new KubeConfig();
      kc.loadFromClusterAndUser({ name: 'loopback', server: process.env.LEASE_SERVER_URL, skipTLSVerify: true }, { name: 'a', token: 'token-a' });
      const e = new LeaderElector({ kubeConfig: kc, namespace: process.env.NS, leaseName: process.env.LEASE, identity: 'collector-a',
        leaseDurationMs: ${LEASE_DURATION_MS}, renewDeadlineMs: ${RENEW_DEADLINE_MS}, retryPeriodMs: ${RETRY_PERIOD_MS} });
      e.on('startedLeading', () => process.stdout.write('leading ' + process.pid + '\\n'));
      e.start();`;
    const root = path.resolve(__dirname, '..', '..');
    const child = spawn(process.execPath, ['--import', 'tsx', '--eval', childCode], {
      cwd: root,
      env: { PATH: process.env.PATH ?? '/usr/bin:/bin', LEASE_SERVER_URL: server.url, NS: NAMESPACE, LEASE },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    const hardStop = setTimeout(() => child.kill('SIGKILL'), 40_000);
    const exited = new Promise<string | null>((resolve) => child.on('exit', (_code, signal) => resolve(signal)));
    let stderr = '';
    child.stderr!.on('data', (d: Buffer) => { stderr += d.toString(); });
    try {
      const leaderPid = await new Promise<number>((resolve, reject) => {
        child.stdout!.on('data', (d: Buffer) => {
          const m = /leading (\d+)/.exec(d.toString());
          if (m) resolve(Number(m[1]));
        });
        void exited.then(() => reject(new Error(`the child exited before leading: ${stderr}`)));
        setTimeout(() => reject(new Error(`the child did not lead within 30 s: ${stderr}`)), 30_000).unref();
      });
      // the elector runs in the very process we kill
      expect(leaderPid).toBe(child.pid);
      expect(lease()!.spec.holderIdentity).toBe('collector-a');
      const b = elector('b');
      b.start();
      await sleep(600);
      expect(b.isLeader).toBe(false);

      // WHEN the leader's process is killed
      child.kill('SIGKILL');
      expect(await exited).toBe('SIGKILL');
      const killedAtMs = Date.now();
      const lastRenewMs = Date.parse(appliedBy('a').at(-1)!.lease!.spec.renewTime!);

      // THEN b takes over once the Lease expired, within lease duration + retry period of the last renewal
      await waitFor(() => b.isLeader, LEASE_DURATION_MS + 2_000, 'b to lead');
      const takeover = appliedBy('b')[0];
      expect(takeover.atMs - lastRenewMs).toBeGreaterThanOrEqual(LEASE_DURATION_MS);
      expect(takeover.atMs - lastRenewMs).toBeLessThanOrEqual(LEASE_DURATION_MS + RETRY_PERIOD_MS + SLACK_MS);
      expect(takeover.atMs - killedAtMs).toBeLessThanOrEqual(LEASE_DURATION_MS + RETRY_PERIOD_MS + SLACK_MS);
      expect(takeover.lease!.spec).toMatchObject({ holderIdentity: 'collector-b', leaseTransitions: 1 });
      expect(expectHolderChangesRespectTheLease(server.writes)).toBe(1);
    } finally {
      clearTimeout(hardStop);
      child.kill('SIGKILL');
    }
  });

  test('a listener that throws is logged and does not stop the elector', async () => {
    const lines: Record<string, unknown>[] = [];
    const a = elector('a', { logger: createLogger('info', (l) => lines.push(JSON.parse(l) as Record<string, unknown>)) });
    a.on('startedLeading', () => {
      throw new Error('listener bug');
    });
    a.start();
    await waitFor(() => a.isLeader, 2_000, 'a to lead');
    const before = appliedBy('a').length;
    await sleep(600);
    expect(appliedBy('a').length).toBeGreaterThan(before);
    expect(a.isLeader).toBe(true);
    expect(lines).toContainEqual(expect.objectContaining({ level: 'error', msg: 'a leader election listener threw', event: 'startedLeading' }));
  });

  test('a leader cut off from the API server stops leading at its renew deadline, before the other may take over', async () => {
    const a = elector('a');
    a.start();
    await waitFor(() => a.isLeader, 2_000, 'a to lead');
    const b = elector('b');
    b.start();
    await sleep(600);

    // WHEN a's requests stop getting answers
    server.partition('a');
    const lossAtMs = await waitFor(() => !a.isLeader, RENEW_DEADLINE_MS + 1_000, 'a to stop leading');
    // The last renewal the server applied; a's last confirmed one is that or, when an answer was
    // lost to its request deadline (a loaded machine), an earlier one: a steps down early, never late.
    const lastRenewMs = Date.parse(appliedBy('a').at(-1)!.lease!.spec.renewTime!);
    const confirmedMs = a.lastRenewedAtMs!;
    expect(confirmedMs).toBeLessThanOrEqual(lastRenewMs);

    // THEN a stops at its renew deadline (its own timer, not a late try). isLeader turns false by the
    // clock alone, so on a loaded machine the event may come a few ms after: wait for it.
    await waitFor(() => timeline.some((h) => h.who === 'a' && h.what === 'stoppedLeading'), SLACK_MS, 'a\'s stoppedLeading event');
    const stoppedEvent = timeline.find((h) => h.who === 'a' && h.what === 'stoppedLeading')!;
    expect(stoppedEvent.atMs - confirmedMs).toBeGreaterThanOrEqual(RENEW_DEADLINE_MS - 5);
    expect(stoppedEvent.atMs - confirmedMs).toBeLessThanOrEqual(RENEW_DEADLINE_MS + SLACK_MS);
    expect(lossAtMs - confirmedMs).toBeLessThanOrEqual(RENEW_DEADLINE_MS + SLACK_MS);
    // AND b takes over only after the lease duration, so after a stopped
    await waitFor(() => b.isLeader, LEASE_DURATION_MS + 2_000, 'b to lead');
    const takeover = appliedBy('b')[0];
    expect(takeover.atMs - lastRenewMs).toBeGreaterThanOrEqual(LEASE_DURATION_MS);
    expect(takeover.atMs).toBeGreaterThan(stoppedEvent.atMs);
    expectNoOverlap(timeline);
    expectHolderChangesRespectTheLease(server.writes);

    // WHEN the network heals, a sees b's Lease and stays a standby
    server.heal('a');
    const healedUntil = Date.now() + 1_000;
    while (Date.now() < healedUntil) {
      expect(a.isLeader).toBe(false);
      await sleep(20);
    }
    expect(a.leader).toBe('collector-b');
    expect(lease()!.spec.holderIdentity).toBe('collector-b');
    expect(a.stats).toMatchObject({ acquisitions: 1, losses: 1 });
  });

  test('a renewal refused with 409 Conflict re-reads the Lease and renews in the same try, without losing leadership', async () => {
    const a = elector('a');
    a.start();
    await waitFor(() => a.isLeader, 2_000, 'a to lead');
    const getsBefore = server.requestCounts.get('a GET') ?? 0;

    // WHEN someone else changes the Lease (a new resourceVersion), twice
    server.touch(NAMESPACE, LEASE);
    await sleep(600);
    server.touch(NAMESPACE, LEASE);
    await sleep(600);

    // THEN each stale renewal got 409 and the next write, after a read, succeeded
    const aWrites = server.writes.filter((w) => w.client === 'a' && w.verb === 'replace');
    const conflicts = aWrites.map((w, i) => ({ w, i })).filter(({ w }) => w.status === 409);
    expect(conflicts).toHaveLength(2);
    for (const { i } of conflicts) {
      expect(aWrites[i + 1].status).toBe(200);
      // retried in the same try: well inside one retry period
      expect(aWrites[i + 1].atMs - aWrites[i].atMs).toBeLessThan(RETRY_PERIOD_MS);
    }
    expect((server.requestCounts.get('a GET') ?? 0) - getsBefore).toBe(2);
    expect(a.stats).toMatchObject({ conflicts: 2, losses: 0 });
    expect(a.isLeader).toBe(true);
    expect(lease()!.spec).toMatchObject({ holderIdentity: 'collector-a', leaseTransitions: 0 });
    expect(lease()!.metadata.annotations).toBeDefined();
  });

  test('stop() stops leading, then releases the Lease, and the standby takes it at its next try', async () => {
    const a = elector('a');
    a.start();
    await waitFor(() => a.isLeader, 2_000, 'a to lead');
    const b = elector('b');
    b.start();
    await sleep(500);

    await a.stop();

    const release = server.writes.filter((w) => w.client === 'a' && w.lease !== undefined).at(-1)!;
    expect(release.lease!.spec).toMatchObject({ holderIdentity: '', leaseDurationSeconds: 1, leaseTransitions: 0 });
    const stopped = timeline.find((h) => h.who === 'a' && h.what === 'stoppedLeading')!;
    expect(stopped.atMs).toBeLessThanOrEqual(release.atMs);
    await waitFor(() => b.isLeader, RETRY_PERIOD_MS + SLACK_MS + 300, 'b to lead');
    const takeover = appliedBy('b')[0];
    expect(takeover.atMs - release.atMs).toBeLessThanOrEqual(RETRY_PERIOD_MS + SLACK_MS);
    expect(takeover.lease!.spec).toMatchObject({ holderIdentity: 'collector-b', leaseTransitions: 1 });
    expectNoOverlap(timeline);
    // stopping again is harmless and writes nothing
    const writes = server.writes.length;
    await a.stop();
    expect(server.writes.length).toBe(writes);
  });

  test('two replicas starting together on no Lease: one create wins, the other gets 409 AlreadyExists and stands by', async () => {
    const a = elector('a');
    const b = elector('b');
    a.start();
    b.start();
    await waitFor(() => a.isLeader || b.isLeader, 2_000, 'a leader');
    await sleep(800);

    expect([a.isLeader, b.isLeader].filter(Boolean)).toHaveLength(1);
    const creates = server.writes.filter((w) => w.verb === 'create').map((w) => w.status).sort();
    expect(creates).toEqual([201, 409]);
    expect(lease()!.spec.leaseTransitions).toBe(0);
    expect(timeline).toHaveLength(1);
  });

  test('an API server that refuses the collector\'s credentials is logged once per outage, and nobody leads', async () => {
    const lines: Record<string, unknown>[] = [];
    // GIVEN credentials the server does not know: every call is refused with 401
    const a = elector('a', {
      kubeConfig: server.kubeConfig('nobody'),
      logger: createLogger('info', (l) => lines.push(JSON.parse(l) as Record<string, unknown>)),
    });
    a.start();
    await sleep(800);
    expect(a.isLeader).toBe(false);
    expect(a.stats.failures).toBeGreaterThanOrEqual(3);
    expect(lines.filter((l) => l.level === 'warn')).toEqual([
      expect.objectContaining({ msg: 'Lease call failed; trying again every retry period', error: expect.stringMatching(/^HTTP 401/) }),
    ]);
  });
});

describe('the loopback Lease server', () => {
  test('refuses a renewTime without microseconds, as the API server\'s MicroTime decoder does', async () => {
    const server = await startLeaseServer(['a']);
    try {
      const body = (renewTime: string) => JSON.stringify({
        apiVersion: 'coordination.k8s.io/v1', kind: 'Lease', metadata: { name: LEASE, namespace: NAMESPACE },
        spec: { holderIdentity: 'x', leaseDurationSeconds: 15, renewTime },
      });
      const post = (renewTime: string) => fetch(`${server.url}/apis/coordination.k8s.io/v1/namespaces/${NAMESPACE}/leases`, {
        method: 'POST', headers: { authorization: 'Bearer token-a', 'content-type': 'application/json' }, body: body(renewTime),
      });
      const millis = await post('2026-11-29T12:00:00.123Z');
      expect(millis.status).toBe(400);
      expect(await millis.json()).toMatchObject({ kind: 'Status', reason: 'BadRequest' });
      expect((await post('2026-11-29T12:00:00.123456Z')).status).toBe(201);
    } finally {
      await server.close();
    }
  });
});

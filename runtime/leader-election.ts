/**
 * Leader election on a Kubernetes Lease (coordination.k8s.io/v1), so that of several collector
 * replicas exactly one scrapes and publishes while the others stand by.
 *
 * The algorithm is client-go's (k8s.io/client-go/tools/leaderelection), one try every retry period:
 * - no Lease: create it, holding it (a create that loses the race gets 409 and waits);
 * - a Lease held by another replica and not expired: wait;
 * - expired, released (empty holder) or ours: write it with our identity and a fresh renewTime,
 *   counting a transition (leaseTransitions + 1, new acquireTime) when the holder was not us;
 * - every write carries the resourceVersion read, so two replicas racing for an expired Lease
 *   cannot both win: the API server answers the later one 409 Conflict, and it re-reads;
 * - the leader renews from its cached copy (client-go's fast path) and re-reads on any failure;
 *   it stops leading when no renewal succeeded within the renew deadline, at the deadline itself
 *   (a timer, not the next try), so it has stopped before any other replica may take the Lease;
 * - stop() gives the Lease up (empty holder, as client-go's ReleaseOnCancel) so a standby takes
 *   over at its next try instead of waiting out the lease duration.
 *
 * One difference, asked for by the issue: a Lease is expired when its renewTime plus its
 * leaseDurationSeconds is past, not, as client-go judges, when this replica has seen it unchanged
 * for a lease duration. A standby that starts after the leader died therefore takes over within
 * lease duration + retry period of the last renewal, not a full lease duration after it starts.
 * This trusts the nodes' clocks to agree within lease duration − renew deadline (5 s by default;
 * EKS nodes keep time with the Amazon Time Sync Service); a renewTime ahead of this replica's clock
 * counts only from when this replica first saw it, so a fast clock cannot hold the Lease forever.
 *
 * Each request has a deadline (a leader's also ends at its renew deadline) and the stop signal.
 * Signals are main's to handle: it calls stop() on SIGTERM.
 */
import { EventEmitter } from 'node:events';
import {
  ApiException, CoordinationV1Api, KubeConfig, Observable, V1MicroTime,
  type ObservableMiddleware, type RequestContext, type ResponseContext, type V1Lease, type V1LeaseSpec,
} from '@kubernetes/client-node';
import type { LeaderElectionSettings } from './leader-settings';
import { checkTimings } from './leader-settings';
import { joinAbort, sleep } from './abort';
import { silentLogger, type Logger } from './log';

export interface LeaderElectorOptions {
  readonly kubeConfig: KubeConfig;
  /** Namespace of the Lease (the collector's own). */
  readonly namespace: string;
  readonly leaseName: string;
  /** This replica's holder identity: its pod name. */
  readonly identity: string;
  /** How long a Lease holds without renewal; written as whole seconds (rounded up) into the Lease. */
  readonly leaseDurationMs: number;
  /** A leader that has not renewed for this long stops leading. */
  readonly renewDeadlineMs: number;
  /** Time between tries to acquire or renew. */
  readonly retryPeriodMs: number;
  /** Deadline of one API request. @default - half the renew deadline */
  readonly requestTimeoutMs?: number;
  /** Deadline of the release in stop(). @default 2000 */
  readonly releaseTimeoutMs?: number;
  /** @default - silent */
  readonly logger?: Logger;
}

/** The elector's options from the environment's settings. */
export function leaderElectorOptions(settings: LeaderElectionSettings, kubeConfig: KubeConfig, logger?: Logger): LeaderElectorOptions {
  return {
    kubeConfig,
    namespace: settings.namespace,
    leaseName: settings.leaseName,
    identity: settings.identity,
    leaseDurationMs: settings.leaseDurationSeconds * 1000,
    renewDeadlineMs: settings.renewDeadlineSeconds * 1000,
    retryPeriodMs: settings.retryPeriodSeconds * 1000,
    logger,
  };
}

/** Events: `startedLeading`; `stoppedLeading` with the reason; `newLeader` with the holder seen in the Lease ('' when released). */
export interface LeaderElectorEvents {
  startedLeading: [];
  stoppedLeading: [reason: string];
  newLeader: [identity: string];
}

/** What happened since the elector started. */
export interface LeaderElectorStats {
  /** Times this replica became the leader. */
  readonly acquisitions: number;
  /** Times it stopped leading (stop() included). */
  readonly losses: number;
  /** Writes the API server refused with 409 (another writer was first). */
  readonly conflicts: number;
  /** Tries that failed for any other reason (API server unreachable, 5xx, timeouts, 403). */
  readonly failures: number;
}

export class LeaderElector extends EventEmitter<LeaderElectorEvents> {
  private readonly api: CoordinationV1Api;
  private readonly namespace: string;
  private readonly leaseName: string;
  private readonly identity: string;
  private readonly leaseDurationSeconds: number;
  private readonly renewDeadlineMs: number;
  private readonly retryPeriodMs: number;
  private readonly requestTimeoutMs: number;
  private readonly releaseTimeoutMs: number;
  private readonly logger: Logger;
  private readonly lifetime = new AbortController();
  private leading = false;
  /** The renewTime of our last successful write (our clock). */
  private lastRenewMs = 0;
  /** The Lease as last written or read, for the fast-path renewal and the release. */
  private cached?: V1Lease;
  private observedVersion?: string;
  private observedAtMs = 0;
  private observedHolder?: string;
  private lossTimer?: NodeJS.Timeout;
  private loopDone?: Promise<void>;
  private stopping?: Promise<void>;
  /** Whether the last try failed, so a run of failures is logged once. */
  private failing = false;
  private readonly counts = { acquisitions: 0, losses: 0, conflicts: 0, failures: 0 };

  constructor(options: LeaderElectorOptions) {
    super();
    for (const [name, value] of Object.entries({
      leaseDurationMs: options.leaseDurationMs, renewDeadlineMs: options.renewDeadlineMs, retryPeriodMs: options.retryPeriodMs,
    })) {
      if (!(Number.isFinite(value) && value > 0)) throw new Error(`LeaderElector: ${name} must be a positive number of milliseconds, got ${value}`);
    }
    checkTimings(options.leaseDurationMs, options.renewDeadlineMs, options.retryPeriodMs, 'ms');
    if (!options.identity) throw new Error('LeaderElector: identity is empty; set POD_NAME');
    this.api = options.kubeConfig.makeApiClient(CoordinationV1Api);
    this.namespace = options.namespace;
    this.leaseName = options.leaseName;
    this.identity = options.identity;
    this.leaseDurationSeconds = Math.ceil(options.leaseDurationMs / 1000);
    this.renewDeadlineMs = options.renewDeadlineMs;
    this.retryPeriodMs = options.retryPeriodMs;
    this.requestTimeoutMs = options.requestTimeoutMs ?? options.renewDeadlineMs / 2;
    this.releaseTimeoutMs = options.releaseTimeoutMs ?? 2_000;
    this.logger = options.logger ?? silentLogger;
  }

  /** Starts trying to acquire the Lease, in the background; calling it twice is harmless. */
  start(): void {
    if (this.loopDone || this.lifetime.signal.aborted) return;
    this.logger.info('leader election started', { lease: `${this.namespace}/${this.leaseName}`, identity: this.identity });
    this.loopDone = this.loop();
  }

  /** Whether this replica leads now: it holds the Lease and renewed it within the renew deadline. */
  get isLeader(): boolean {
    return this.leading && Date.now() - this.lastRenewMs < this.renewDeadlineMs;
  }

  /** The holder last seen in the Lease ('' when released, undefined before the first read). */
  get leader(): string | undefined {
    return this.observedHolder;
  }

  /** The renewTime of this replica's last confirmed write to the Lease (ms since the epoch), if any. */
  get lastRenewedAtMs(): number | undefined {
    return this.lastRenewMs > 0 ? this.lastRenewMs : undefined;
  }

  get stats(): LeaderElectorStats {
    return { ...this.counts };
  }

  /**
   * Stops trying. A leader first stops leading (`stoppedLeading`), then gives the Lease up so a
   * standby takes over at once, unless `release` is false; the release is best effort, bounded by
   * its deadline. Calling it twice is harmless.
   */
  stop(options: { readonly release?: boolean } = {}): Promise<void> {
    this.stopping ??= this.shutDown(options.release ?? true);
    return this.stopping;
  }

  private async shutDown(release: boolean): Promise<void> {
    this.lifetime.abort(new Error('leader elector stopped'));
    await this.loopDone;
    const held = this.leading;
    if (held) this.lose('stopped');
    if (held && release) await this.release();
  }

  private async loop(): Promise<void> {
    const signal = this.lifetime.signal;
    while (!signal.aborted) {
      await this.tryAcquireOrRenew();
      await sleep(this.retryPeriodMs, signal);
    }
  }

  /** One try: renew when leading, otherwise acquire when the Lease is free. True when we hold it after the try. */
  private async tryAcquireOrRenew(): Promise<boolean> {
    // Fast path: the leader writes over its own last copy without reading first.
    if (this.leading && this.cached) {
      const now = Date.now();
      const result = await this.write(this.cached, this.holdingSpec(this.cached.spec, now, true), now, 'replace');
      if (result === 'ok') return true;
      if (this.lifetime.signal.aborted) return false;
      // A conflict or an error: read what is there and decide again, in this same try.
    }
    const now = Date.now();
    let lease: V1Lease;
    try {
      lease = await this.withDeadline((options) => this.api.readNamespacedLease({ name: this.leaseName, namespace: this.namespace }, options));
    } catch (err) {
      if (this.lifetime.signal.aborted) return false;
      if (err instanceof ApiException && err.code === 404) {
        const fresh: V1Lease = {
          apiVersion: 'coordination.k8s.io/v1',
          kind: 'Lease',
          metadata: { name: this.leaseName, namespace: this.namespace },
        };
        return (await this.write(fresh, this.holdingSpec(undefined, now, false), now, 'create')) === 'ok';
      }
      this.failed('read', err);
      return false;
    }
    this.observe(lease, now);
    const spec = lease.spec ?? {};
    const holder = spec.holderIdentity ?? '';
    if (holder !== '' && holder !== this.identity && !this.expired(spec, now)) {
      this.recovered();
      if (this.leading) this.lose(`the Lease is held by ${holder}`);
      return false;
    }
    return (await this.write(lease, this.holdingSpec(spec, now, holder === this.identity), now, 'replace')) === 'ok';
  }

  /** The spec that says we hold the Lease as of `now`: a renewal keeps acquireTime and the transition count. */
  private holdingSpec(previous: V1LeaseSpec | undefined, now: number, ours: boolean): V1LeaseSpec {
    const stamp = new V1MicroTime(now);
    const transitions = previous?.leaseTransitions ?? 0;
    return {
      holderIdentity: this.identity,
      leaseDurationSeconds: this.leaseDurationSeconds,
      acquireTime: ours && previous?.acquireTime ? previous.acquireTime : stamp,
      renewTime: stamp,
      leaseTransitions: previous === undefined ? 0 : ours ? transitions : transitions + 1,
    };
  }

  private async write(base: V1Lease, spec: V1LeaseSpec, now: number, verb: 'create' | 'replace'): Promise<'ok' | 'conflict' | 'error'> {
    const body: V1Lease = { ...base, spec };
    let written: V1Lease;
    try {
      written = verb === 'create'
        ? await this.withDeadline((options) => this.api.createNamespacedLease({ namespace: this.namespace, body }, options))
        : await this.withDeadline((options) => this.api.replaceNamespacedLease({ name: this.leaseName, namespace: this.namespace, body }, options));
    } catch (err) {
      if (this.lifetime.signal.aborted) return 'error';
      if (err instanceof ApiException && err.code === 409) {
        this.counts.conflicts++;
        this.logger.debug('the Lease changed since it was read; re-reading', { verb, lease: this.leaseName });
        return 'conflict';
      }
      this.failed(verb, err);
      return 'error';
    }
    this.recovered();
    // An answer that arrives after the renew deadline cannot count: we may already have stopped leading.
    if (Date.now() - now >= this.renewDeadlineMs) return 'error';
    this.cached = written;
    this.lastRenewMs = now;
    this.observe(written, now);
    if (!this.leading) this.gain(written.spec?.leaseTransitions ?? 0);
    this.armLossTimer();
    return 'ok';
  }

  private async release(): Promise<void> {
    const signal = AbortSignal.timeout(this.releaseTimeoutMs);
    let lease = this.cached;
    for (let attempt = 0; attempt < 2 && lease; attempt++) {
      const now = new V1MicroTime(Date.now());
      const spec: V1LeaseSpec = {
        holderIdentity: '',
        leaseDurationSeconds: 1,
        acquireTime: now,
        renewTime: now,
        leaseTransitions: lease.spec?.leaseTransitions ?? 0,
      };
      try {
        await this.api.replaceNamespacedLease({ name: this.leaseName, namespace: this.namespace, body: { ...lease, spec } }, signalOptions(signal));
        this.logger.info('released the Lease', { lease: this.leaseName, identity: this.identity });
        return;
      } catch (err) {
        if (!(err instanceof ApiException && err.code === 409) || signal.aborted) {
          this.logger.warn('could not release the Lease; a standby takes over when it expires', { error: describeError(err) });
          return;
        }
      }
      // 409: our copy is stale (a renewal landed after its answer was abandoned); release the current one if still ours.
      try {
        lease = await this.api.readNamespacedLease({ name: this.leaseName, namespace: this.namespace }, signalOptions(signal));
      } catch (err) {
        this.logger.warn('could not release the Lease; a standby takes over when it expires', { error: describeError(err) });
        return;
      }
      if (lease.spec?.holderIdentity !== this.identity) return;
    }
  }

  /**
   * Expired when renewTime + leaseDurationSeconds is past. A renewTime ahead of our clock counts
   * from when we first saw this version of the Lease.
   */
  private expired(spec: V1LeaseSpec, now: number): boolean {
    const durationMs = (spec.leaseDurationSeconds && spec.leaseDurationSeconds > 0 ? spec.leaseDurationSeconds : this.leaseDurationSeconds) * 1000;
    const renewMs = parseTime(spec.renewTime);
    const since = renewMs === undefined ? this.observedAtMs : Math.min(renewMs, this.observedAtMs);
    return since + durationMs < now;
  }

  private observe(lease: V1Lease, now: number): void {
    const version = lease.metadata?.resourceVersion;
    if (version !== this.observedVersion) {
      this.observedVersion = version;
      this.observedAtMs = now;
    }
    const holder = lease.spec?.holderIdentity ?? '';
    if (holder !== this.observedHolder) {
      this.observedHolder = holder;
      if (holder !== this.identity) this.logger.info('the Lease has a new holder', { lease: this.leaseName, holder: holder || '(released)' });
      this.tell('newLeader', holder);
    }
  }

  private gain(transitions: number): void {
    this.leading = true;
    this.counts.acquisitions++;
    this.logger.info('became the leader', { lease: `${this.namespace}/${this.leaseName}`, identity: this.identity, leaseTransitions: transitions });
    this.tell('startedLeading');
  }

  private lose(reason: string): void {
    if (!this.leading) return;
    this.leading = false;
    clearTimeout(this.lossTimer);
    this.counts.losses++;
    this.logger.warn('stopped leading', { lease: `${this.namespace}/${this.leaseName}`, identity: this.identity, reason });
    this.tell('stoppedLeading', reason);
  }

  /** Emits to the listeners; one that throws is logged, and cannot stop the election loop or its timer. */
  private tell<K extends keyof LeaderElectorEvents>(event: K, ...args: LeaderElectorEvents[K]): void {
    try {
      (this.emit as (e: K, ...a: LeaderElectorEvents[K]) => boolean)(event, ...args);
    } catch (err) {
      this.logger.error('a leader election listener threw', { event, error: err instanceof Error ? err.message : String(err) });
    }
  }

  /** Stops leading at the renew deadline unless a renewal comes first. */
  private armLossTimer(): void {
    clearTimeout(this.lossTimer);
    const renewedAt = this.lastRenewMs;
    this.lossTimer = setTimeout(() => {
      if (this.lastRenewMs === renewedAt) this.lose(`no renewal within the renew deadline (${this.renewDeadlineMs} ms)`);
    }, Math.max(0, renewedAt + this.renewDeadlineMs - Date.now()));
    this.lossTimer.unref();
  }

  private failed(what: string, err: unknown): void {
    this.counts.failures++;
    const fields = { lease: `${this.namespace}/${this.leaseName}`, call: what, error: describeError(err) };
    if (this.failing) {
      this.logger.debug('Lease call failed again', fields);
    } else {
      this.failing = true;
      this.logger.warn('Lease call failed; trying again every retry period', fields);
    }
  }

  private recovered(): void {
    if (!this.failing) return;
    this.failing = false;
    this.logger.info('Lease calls succeed again', { lease: `${this.namespace}/${this.leaseName}` });
  }

  /**
   * Runs one Lease call under the request deadline and the stop signal (a leader's deadline also ends
   * at its renew deadline), joined without AbortSignal.any (see abort.ts) and released after the call.
   */
  private async withDeadline<T>(call: (options: ReturnType<typeof signalOptions>) => Promise<T>): Promise<T> {
    let timeoutMs = this.requestTimeoutMs;
    if (this.leading) timeoutMs = Math.min(timeoutMs, this.lastRenewMs + this.renewDeadlineMs - Date.now());
    const joined = joinAbort([this.lifetime.signal], Math.max(1, timeoutMs));
    try {
      return await call(signalOptions(joined.signal));
    } finally {
      joined.dispose();
    }
  }
}

/** Per-request options that give the request `signal` (client-node 1.4 takes it through middleware). */
function signalOptions(signal: AbortSignal) {
  const middleware: ObservableMiddleware = {
    pre: (context: RequestContext) => {
      context.setSignal(signal);
      return new Observable(Promise.resolve(context));
    },
    post: (context: ResponseContext) => new Observable(Promise.resolve(context)),
  };
  return { middleware: [middleware], middlewareMergeStrategy: 'append' as const };
}

/** A MicroTime as the client hands it back (a string) or as we built it (a Date), in ms. */
function parseTime(value: unknown): number | undefined {
  if (value instanceof Date) return value.getTime();
  if (typeof value !== 'string') return undefined;
  const ms = Date.parse(value);
  return Number.isFinite(ms) ? ms : undefined;
}

function describeError(err: unknown): string {
  if (err instanceof ApiException) {
    const hint = err.code === 403 ? ' (forbidden: the collector\'s Role needs get, create and update on leases in its namespace)' : '';
    let message = '';
    try {
      const body = typeof err.body === 'string' ? JSON.parse(err.body) as { message?: string } : err.body as { message?: string };
      message = body?.message ? `: ${body.message}` : '';
    } catch {
      // not a Status body
    }
    return `HTTP ${err.code}${message}${hint}`;
  }
  const e = err as { name?: string; message?: string };
  return e?.name === 'AbortError' || e?.name === 'TimeoutError' ? 'request timed out' : e?.message ?? String(err);
}


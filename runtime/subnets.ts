/**
 * The subnet watcher: how many IPv4 addresses are still free in each subnet the cluster's pods draw
 * from, read with EC2 DescribeSubnets every refresh period and handed to every cycle from a cache.
 *
 * - Ids go in a `subnet-id` filter, 200 to a request (EC2's limit on a filter's values), with
 *   MaxResults and NextToken paging; a filter, unlike SubnetIds, answers without the subnets that no
 *   longer exist instead of failing the whole call, so one deleted subnet does not hide the others.
 * - A refresh is all or nothing: the cache is replaced only when every page of every chunk answered
 *   and every answered subnet carries a whole available-IP count and an Availability Zone.
 * - A failed refresh keeps the last figures, but only for two refresh periods after they were read;
 *   past that nothing is published (a stale count would be a false number), logged once and counted.
 * - Every call has a deadline that also covers the SDK's own (bounded) retries, and the stop signal.
 *
 * The client is created without an endpoint, so the SDK's standard settings apply
 * (AWS_ENDPOINT_URL_EC2, then AWS_ENDPOINT_URL), as do AWS_REGION and the credential chain.
 */
import { DescribeSubnetsCommand, EC2Client, type Subnet } from '@aws-sdk/client-ec2';
import { SUBNET_DIMENSIONS, catalogMetric } from '../common/catalog';
import { joinAbort } from './abort';
import { silentLogger, type Logger } from './log';
import type { ClusterDatum } from './types';

/** CloudWatch names of the subnet metrics, from the catalog. */
export const SUBNET_METRICS = {
  /** Per subnet: free IPv4 addresses (dimensions CLUSTER_ID, SubnetId, AvailabilityZone). */
  availableIps: catalogMetric('subnetAvailableIPs').metricName,
  /** The fewest free IPv4 addresses in any watched subnet (CLUSTER_ID only). */
  minAvailableIps: catalogMetric('minSubnetAvailableIPs').metricName,
  /** DescribeSubnets refreshes that failed since the previous cycle (CLUSTER_ID only; sent when non-zero). */
  refreshErrors: catalogMetric('subnetRefreshErrors').metricName,
} as const;

export { SUBNET_DIMENSIONS };

/** A cluster datum that may carry dimensions beyond CLUSTER_ID (ClusterDatum's `dimensions`). */
export type DimensionedDatum = ClusterDatum;

/** EC2's limit on the values of one filter. */
export const MAX_FILTER_VALUES = 200;
/** Largest page EC2 serves for DescribeSubnets (MaxResults 5 to 1000). */
const PAGE_SIZE = 1_000;
/** A chunk needs one page in practice; an endpoint that keeps paging past this is not trusted. */
const MAX_PAGES_PER_CHUNK = 20;
const DEFAULT_CALL_TIMEOUT_MS = 20_000;
const DEFAULT_MAX_ATTEMPTS = 3;
/** Cached figures are published for at most this many refresh periods after they were read. */
export const STALE_AFTER_PERIODS = 2;

/** One subnet's figures as EC2 reported them. */
export interface SubnetFigures {
  readonly subnetId: string;
  readonly availabilityZone: string;
  readonly availableIps: number;
}

/** The cache: the last complete answer and when it was read. */
export interface SubnetSnapshot {
  /** Watched subnets EC2 answered for, in the configured order. */
  readonly subnets: readonly SubnetFigures[];
  /** Watched ids EC2 did not return (deleted, or not visible to this account). */
  readonly missing: readonly string[];
  /** When the refresh that read them started (ms since the epoch). */
  readonly readAtMs: number;
}

export interface SubnetWatcherOptions {
  /** Distinct subnet ids to watch (see parseSubnetIds). */
  readonly subnetIds: readonly string[];
  /** Time between refreshes; the cache goes stale after two of them. */
  readonly refreshMs: number;
  /** Region for the client this watcher creates; ignored when `client` is given. @default - the SDK's (AWS_REGION) */
  readonly region?: string;
  /** A client to use instead of creating one (tests aim it at a loopback endpoint). @default - a new client */
  readonly client?: EC2Client;
  /** Deadline for one DescribeSubnets page, the SDK's retries included. @default 20000 */
  readonly callTimeoutMs?: number;
  /** SDK attempts per call for the client this watcher creates. @default 3 */
  readonly maxAttempts?: number;
  /** @default - silent */
  readonly logger?: Logger;
  /** Clock, for staleness. @default Date.now */
  readonly now?: () => number;
}

export class SubnetWatcher {
  private readonly subnetIds: readonly string[];
  private readonly refreshMs: number;
  private readonly callTimeoutMs: number;
  private readonly logger: Logger;
  private readonly now: () => number;
  private readonly client: EC2Client;
  private readonly ownsClient: boolean;
  private readonly lifetime = new AbortController();
  private cache?: SubnetSnapshot;
  private timer?: NodeJS.Timeout;
  private running?: Promise<boolean>;
  private stopped = false;
  private failures = 0;
  private failuresReported = 0;
  private withheld = 0;
  /** Whether the last datums() call found the cache stale (to log the change once). */
  private staleLogged = false;
  private lastMissingKey = '';

  constructor(options: SubnetWatcherOptions) {
    if (options.subnetIds.length === 0) {
      throw new Error('SubnetWatcher: no subnet ids to watch; leave the watcher out when SUBNET_IDS is empty');
    }
    if (!(Number.isFinite(options.refreshMs) && options.refreshMs > 0)) {
      throw new Error(`SubnetWatcher: refreshMs must be a positive number of milliseconds, got ${options.refreshMs}`);
    }
    this.subnetIds = [...options.subnetIds];
    this.refreshMs = options.refreshMs;
    this.callTimeoutMs = options.callTimeoutMs ?? DEFAULT_CALL_TIMEOUT_MS;
    this.logger = options.logger ?? silentLogger;
    this.now = options.now ?? Date.now;
    this.ownsClient = options.client === undefined;
    this.client = options.client ?? new EC2Client({
      region: options.region,
      maxAttempts: options.maxAttempts ?? DEFAULT_MAX_ATTEMPTS,
      // Without throwOnRequestTimeout a hung socket only warns, and holds the refresh until the deadline.
      requestHandler: { connectionTimeout: 5_000, requestTimeout: 10_000, throwOnRequestTimeout: true },
    });
  }

  /** Refreshes once (resolving whether it succeeded), then every refresh period until stop(). */
  async start(): Promise<boolean> {
    const ok = await this.refresh();
    this.schedule();
    return ok;
  }

  /**
   * Reads every watched subnet now; replaces the cache only on complete success. A refresh already
   * running is joined, not doubled. Never throws: failures are logged and counted.
   */
  refresh(): Promise<boolean> {
    if (this.stopped) return Promise.resolve(false);
    this.running ??= this.readAll().finally(() => {
      this.running = undefined;
    });
    return this.running;
  }

  /** The last complete answer, fresh or not (undefined before the first success). */
  get snapshot(): SubnetSnapshot | undefined {
    return this.cache;
  }

  /** Failed refreshes since the watcher was made. */
  get refreshFailures(): number {
    return this.failures;
  }

  /** Cycles given no subnet figures because the cache was older than two refresh periods. */
  get withheldCycles(): number {
    return this.withheld;
  }

  /**
   * This cycle's subnet datums, stamped `timestamp`: one `subnetAvailableIPs` per answered subnet and
   * `minSubnetAvailableIPs`, while the cache is at most two refresh periods old; nothing otherwise.
   * Failed refreshes since the previous call go out as `subnetRefreshErrors` when there were any.
   */
  datums(timestamp: Date): DimensionedDatum[] {
    const out: DimensionedDatum[] = [];
    const newFailures = this.failures - this.failuresReported;
    this.failuresReported = this.failures;
    if (newFailures > 0) {
      out.push({ metricName: SUBNET_METRICS.refreshErrors, unit: 'Count', value: newFailures, timestamp });
    }
    const cache = this.cache;
    if (cache === undefined) return out;
    const ageMs = this.now() - cache.readAtMs;
    if (ageMs > STALE_AFTER_PERIODS * this.refreshMs) {
      this.withheld++;
      if (!this.staleLogged) {
        this.staleLogged = true;
        this.logger.error('subnet figures withheld: the last DescribeSubnets answer is older than two refresh periods', {
          ageSeconds: Math.round(ageMs / 1000),
          refreshSeconds: this.refreshMs / 1000,
        });
      }
      return out;
    }
    this.staleLogged = false;
    if (cache.subnets.length === 0) return out;
    let min = Infinity;
    for (const s of cache.subnets) {
      min = Math.min(min, s.availableIps);
      out.push({
        metricName: SUBNET_METRICS.availableIps,
        unit: 'Count',
        value: s.availableIps,
        timestamp,
        dimensions: { [SUBNET_DIMENSIONS.subnetId]: s.subnetId, [SUBNET_DIMENSIONS.availabilityZone]: s.availabilityZone },
      });
    }
    out.push({ metricName: SUBNET_METRICS.minAvailableIps, unit: 'Count', value: min, timestamp });
    return out;
  }

  /** Stops the timer and aborts a refresh in flight; calling it twice is harmless. */
  async stop(): Promise<void> {
    if (this.stopped) return;
    this.stopped = true;
    clearTimeout(this.timer);
    this.lifetime.abort(new Error('subnet watcher stopped'));
    await this.running;
    if (this.ownsClient) this.client.destroy();
  }

  private schedule(): void {
    if (this.stopped) return;
    this.timer = setTimeout(() => {
      void this.refresh().then(() => this.schedule());
    }, this.refreshMs);
    this.timer.unref();
  }

  private async readAll(): Promise<boolean> {
    const startedMs = this.now();
    try {
      const found = new Map<string, SubnetFigures>();
      for (let i = 0; i < this.subnetIds.length; i += MAX_FILTER_VALUES) {
        await this.readChunk(this.subnetIds.slice(i, i + MAX_FILTER_VALUES), found);
      }
      const subnets = this.subnetIds.flatMap((id) => found.get(id) ?? []);
      const missing = this.subnetIds.filter((id) => !found.has(id));
      this.cache = { subnets, missing, readAtMs: startedMs };
      this.reportMissing(missing);
      this.logger.debug('subnets read', { subnets: subnets.length, missing: missing.length });
      return true;
    } catch (err) {
      if (this.stopped) return false;
      this.failures++;
      const failure = describeFailure(err);
      this.logger.warn('DescribeSubnets failed; keeping the last figures for at most two refresh periods', {
        error: failure,
        lastReadSecondsAgo: this.cache ? Math.round((this.now() - this.cache.readAtMs) / 1000) : undefined,
      });
      return false;
    }
  }

  private async readChunk(ids: readonly string[], found: Map<string, SubnetFigures>): Promise<void> {
    const wanted = new Set(ids);
    const tokensSeen = new Set<string>();
    let nextToken: string | undefined;
    for (let page = 0; page < MAX_PAGES_PER_CHUNK; page++) {
      const call = joinAbort([this.lifetime.signal], this.callTimeoutMs);
      const answer = await this.client.send(new DescribeSubnetsCommand({
        Filters: [{ Name: 'subnet-id', Values: [...ids] }],
        MaxResults: PAGE_SIZE,
        NextToken: nextToken,
      }), { abortSignal: call.signal }).finally(() => call.dispose());
      for (const subnet of answer.Subnets ?? []) {
        const figures = readFigures(subnet);
        if (wanted.has(figures.subnetId)) found.set(figures.subnetId, figures);
      }
      nextToken = answer.NextToken || undefined;
      if (nextToken === undefined) return;
      if (tokensSeen.has(nextToken)) throw new Error(`DescribeSubnets repeated the page token ${JSON.stringify(nextToken)}`);
      tokensSeen.add(nextToken);
    }
    throw new Error(`DescribeSubnets kept paging past ${MAX_PAGES_PER_CHUNK} pages for ${ids.length} subnet ids`);
  }

  private reportMissing(missing: readonly string[]): void {
    const key = missing.join(',');
    if (key === this.lastMissingKey) return;
    this.lastMissingKey = key;
    if (missing.length > 0) {
      this.logger.warn('watched subnets not found by DescribeSubnets (deleted, or not shared with this account); publishing the others', { missing });
    }
  }
}

/** One subnet's figures, or an error when EC2's answer lacks what a true figure needs. */
function readFigures(subnet: Subnet): SubnetFigures {
  const { SubnetId: subnetId, AvailabilityZone: availabilityZone, AvailableIpAddressCount: availableIps } = subnet;
  if (!subnetId || !availabilityZone || availableIps === undefined || !Number.isSafeInteger(availableIps) || availableIps < 0) {
    throw new Error(
      `DescribeSubnets answered a subnet without a usable id, Availability Zone or available IP count: ` +
        JSON.stringify({ subnetId, availabilityZone, availableIps }),
    );
  }
  return { subnetId, availabilityZone, availableIps };
}

/** The error's code, message and HTTP status, with a hint for the one the user must fix. */
function describeFailure(err: unknown): Record<string, unknown> {
  const e = err as { name?: string; message?: string; $metadata?: { httpStatusCode?: number } };
  const name = e?.name ?? 'Error';
  const hint = name === 'UnauthorizedOperation' || name === 'AccessDenied' || name === 'AccessDeniedException'
    ? 'the collector\'s IAM identity needs ec2:DescribeSubnets'
    : name === 'TimeoutError' || name === 'AbortError' ? 'the call passed its deadline' : undefined;
  return { name, message: e?.message ?? String(err), httpStatus: e?.$metadata?.httpStatusCode, ...(hint ? { hint } : {}) };
}

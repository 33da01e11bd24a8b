/**
 * The collector chart's settings: defaults resolved, every value checked against the rules the
 * collector (common/limits.ts, common/naming.ts) and Kubernetes (kubernetes-names.ts) apply, and
 * turned into the collector's environment. The helper checks its `collector` options here with the
 * prefix `collector` before it builds the chart, so a message names the prop the user wrote.
 */
import { Token } from 'aws-cdk-lib';
import * as cdk8s from 'cdk8s';
import { INTEGER_LIMITS, LOG_LEVELS, SCRAPE_MODES, inRange } from '../../common/limits';
import { cloudWatchNamespaceProblem, eksClusterNameProblem } from '../../common/naming';
import { DEFAULTS, ENV } from '../../common/settings';
import { CollectorSizing, DEFAULT_EXPECTED_NODE_COUNT, EXPECTED_NODE_COUNT_RANGE, SIZING_BOUNDS, maxOldSpaceSizeFor, sizeCollector } from '../../common/sizing';
import type { CollectorChartOptions, CollectorChartProps, CollectorLeaderElectionOptions } from '../collector-chart';
import { ValidationError, propPath, withValue } from './errors';
import { validateSubnetIds } from './subnet-ids';
import {
  DNS_LABEL_RULE,
  DNS_SUBDOMAIN_RULE,
  NAME_RULE,
  isDnsLabel,
  isDnsSubdomain,
  isEnvName,
  isLabelKey,
  isLabelSelector,
  isLabelValue,
  known,
  resourceAmounts,
} from './kubernetes-names';

/** The collector's namespace unless told otherwise: where upstream installs it, beside aws-node. */
export const DEFAULT_COLLECTOR_NAMESPACE = 'kube-system';
/** The name of the Deployment, Role, RoleBinding and ServiceAccount. */
export const DEFAULT_COLLECTOR_NAME = 'cni-metrics-helper';

/** Node's own variable: the chart sets the V8 heap cap in it (`--max-old-space-size`). */
export const NODE_OPTIONS_ENV = 'NODE_OPTIONS';

/** Every setting with its default applied, as the collector reads it. */
export interface ResolvedCollectorSettings {
  readonly namespace: string;
  readonly serviceAccountName: string;
  readonly scrapeMode: string;
  readonly intervalSeconds: number;
  readonly useCloudWatch: boolean;
  readonly usePrometheus: boolean;
  readonly cloudWatchNamespace: string;
  readonly logLevel: string;
  readonly scrapeConcurrency: number;
  /** SCRAPE_WORKERS, given or derived with the sizing. */
  readonly scrapeWorkers: number;
  readonly scrapeTimeoutMs: number;
  readonly awsNodeNamespace: string;
  readonly awsNodeLabelSelector: string;
  readonly replicas: number;
  /** The cluster size given, or undefined (the chart then sizes limits for the largest cluster). */
  readonly expectedNodeCount?: number;
  /**
   * The collector's size from common/sizing.ts, for `expectedNodeCount` or else the largest cluster;
   * `scrapeConcurrency` above is its concurrency unless the user gave one.
   */
  readonly sizing: CollectorSizing;
  /** The Lease settings when replicas > 1; undefined with one replica. */
  readonly leaderElection?: ResolvedLeaderElection;
}

/** Lease leader election with defaults applied. */
interface ResolvedLeaderElection {
  readonly leaseName: string;
  readonly leaseDurationSeconds: number;
  readonly renewDeadlineSeconds: number;
  readonly retryPeriodSeconds: number;
}

/** Most collector replicas: one leader publishes, the rest only wait; more than a few standbys buy nothing. */
const MAX_COLLECTOR_REPLICAS = 5;

/** The string an enum-like choice holds; a plain string from JavaScript is taken as it is. */
function choiceValue(choice: { readonly value: string } | string | undefined, fallback: string): string {
  if (choice === undefined) return fallback;
  return typeof choice === 'string' ? choice : choice.value;
}

/** The settings with defaults applied, all but what sizing derives (filled in once they are checked). */
type BaseSettings = Omit<ResolvedCollectorSettings, 'sizing'>;

function resolve(props: CollectorChartOptions & Partial<CollectorChartProps>): BaseSettings {
  const replicas = props.replicas ?? 1;
  return {
    namespace: props.namespace ?? DEFAULT_COLLECTOR_NAMESPACE,
    serviceAccountName: props.serviceAccountName ?? DEFAULT_COLLECTOR_NAME,
    scrapeMode: choiceValue(props.scrapeMode, DEFAULTS.scrapeMode),
    intervalSeconds: props.intervalSeconds ?? DEFAULTS.intervalSeconds,
    useCloudWatch: props.useCloudWatch ?? DEFAULTS.useCloudWatch,
    usePrometheus: props.usePrometheus ?? DEFAULTS.usePrometheus,
    cloudWatchNamespace: props.cloudWatchNamespace ?? DEFAULTS.cloudWatchNamespace,
    logLevel: choiceValue(props.logLevel, DEFAULTS.logLevel),
    // Checked as given; derived from the cluster size (withSizing) when left out.
    scrapeConcurrency: props.scrapeConcurrency ?? DEFAULTS.scrapeConcurrency,
    scrapeWorkers: props.scrapeWorkers ?? DEFAULTS.scrapeWorkers,
    scrapeTimeoutMs: props.scrapeTimeoutMs ?? DEFAULTS.scrapeTimeoutMs,
    awsNodeNamespace: props.awsNodeNamespace ?? DEFAULTS.awsNodeNamespace,
    awsNodeLabelSelector: props.awsNodeLabelSelector ?? DEFAULTS.awsNodeLabelSelector,
    replicas,
    expectedNodeCount: props.expectedNodeCount,
    ...(replicas > 1 ? {
      leaderElection: {
        leaseName: props.leaderElection?.leaseName ?? DEFAULTS.leaseName,
        leaseDurationSeconds: props.leaderElection?.leaseDurationSeconds ?? DEFAULTS.leaseDurationSeconds,
        renewDeadlineSeconds: props.leaderElection?.renewDeadlineSeconds ?? DEFAULTS.leaseRenewDeadlineSeconds,
        retryPeriodSeconds: props.leaderElection?.retryPeriodSeconds ?? DEFAULTS.leaseRetryPeriodSeconds,
      },
    } : {}),
  };
}

/**
 * Throws a ValidationError on the first bad option, named `<prefix>.<option>`. Tokens are not checked.
 * Returns the settings with defaults applied.
 */
export function validateCollectorChartOptions(options: CollectorChartOptions, prefix: string): ResolvedCollectorSettings {
  const settings = resolve(options);
  const fail = (name: string, problem: string, value: unknown, fix: string): never => {
    throw new ValidationError(propPath(prefix, name), withValue(problem, value), fix);
  };
  const defaultFix = (name: 'intervalSeconds' | 'scrapeConcurrency' | 'scrapeWorkers' | 'scrapeTimeoutMs'): string => (name === 'scrapeConcurrency' || name === 'scrapeWorkers'
    ? `leave it out to derive it from ${propPath(prefix, 'expectedNodeCount')}`
    : `leave it out for the default, ${DEFAULTS[name]}`);

  if (known(settings.namespace) && !isDnsLabel(settings.namespace)) {
    fail('namespace', `must be ${DNS_LABEL_RULE}`, settings.namespace, `e.g. '${DEFAULT_COLLECTOR_NAMESPACE}'`);
  }
  if (known(settings.awsNodeNamespace) && !isDnsLabel(settings.awsNodeNamespace)) {
    fail('awsNodeNamespace', `must be ${DNS_LABEL_RULE}`, settings.awsNodeNamespace, "the namespace of the aws-node pods, e.g. 'kube-system'");
  }
  if (known(settings.serviceAccountName) && !isDnsSubdomain(settings.serviceAccountName)) {
    fail('serviceAccountName', `must be ${DNS_SUBDOMAIN_RULE}`, settings.serviceAccountName, `e.g. '${DEFAULT_COLLECTOR_NAME}'`);
  }
  if (options.priorityClassName !== undefined && known(options.priorityClassName) && !isDnsSubdomain(options.priorityClassName)) {
    fail('priorityClassName', `must be the name of a PriorityClass, ${DNS_SUBDOMAIN_RULE}`, options.priorityClassName, 'e.g. system-cluster-critical');
  }
  if (!(SCRAPE_MODES as readonly string[]).includes(settings.scrapeMode)) {
    fail('scrapeMode', `must be one of ${SCRAPE_MODES.join(', ')}`, settings.scrapeMode, 'use ScrapeMode.PROXY or ScrapeMode.DIRECT');
  }
  if (!(LOG_LEVELS as readonly string[]).includes(settings.logLevel)) {
    fail('logLevel', `must be one of ${LOG_LEVELS.join(', ')}`, settings.logLevel, 'use CollectorLogLevel.INFO (or DEBUG, WARN, ERROR)');
  }
  for (const name of ['intervalSeconds', 'scrapeConcurrency', 'scrapeWorkers', 'scrapeTimeoutMs'] as const) {
    const range = INTEGER_LIMITS[name];
    if (!inRange(settings[name], range)) {
      fail(name, `must be a whole number from ${range.min} to ${range.max} (${range.unit})`, settings[name], defaultFix(name));
    }
  }
  if (settings.expectedNodeCount !== undefined) {
    const range = EXPECTED_NODE_COUNT_RANGE;
    // A token cannot size the Deployment: the resources are computed at synthesis.
    const problem = Token.isUnresolved(settings.expectedNodeCount)
      ? 'must be a number known at synthesis, not a token (the chart computes the resources from it)'
      : `must be a whole number from ${range.min} to ${range.max} (${range.unit})`;
    if (!inRange(settings.expectedNodeCount, range)) {
      fail('expectedNodeCount', problem, settings.expectedNodeCount,
        `give the number of nodes the cluster runs or will run, or leave it out to size the limits for ${DEFAULT_EXPECTED_NODE_COUNT.toLocaleString('en-US')} nodes`);
    }
  }
  const selector = settings.awsNodeLabelSelector;
  if (known(selector) && (selector.trim() === '' || !isLabelSelector(selector))) {
    // The API server would answer every pod list with 400 Bad Request, and the collector would never see a node.
    fail('awsNodeLabelSelector', 'must be a Kubernetes label selector: requirements such as k8s-app=aws-node, key!=value, ' +
      'key in (a,b), key notin (a,b), key or !key, joined by commas', selector, `e.g. '${DEFAULTS.awsNodeLabelSelector}'`);
  }
  if (options.region !== undefined && known(options.region) && !/^[a-z]{2}(-[a-z]+)+-\d+$/.test(options.region)) {
    fail('region', 'must be an AWS region', options.region, 'e.g. eu-west-1, or leave it out for the stack\'s region');
  }
  for (const { what, request, limit } of resourceAmounts(options.resources)) {
    // Kubernetes refuses a pod whose request is above its limit, at apply time.
    if (request !== undefined && limit !== undefined && request.amount > limit.amount) {
      fail('resources', `${what} request must not be above its limit`, `request ${request.shown}, limit ${limit.shown}`, `lower the ${what} request or raise its limit`);
    }
  }
  if (!Token.isUnresolved(settings.replicas) && !inRange(settings.replicas, { min: 1, max: MAX_COLLECTOR_REPLICAS, unit: 'pods' })) {
    fail('replicas', `must be a whole number from 1 to ${MAX_COLLECTOR_REPLICAS}`, settings.replicas, 'use 1, or 2 for a hot standby');
  }
  validateLeaderElection(options, settings, prefix);
  for (const name of Object.keys(options.extraEnv ?? {})) {
    if (!isEnvName(name)) fail('extraEnv', 'keys must be environment variable names (letters, digits, "_")', name, 'rename the variable');
    const instead = envSetByChart(prefix)[name];
    if (instead !== undefined) fail('extraEnv', `may not set ${name}, which the chart sets itself`, name, instead);
  }
  return withSizing(options, settings);
}

/**
 * The collector's size for the cluster (common/sizing.ts) and the concurrency it derives when none
 * was given. Without `expectedNodeCount` the rule runs for the largest cluster: limits and concurrency
 * hold it, and the chart keeps the requests at their floors (see sizedResources).
 */
function withSizing(options: CollectorChartOptions, settings: BaseSettings): ResolvedCollectorSettings {
  const sizing = sizeCollector({
    nodes: settings.expectedNodeCount ?? DEFAULT_EXPECTED_NODE_COUNT,
    intervalSeconds: settings.intervalSeconds,
    scrapeTimeoutMs: settings.scrapeTimeoutMs,
    scrapeMode: settings.scrapeMode === 'direct' ? 'direct' : 'proxy',
    scrapeConcurrency: options.scrapeConcurrency,
    scrapeWorkers: options.scrapeWorkers,
  });
  return { ...settings, scrapeConcurrency: sizing.scrapeConcurrency, scrapeWorkers: sizing.scrapeWorkers, sizing };
}

/** Requests and limits: CPU in millicores, memory in MiB. */
export type SizedResources = Pick<CollectorSizing, 'cpuRequestMillicores' | 'cpuLimitMillicores' | 'memoryRequestMiB' | 'memoryLimitMiB'>;

/**
 * The container's requests and limits, CPU in millicores and memory in MiB: the sizing's, except
 * that without `expectedNodeCount` the requests stay at their floors (50m, 64 MiB) — a cluster of
 * unknown size is most likely small, and a limit costs nothing until it is used.
 */
export function sizedResources(settings: ResolvedCollectorSettings): SizedResources {
  const { sizing } = settings;
  const sizeGiven = settings.expectedNodeCount !== undefined;
  return {
    cpuRequestMillicores: sizeGiven ? sizing.cpuRequestMillicores : SIZING_BOUNDS.minCpuRequestMillicores,
    cpuLimitMillicores: sizing.cpuLimitMillicores,
    memoryRequestMiB: sizeGiven ? sizing.memoryRequestMiB : SIZING_BOUNDS.minMemoryRequestMiB,
    memoryLimitMiB: sizing.memoryLimitMiB,
  };
}

/**
 * The V8 heap cap in MiB: from the memory limit of the user's `resources` when they give one, from
 * the sizing's limit when they give no `resources`; none when their `resources` set no memory limit
 * (nothing to stay under).
 */
function heapCapMiB(options: CollectorChartOptions, settings: ResolvedCollectorSettings): number | undefined {
  if (options.resources === undefined) return settings.sizing.maxOldSpaceSizeMiB;
  const limit = options.resources.memory?.limit;
  if (limit === undefined) return undefined;
  return maxOldSpaceSizeFor(limit.toMebibytes({ rounding: cdk8s.SizeRoundingBehavior.FLOOR }));
}

/**
 * The Lease options: names and ranges as the collector reads them, and client-go's order
 * (duration > renew deadline > retry period), checked with the defaults filled in.
 */
function validateLeaderElection(options: CollectorChartOptions, settings: BaseSettings, prefix: string): void {
  if (options.leaderElection === undefined) return;
  const path = (name: string) => propPath(propPath(prefix, 'leaderElection'), name);
  if (settings.replicas === 1) {
    throw new ValidationError(propPath(prefix, 'leaderElection'), 'is set but replicas is 1, and one replica elects no leader',
      `set ${propPath(prefix, 'replicas')} to 2 or more, or leave leaderElection out`);
  }
  const lease = settings.leaderElection!;
  if (known(lease.leaseName) && !isDnsSubdomain(lease.leaseName)) {
    throw new ValidationError(path('leaseName'), withValue(`must be ${DNS_SUBDOMAIN_RULE}`, lease.leaseName), `e.g. '${DEFAULTS.leaseName}'`);
  }
  const timings = [
    ['leaseDurationSeconds', lease.leaseDurationSeconds, INTEGER_LIMITS.leaseDurationSeconds, DEFAULTS.leaseDurationSeconds],
    ['renewDeadlineSeconds', lease.renewDeadlineSeconds, INTEGER_LIMITS.leaseRenewDeadlineSeconds, DEFAULTS.leaseRenewDeadlineSeconds],
    ['retryPeriodSeconds', lease.retryPeriodSeconds, INTEGER_LIMITS.leaseRetryPeriodSeconds, DEFAULTS.leaseRetryPeriodSeconds],
  ] as const;
  for (const [name, value, range, fallback] of timings) {
    if (Token.isUnresolved(value)) return;
    if (!inRange(value, range)) {
      throw new ValidationError(path(name), withValue(`must be a whole number from ${range.min} to ${range.max} (${range.unit})`, value), `leave it out for the default, ${fallback}`);
    }
  }
  const order = 'leaseDurationSeconds > renewDeadlineSeconds > retryPeriodSeconds (a leader gives up before a standby may take over, and tries more than once)';
  if (!(lease.leaseDurationSeconds > lease.renewDeadlineSeconds)) {
    throw new ValidationError(path('leaseDurationSeconds'),
      `is ${lease.leaseDurationSeconds}, not more than the renew deadline, ${lease.renewDeadlineSeconds}; the timings must be ${order}`,
      'lengthen the lease duration or shorten the renew deadline');
  }
  if (!(lease.renewDeadlineSeconds > lease.retryPeriodSeconds)) {
    throw new ValidationError(path('renewDeadlineSeconds'),
      `is ${lease.renewDeadlineSeconds}, not more than the retry period, ${lease.retryPeriodSeconds}; the timings must be ${order}`,
      'lengthen the renew deadline or shorten the retry period');
  }
}

/** Checks the whole of the chart's props: the options, then what the helper adds. */
export function validateCollectorChartProps(props: CollectorChartProps, prefix: string): ResolvedCollectorSettings {
  const settings = validateCollectorChartOptions(props, prefix);
  const fail = (name: string, problem: string, value: unknown, fix: string): never => {
    throw new ValidationError(name, withValue(problem, value), fix);
  };
  const clusterNameProblem = known(props.clusterName) ? eksClusterNameProblem(props.clusterName) : undefined;
  if (clusterNameProblem) fail('clusterName', clusterNameProblem, props.clusterName, "pass the EKS cluster's name (it is the CLUSTER_ID dimension of every metric)");
  if (known(props.image) && (props.image.trim() === '' || /\s/.test(props.image))) {
    fail('image', 'must be an image reference', props.image, 'use CollectorImage.bind(scope).imageUri');
  }
  const namespaceProblem = known(settings.cloudWatchNamespace) ? cloudWatchNamespaceProblem(settings.cloudWatchNamespace) : undefined;
  if (namespaceProblem) fail('cloudWatchNamespace', namespaceProblem, settings.cloudWatchNamespace, `choose another CloudWatch namespace, e.g. '${DEFAULTS.cloudWatchNamespace}'`);
  if (!settings.useCloudWatch && !settings.usePrometheus) {
    fail('useCloudWatch', 'is false while usePrometheus is false too, so nothing would be published', false, 'turn one of them on');
  }
  if (settings.useCloudWatch && props.region === undefined) {
    fail(propPath(prefix, 'region'), 'is required while CloudWatch publishing is on (the collector will not start without AWS_REGION)', props.region,
      "pass the cluster's region, e.g. Stack.of(this).region, or set useCloudWatch: false");
  }
  // The API server refuses objects with such labels or annotations, at apply time.
  for (const [key, value] of Object.entries(props.labels ?? {})) {
    if (known(key) && !isLabelKey(key)) fail('labels', `keys must be [prefix/]name (${NAME_RULE})`, key, 'rename the label');
    if (known(value) && !isLabelValue(value)) fail('labels', `values must be empty or a name (${NAME_RULE})`, value, 'change the value');
  }
  if (props.subnetIds !== undefined) validateSubnetIds(props.subnetIds, 'subnetIds');
  if (props.subnetRefreshSeconds !== undefined) {
    if (props.subnetIds === undefined) fail('subnetRefreshSeconds', 'is set but subnetIds is not, so no subnet is read', props.subnetRefreshSeconds, 'give subnetIds too, or leave it out');
    const range = INTEGER_LIMITS.subnetRefreshSeconds;
    if (!Token.isUnresolved(props.subnetRefreshSeconds) && !inRange(props.subnetRefreshSeconds, range)) {
      fail('subnetRefreshSeconds', `must be a whole number from ${range.min} to ${range.max} (${range.unit})`, props.subnetRefreshSeconds, `leave it out for the default, ${DEFAULTS.subnetRefreshSeconds}`);
    }
  }
  for (const key of Object.keys(props.serviceAccountAnnotations ?? {})) {
    if (known(key) && !isLabelKey(key)) fail('serviceAccountAnnotations', `keys must be [prefix/]name (${NAME_RULE})`, key, 'rename the annotation');
  }
  return settings;
}

/** Each environment variable the chart writes, and how to change it instead of using extraEnv. */
function envSetByChart(prefix: string): Readonly<Record<string, string>> {
  const option = (name: string) => `set the prop ${propPath(prefix, name)} instead`;
  return {
    [ENV.clusterId]: 'set the prop clusterName instead',
    [ENV.region]: option('region'),
    [ENV.useCloudWatch]: 'set the prop useCloudWatch instead',
    [ENV.usePrometheus]: option('usePrometheus'),
    [ENV.intervalSeconds]: option('intervalSeconds'),
    [ENV.logLevel]: option('logLevel'),
    [ENV.scrapeMode]: option('scrapeMode'),
    [ENV.scrapeConcurrency]: `${option('scrapeConcurrency')}, or ${propPath(prefix, 'expectedNodeCount')} to derive it`,
    [ENV.scrapeWorkers]: `${option('scrapeWorkers')}, or ${propPath(prefix, 'expectedNodeCount')} to derive it`,
    [ENV.scrapeTimeoutMs]: option('scrapeTimeoutMs'),
    [ENV.awsNodeNamespace]: option('awsNodeNamespace'),
    [ENV.awsNodeLabelSelector]: option('awsNodeLabelSelector'),
    [ENV.cloudWatchNamespace]: 'set the prop cloudWatchNamespace instead',
    [ENV.leaderElection]: option('replicas'),
    [ENV.podName]: `it comes from the downward API when ${propPath(prefix, 'replicas')} is more than 1`,
    [ENV.podNamespace]: `it comes from the downward API when ${propPath(prefix, 'replicas')} is more than 1`,
    [ENV.leaseName]: option('leaderElection.leaseName'),
    [ENV.leaseDurationSeconds]: option('leaderElection.leaseDurationSeconds'),
    [ENV.leaseRenewDeadlineSeconds]: option('leaderElection.renewDeadlineSeconds'),
    [ENV.leaseRetryPeriodSeconds]: option('leaderElection.retryPeriodSeconds'),
    [ENV.subnetIds]: prefix === '' ? 'set the prop subnetIds instead' : 'set the prop subnetMetrics instead',
    [ENV.subnetRefreshSeconds]: prefix === '' ? 'set the prop subnetRefreshSeconds instead' : 'set the prop subnetMetrics.refreshInterval instead',
    [ENV.healthPort]: `it is fixed at ${DEFAULTS.healthPort}, the port of the probes`,
    [ENV.prometheusPort]: `it is fixed at ${DEFAULTS.prometheusPort}, the container's "metrics" port`,
    [NODE_OPTIONS_ENV]: `the chart sets the heap cap (--max-old-space-size) in it from the memory limit: set the prop ${propPath(prefix, 'expectedNodeCount')} or ${propPath(prefix, 'resources')} instead`,
  };
}

/** The collector's environment: the settings under their variable names, then extraEnv. */
export function collectorEnvironment(props: CollectorChartProps, settings: ResolvedCollectorSettings): Record<string, string> {
  return {
    [ENV.clusterId]: props.clusterName,
    ...(props.region !== undefined ? { [ENV.region]: props.region } : {}),
    [ENV.useCloudWatch]: String(settings.useCloudWatch),
    [ENV.usePrometheus]: String(settings.usePrometheus),
    [ENV.intervalSeconds]: String(settings.intervalSeconds),
    [ENV.logLevel]: settings.logLevel,
    [ENV.scrapeMode]: settings.scrapeMode,
    [ENV.scrapeConcurrency]: String(settings.scrapeConcurrency),
    [ENV.scrapeWorkers]: String(settings.scrapeWorkers),
    [ENV.scrapeTimeoutMs]: String(settings.scrapeTimeoutMs),
    [ENV.awsNodeNamespace]: settings.awsNodeNamespace,
    [ENV.awsNodeLabelSelector]: settings.awsNodeLabelSelector,
    [ENV.cloudWatchNamespace]: settings.cloudWatchNamespace,
    [ENV.healthPort]: String(DEFAULTS.healthPort),
    ...(settings.usePrometheus ? { [ENV.prometheusPort]: String(DEFAULTS.prometheusPort) } : {}),
    ...(props.subnetIds !== undefined ? { [ENV.subnetIds]: props.subnetIds.join(',') } : {}),
    ...(props.subnetIds !== undefined && props.subnetRefreshSeconds !== undefined ? { [ENV.subnetRefreshSeconds]: String(props.subnetRefreshSeconds) } : {}),
    ...(settings.leaderElection ? leaderElectionEnvironment(props.leaderElection ?? {}) : {}),
    ...heapEnvironment(props, settings),
    ...props.extraEnv,
  };
}

/**
 * NODE_OPTIONS with the V8 heap cap, so the heap stays under the container's memory limit with room
 * for the rest, and a young generation that a cap would otherwise shrink (common/sizing.ts).
 */
function heapEnvironment(props: CollectorChartProps, settings: ResolvedCollectorSettings): Record<string, string> {
  const heap = heapCapMiB(props, settings);
  return heap === undefined ? {} : { [NODE_OPTIONS_ENV]: `--max-old-space-size=${heap} --max-semi-space-size=${SIZING_BOUNDS.semiSpaceMiB}` };
}

/**
 * LEADER_ELECTION and the Lease settings that were given (the others stay at the collector's
 * defaults); POD_NAME and POD_NAMESPACE come from the downward API (see the chart).
 */
function leaderElectionEnvironment(lease: CollectorLeaderElectionOptions): Record<string, string> {
  const given = (name: string, value: string | number | undefined) => (value === undefined ? {} : { [name]: String(value) });
  return {
    [ENV.leaderElection]: 'true',
    ...given(ENV.leaseName, lease.leaseName),
    ...given(ENV.leaseDurationSeconds, lease.leaseDurationSeconds),
    ...given(ENV.leaseRenewDeadlineSeconds, lease.renewDeadlineSeconds),
    ...given(ENV.leaseRetryPeriodSeconds, lease.retryPeriodSeconds),
  };
}

/**
 * Reads the collector's configuration from the environment (names and defaults in settings.ts).
 * Bad values stop start-up with one line naming the variable, the value and what is allowed;
 * upstream hangs on an interval of 0 and panics on "abc".
 */
import { INTEGER_LIMITS, LOG_LEVELS, SCRAPE_MODES } from '../common/limits';
import { cloudWatchNamespaceProblem } from '../common/naming';
import { CniLogLevel, DEFAULTS, ENV, ScrapeMode } from '../common/settings';
import { ConfigError, Env, nonEmpty, readBoolean, readChoice, readInteger, readString } from './env-reader';
import { loadLeaderElectionSettings, type LeaderElectionSettings } from './leader-settings';
import { loadSubnetSettings, type SubnetSettings } from './subnet-settings';

export interface CollectorConfig {
  readonly clusterId: string;
  readonly region?: string;
  readonly useCloudWatch: boolean;
  readonly usePrometheus: boolean;
  readonly intervalSeconds: number;
  readonly logLevel: CniLogLevel;
  readonly scrapeMode: ScrapeMode;
  readonly scrapeConcurrency: number;
  readonly scrapeTimeoutMs: number;
  /** Worker threads that scrape and aggregate a share of the nodes each; 0: the main thread does. */
  readonly scrapeWorkers: number;
  readonly scrapeMaxBytes: number;
  readonly ipamdPort: number;
  readonly awsNodeNamespace: string;
  readonly awsNodeLabelSelector: string;
  readonly listPageSize: number;
  /** Keep the aws-node pods in a watch cache (list once, then watch) instead of listing every cycle. */
  readonly watchPods: boolean;
  readonly cloudWatchNamespace: string;
  readonly bufferMaxDatums: number;
  readonly prometheusPort: number;
  /** 0 turns the health server off (tests, `--once`). */
  readonly healthPort: number;
  /** /readyz fails once this many consecutive cycles failed to publish. */
  readonly unreadyAfterPublishFailures: number;
  /** Subnets to watch with DescribeSubnets; undefined when SUBNET_IDS is unset (subnet metrics off). */
  readonly subnets?: SubnetSettings;
  /** Lease leader election among replicas; undefined when LEADER_ELECTION is off (one replica). */
  readonly leaderElection?: LeaderElectionSettings;
}

export { ConfigError };

/** The configuration from `env`; throws ConfigError on the first bad value. */
export function loadConfig(env: Env = process.env): CollectorConfig {
  const useCloudWatch = readBoolean(env, ENV.useCloudWatch, DEFAULTS.useCloudWatch);
  const clusterId = (env[ENV.clusterId] ?? '').trim();
  if (useCloudWatch && clusterId === '') {
    throw new ConfigError(
      `${ENV.clusterId} is not set: it names the cluster in the CLUSTER_ID dimension of every CloudWatch datum; ` +
        `set it to the cluster's name, or set ${ENV.useCloudWatch}=false`,
    );
  }
  // The SDK reads AWS_REGION itself; checking here turns a per-cycle SDK error into one line at start.
  const region = nonEmpty(env[ENV.region]) ?? nonEmpty(env.AWS_DEFAULT_REGION);
  if (useCloudWatch && region === undefined) {
    throw new ConfigError(`${ENV.region} is not set: set it to the cluster's AWS region (e.g. eu-west-1), or set ${ENV.useCloudWatch}=false`);
  }
  const subnets = loadSubnetSettings(env);
  if (subnets && region === undefined) {
    throw new ConfigError(`${ENV.subnetIds} is set but ${ENV.region} is not: DescribeSubnets needs the subnets' region; set ${ENV.region} (e.g. eu-west-1)`);
  }
  const leaderElection = loadLeaderElectionSettings(env);
  return {
    clusterId,
    region,
    useCloudWatch,
    usePrometheus: readBoolean(env, ENV.usePrometheus, DEFAULTS.usePrometheus),
    intervalSeconds: readInteger(env, ENV.intervalSeconds, DEFAULTS.intervalSeconds, INTEGER_LIMITS.intervalSeconds),
    logLevel: readChoice(env, ENV.logLevel, DEFAULTS.logLevel, LOG_LEVELS, true),
    scrapeMode: readChoice(env, ENV.scrapeMode, DEFAULTS.scrapeMode, SCRAPE_MODES, false),
    scrapeConcurrency: readInteger(env, ENV.scrapeConcurrency, DEFAULTS.scrapeConcurrency, INTEGER_LIMITS.scrapeConcurrency),
    scrapeTimeoutMs: readInteger(env, ENV.scrapeTimeoutMs, DEFAULTS.scrapeTimeoutMs, INTEGER_LIMITS.scrapeTimeoutMs),
    scrapeWorkers: readInteger(env, ENV.scrapeWorkers, DEFAULTS.scrapeWorkers, INTEGER_LIMITS.scrapeWorkers),
    scrapeMaxBytes: readInteger(env, ENV.scrapeMaxBytes, DEFAULTS.scrapeMaxBytes, INTEGER_LIMITS.scrapeMaxBytes),
    ipamdPort: readInteger(env, ENV.ipamdPort, DEFAULTS.ipamdPort, INTEGER_LIMITS.ipamdPort),
    awsNodeNamespace: readString(env, ENV.awsNodeNamespace, DEFAULTS.awsNodeNamespace),
    awsNodeLabelSelector: readString(env, ENV.awsNodeLabelSelector, DEFAULTS.awsNodeLabelSelector),
    listPageSize: readInteger(env, ENV.listPageSize, DEFAULTS.listPageSize, INTEGER_LIMITS.listPageSize),
    watchPods: readBoolean(env, ENV.watchPods, DEFAULTS.watchPods),
    cloudWatchNamespace: readNamespace(env),
    bufferMaxDatums: readInteger(env, ENV.bufferMaxDatums, DEFAULTS.bufferMaxDatums, INTEGER_LIMITS.bufferMaxDatums),
    prometheusPort: readInteger(env, ENV.prometheusPort, DEFAULTS.prometheusPort, INTEGER_LIMITS.prometheusPort),
    healthPort: readInteger(env, ENV.healthPort, DEFAULTS.healthPort, INTEGER_LIMITS.healthPort),
    unreadyAfterPublishFailures: readInteger(env, ENV.unreadyAfterPublishFailures, DEFAULTS.unreadyAfterPublishFailures, INTEGER_LIMITS.unreadyAfterPublishFailures),
    ...(subnets ? { subnets } : {}),
    ...(leaderElection ? { leaderElection } : {}),
  };
}

function readNamespace(env: Env): string {
  const namespace = readString(env, ENV.cloudWatchNamespace, DEFAULTS.cloudWatchNamespace);
  const problem = cloudWatchNamespaceProblem(namespace);
  if (problem) {
    throw new ConfigError(`${ENV.cloudWatchNamespace}=${JSON.stringify(namespace)} is invalid: a CloudWatch namespace ${problem}`);
  }
  return namespace;
}


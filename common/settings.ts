/**
 * The collector's settings: environment variable names and defaults, written once.
 *
 * Pure data (its one import is the catalog's namespace): the collector reads these (runtime/config.ts) and the chart
 * (lib/) writes them into the Deployment, so the two never disagree on a name.
 * The first six are upstream cni-metrics-helper's; the rest are ours.
 */
import { DEFAULT_NAMESPACE } from './catalog';

export const ENV = {
  clusterId: 'AWS_CLUSTER_ID',
  region: 'AWS_REGION',
  useCloudWatch: 'USE_CLOUDWATCH',
  usePrometheus: 'USE_PROMETHEUS',
  intervalSeconds: 'METRIC_UPDATE_INTERVAL',
  logLevel: 'AWS_VPC_K8S_CNI_LOGLEVEL',
  scrapeMode: 'SCRAPE_MODE',
  scrapeConcurrency: 'SCRAPE_CONCURRENCY',
  scrapeTimeoutMs: 'SCRAPE_TIMEOUT_MS',
  scrapeWorkers: 'SCRAPE_WORKERS',
  scrapeMaxBytes: 'SCRAPE_MAX_BYTES',
  ipamdPort: 'IPAMD_METRICS_PORT',
  awsNodeNamespace: 'AWS_NODE_NAMESPACE',
  awsNodeLabelSelector: 'AWS_NODE_LABEL_SELECTOR',
  listPageSize: 'POD_LIST_PAGE_SIZE',
  watchPods: 'AWS_NODE_WATCH',
  cloudWatchNamespace: 'CLOUDWATCH_NAMESPACE',
  bufferMaxDatums: 'CLOUDWATCH_BUFFER_MAX_DATUMS',
  prometheusPort: 'PROMETHEUS_PORT',
  healthPort: 'HEALTH_PORT',
  unreadyAfterPublishFailures: 'UNREADY_AFTER_PUBLISH_FAILURES',
  // Subnet metrics: on when SUBNET_IDS lists subnets (the chart fills it).
  subnetIds: 'SUBNET_IDS',
  subnetRefreshSeconds: 'SUBNET_REFRESH_SECONDS',
  // High availability: Lease leader election among replicas (the chart sets these when replicas > 1).
  leaderElection: 'LEADER_ELECTION',
  podName: 'POD_NAME',
  podNamespace: 'POD_NAMESPACE',
  leaseName: 'LEASE_NAME',
  leaseDurationSeconds: 'LEASE_DURATION_SECONDS',
  leaseRenewDeadlineSeconds: 'LEASE_RENEW_DEADLINE_SECONDS',
  leaseRetryPeriodSeconds: 'LEASE_RETRY_PERIOD_SECONDS',
} as const;

export type ScrapeMode = 'proxy' | 'direct';
export type CniLogLevel = 'DEBUG' | 'INFO' | 'WARN' | 'ERROR';

/** Defaults, in one place; the README's table is written from this. */
export const DEFAULTS = {
  useCloudWatch: true,
  usePrometheus: false,
  intervalSeconds: 30,
  logLevel: 'INFO' as CniLogLevel,
  scrapeMode: 'proxy' as ScrapeMode,
  scrapeConcurrency: 64,
  scrapeTimeoutMs: 3000,
  /** 0: the main thread scrapes; N: N worker threads, each scraping and aggregating a share of the nodes. */
  scrapeWorkers: 0,
  /** ipamd serves about 10-30 KB; 4 MiB stops a runaway payload without cutting a real one. */
  scrapeMaxBytes: 4 * 1024 * 1024,
  ipamdPort: 61678,
  awsNodeNamespace: 'kube-system',
  awsNodeLabelSelector: 'k8s-app=aws-node',
  listPageSize: 500,
  /** The long-running collector keeps the pods in a watch cache (`--once` always lists). */
  watchPods: true,
  cloudWatchNamespace: DEFAULT_NAMESPACE,
  /** About 5 hours of one cluster's datums at the default interval. */
  bufferMaxDatums: 20000,
  prometheusPort: 61681,
  healthPort: 61682,
  /** Three cycles (1.5 minutes at the default interval) in which CloudWatch took nothing it was given. */
  unreadyAfterPublishFailures: 3,
  /** Five minutes: subnet free space moves slowly, and DescribeSubnets shares the account's EC2 API quota. */
  subnetRefreshSeconds: 300,
  leaderElection: false,
  leaseName: 'cni-metrics-helper',
  /** client-go's defaults (15 s / 10 s / 2 s), as kube-controller-manager and most controllers run. */
  leaseDurationSeconds: 15,
  leaseRenewDeadlineSeconds: 10,
  leaseRetryPeriodSeconds: 2,
} as const;

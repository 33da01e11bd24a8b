/**
 * The metric catalog: every metric the collector publishes, written once.
 *
 * Pure data with no imports, in common/ (imported by both halves), so that the collector (runtime/) publishes from it and the
 * construct (lib/) draws the dashboard and alarms from it without either re-typing a name.
 * CloudWatch names of the ipamd metrics are upstream's (cni-metrics-helper), so existing
 * dashboards and alarms keep working; their meanings are the corrected ones in the README.
 */

/** CloudWatch namespace the upstream helper publishes to. */
export const DEFAULT_NAMESPACE = 'Kubernetes';

/** The one dimension every datum carries, as upstream. */
export const CLUSTER_DIMENSION = 'CLUSTER_ID';

export type CloudWatchUnit = 'Count' | 'Milliseconds' | 'Percent';

/**
 * How a metric turns many nodes' samples into one cluster value per cycle.
 * - `gaugeSum`: every series of the family on a node added up, then added across nodes, once per cycle.
 * - `counterDelta`: per node and per series, the increase since that node's previous scrape
 *   (a drop or a restarted ipamd counts from zero; a first sighting is a baseline), summed.
 * - `latencyMean`: sum of `_sum` deltas over sum of `_count` deltas, across nodes and label sets;
 *   nothing is published for a cycle without API calls.
 * - `latencyMaxP99`: the largest non-NaN `quantile="0.99"` value on any node; only where present.
 * - `minAvailableIps`: the smallest (total - assigned) IPs over the scraped nodes: the node closest
 *   to running out.
 * - `health`: the collector's own figures about the cycle, not read from ipamd.
 */
export type Aggregation =
  | 'gaugeSum'
  | 'counterDelta'
  | 'latencyMean'
  | 'latencyMaxP99'
  | 'minAvailableIps'
  | 'health';

/** Where a metric appears on the dashboard. */
export type DashboardRole = 'number' | 'capacityGraph' | 'activityGraph' | 'errorGraph' | 'latencyGraph' | 'healthGraph';

export interface CatalogMetric {
  /** CloudWatch metric name (upstream's where upstream has one). */
  readonly metricName: string;
  /** ipamd Prometheus family read, or undefined for the collector's own health metrics. */
  readonly family?: string;
  /** Prometheus type of the family as ipamd declares it. */
  readonly familyType?: 'gauge' | 'counter' | 'summary';
  readonly aggregation: Aggregation;
  readonly unit: CloudWatchUnit;
  /** One sentence, cluster level, as the README lists it. */
  readonly description: string;
  /** Dashboard placement; a metric may sit in several. */
  readonly dashboard: readonly DashboardRole[];
  /** Published by upstream's cni-metrics-helper under this name. */
  readonly upstream: boolean;
}

export const CATALOG: readonly CatalogMetric[] = [
  // Capacity gauges: summed once per cycle across nodes.
  {
    metricName: 'eniMaxAvailable', family: 'awscni_eni_max', familyType: 'gauge', aggregation: 'gaugeSum', unit: 'Count',
    description: 'Maximum number of ENIs the cluster\'s nodes can attach, summed over nodes.',
    dashboard: ['number', 'capacityGraph'], upstream: true,
  },
  {
    metricName: 'eniAllocated', family: 'awscni_eni_allocated', familyType: 'gauge', aggregation: 'gaugeSum', unit: 'Count',
    description: 'ENIs allocated by ipamd across the cluster.',
    dashboard: ['number', 'capacityGraph'], upstream: true,
  },
  {
    metricName: 'maxIPAddresses', family: 'awscni_ip_max', familyType: 'gauge', aggregation: 'gaugeSum', unit: 'Count',
    description: 'Maximum number of IP addresses the cluster\'s nodes can hold, summed over nodes.',
    dashboard: ['number', 'capacityGraph'], upstream: true,
  },
  {
    metricName: 'totalIPAddresses', family: 'awscni_total_ip_addresses', familyType: 'gauge', aggregation: 'gaugeSum', unit: 'Count',
    description: 'IP addresses ipamd holds in its warm pools and in use, across the cluster.',
    dashboard: ['number', 'capacityGraph'], upstream: true,
  },
  {
    metricName: 'assignIPAddresses', family: 'awscni_assigned_ip_addresses', familyType: 'gauge', aggregation: 'gaugeSum', unit: 'Count',
    description: 'IP addresses assigned to pods across the cluster.',
    dashboard: ['number', 'capacityGraph'], upstream: true,
  },
  {
    metricName: 'totalIPv4Prefixes', family: 'awscni_total_ipv4_prefixes', familyType: 'gauge', aggregation: 'gaugeSum', unit: 'Count',
    description: 'IPv4 /28 prefixes attached across the cluster (prefix delegation).',
    dashboard: ['capacityGraph'], upstream: true,
  },
  {
    metricName: 'totalAssignedIPv4sPerCidr', family: 'awscni_assigned_ip_per_cidr', familyType: 'gauge', aggregation: 'gaugeSum', unit: 'Count',
    description: 'IPs assigned out of prefixes (all CIDR series summed) across the cluster.',
    dashboard: ['capacityGraph'], upstream: true,
  },
  {
    metricName: 'ipamdActionInProgress', family: 'awscni_ipamd_action_inprogress', familyType: 'gauge', aggregation: 'gaugeSum', unit: 'Count',
    description: 'ipamd actions in progress at scrape time, across the cluster.',
    dashboard: ['activityGraph'], upstream: true,
  },
  {
    metricName: 'minAvailableIPsPerNode', family: 'awscni_total_ip_addresses', familyType: 'gauge', aggregation: 'minAvailableIps', unit: 'Count',
    description: 'Fewest free IPs (total minus assigned) on any scraped node: the node closest to running out.',
    dashboard: ['capacityGraph'], upstream: false,
  },
  // Counters: per-node deltas per cycle, summed.
  {
    metricName: 'addReqCount', family: 'awscni_add_ip_req_count', familyType: 'counter', aggregation: 'counterDelta', unit: 'Count',
    description: 'Pod IP add requests handled in the cycle.',
    dashboard: ['activityGraph'], upstream: true,
  },
  {
    metricName: 'delReqCount', family: 'awscni_del_ip_req_count', familyType: 'counter', aggregation: 'counterDelta', unit: 'Count',
    description: 'Pod IP delete requests handled in the cycle.',
    dashboard: ['activityGraph'], upstream: true,
  },
  {
    metricName: 'reconcileCount', family: 'awscni_reconcile_count', familyType: 'counter', aggregation: 'counterDelta', unit: 'Count',
    description: 'ipamd reconciliations of ENIs and IPs/prefixes in the cycle.',
    dashboard: ['activityGraph'], upstream: true,
  },
  {
    metricName: 'ec2ApiReqCount', family: 'awscni_ec2api_req_count', familyType: 'counter', aggregation: 'counterDelta', unit: 'Count',
    description: 'EC2 API requests made by the CNI in the cycle.',
    dashboard: ['activityGraph'], upstream: true,
  },
  {
    metricName: 'ipamdErr', family: 'awscni_ipamd_error_count', familyType: 'counter', aggregation: 'counterDelta', unit: 'Count',
    description: 'Errors inside ipamd in the cycle.',
    dashboard: ['number', 'errorGraph'], upstream: true,
  },
  {
    metricName: 'awsAPIErr', family: 'awscni_aws_api_error_count', familyType: 'counter', aggregation: 'counterDelta', unit: 'Count',
    description: 'AWS API calls that returned an error in the cycle.',
    dashboard: ['errorGraph'], upstream: true,
  },
  {
    metricName: 'awsUtilErr', family: 'awscni_aws_utils_error_count', familyType: 'counter', aggregation: 'counterDelta', unit: 'Count',
    description: 'Errors not handled in the CNI\'s awsutils library in the cycle.',
    dashboard: ['errorGraph'], upstream: true,
  },
  {
    metricName: 'ec2ApiErrCount', family: 'awscni_ec2api_error_count', familyType: 'counter', aggregation: 'counterDelta', unit: 'Count',
    description: 'Failed EC2 API requests in the cycle.',
    dashboard: ['errorGraph'], upstream: true,
  },
  {
    metricName: 'podENIErr', family: 'awscni_pod_eni_error_count', familyType: 'counter', aggregation: 'counterDelta', unit: 'Count',
    description: 'Errors for pod (branch) ENIs in the cycle.',
    dashboard: ['errorGraph'], upstream: true,
  },
  {
    metricName: 'forceRemoveENI', family: 'awscni_force_removed_enis', familyType: 'counter', aggregation: 'counterDelta', unit: 'Count',
    description: 'ENIs force-removed while pods still had IPs on them, in the cycle.',
    dashboard: ['errorGraph'], upstream: true,
  },
  {
    metricName: 'forceRemoveIPs', family: 'awscni_force_removed_ips', familyType: 'counter', aggregation: 'counterDelta', unit: 'Count',
    description: 'IPs force-removed while assigned to pods, in the cycle.',
    dashboard: ['errorGraph'], upstream: true,
  },
  {
    metricName: 'noAvailableIPAddresses', family: 'awscni_no_available_ip_addresses', familyType: 'counter', aggregation: 'counterDelta', unit: 'Count',
    description: 'Pod IP assignments that failed because no IP was free, in the cycle.',
    dashboard: ['errorGraph'], upstream: false,
  },
  // AWS API latency from the summary's _sum/_count (current ipamd emits no quantiles).
  {
    metricName: 'awsAPILatency', family: 'awscni_aws_api_latency_ms', familyType: 'summary', aggregation: 'latencyMean', unit: 'Milliseconds',
    description: 'Mean AWS API call latency in the cycle over all nodes and APIs; absent when no call was made.',
    dashboard: ['latencyGraph'], upstream: true,
  },
  {
    metricName: 'awsAPILatencyMaxP99', family: 'awscni_aws_api_latency_ms', familyType: 'summary', aggregation: 'latencyMaxP99', unit: 'Milliseconds',
    description: 'Largest p99 AWS API latency on any node; only from ipamd builds that still emit quantiles.',
    dashboard: ['latencyGraph'], upstream: false,
  },
  // The collector's own health.
  {
    metricName: 'collectorNodesDiscovered', aggregation: 'health', unit: 'Count',
    description: 'aws-node pods the collector found in the cycle.',
    dashboard: ['healthGraph'], upstream: false,
  },
  {
    metricName: 'collectorNodesScraped', aggregation: 'health', unit: 'Count',
    description: 'Nodes whose ipamd metrics were read and parsed in the cycle.',
    dashboard: ['healthGraph'], upstream: false,
  },
  {
    metricName: 'collectorNodesFailed', aggregation: 'health', unit: 'Count',
    description: 'Nodes that timed out, refused, or served a payload that did not parse, in the cycle.',
    dashboard: ['healthGraph'], upstream: false,
  },
  {
    metricName: 'collectorCycleDuration', aggregation: 'health', unit: 'Milliseconds',
    description: 'Wall time of the cycle from discovery to the last scrape.',
    dashboard: ['healthGraph'], upstream: false,
  },
  {
    metricName: 'collectorDatumsDropped', aggregation: 'health', unit: 'Count',
    description: 'Datums dropped since the last cycle (CloudWatch buffer full, rejected, or older than CloudWatch accepts); published only when non-zero.',
    dashboard: ['healthGraph'], upstream: false,
  },
];

/** The catalog entry named `metricName`; throws on an unknown name so a typo fails loudly. */
export function catalogMetric(metricName: string): CatalogMetric {
  const found = CATALOG.find((m) => m.metricName === metricName);
  if (!found) {
    throw new Error(`Unknown catalog metric '${metricName}'; known: ${CATALOG.map((m) => m.metricName).join(', ')}`);
  }
  return found;
}

/** Every ipamd family the collector reads; the parser keeps only these. */
export const SCRAPED_FAMILIES: ReadonlySet<string> = new Set(
  CATALOG.flatMap((m) => (m.family ? [m.family] : [])).concat(['awscni_assigned_ip_addresses']),
);

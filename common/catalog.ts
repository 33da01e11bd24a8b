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

/** The CloudWatch statistic the dashboard and alarms read a metric with. */
export type CloudWatchStatistic = 'Average' | 'Maximum' | 'Minimum' | 'Sum';

/**
 * How a metric turns many nodes' samples into one cluster value per cycle.
 * - `gaugeSum`: every series of the family on a node added up, then added across nodes, once per cycle.
 * - `counterDelta`: per node and per series, the increase since that node's previous scrape
 *   (a drop or a restarted ipamd counts from zero; a first sighting is a baseline), summed.
 *   `seriesMatch` narrows it to the series carrying given label values.
 * - `latencyMean`: sum of `_sum` deltas over sum of `_count` deltas, across nodes and label sets;
 *   nothing is published for a cycle without API calls.
 * - `latencyMaxP99`: the largest non-NaN `quantile="0.99"` value on any node; only where present.
 * - `minAvailableIps`: the smallest (family - `subtractsFamily`) over the scraped nodes: the node
 *   closest to running out.
 * - `distinctCount`: how many distinct values of the label `distinctLabel` the scraped nodes carry.
 * - `maxNodeUtilization`: the largest 100 × family / `capacityFamily` over the scraped nodes (the
 *   fullest node); nodes without a positive capacity are left out.
 * - `nodesAtCapacity`: how many scraped nodes have family ≥ `capacityFamily` (nodes without a
 *   positive capacity left out); published, 0 included, when at least one node had both families.
 * - `minNodeHeadroom`: the smallest `capacityFamily` − family over the scraped nodes (nodes without a
 *   positive capacity left out): how many more pod IPs the fullest node can ever hold.
 * - `ec2Subnet`: read from EC2 DescribeSubnets by the subnet watcher (runtime/subnets.ts), not from
 *   ipamd; the aggregator skips these.
 * - `health`: the collector's own figures about the cycle, not read from ipamd.
 */
export type Aggregation =
  | 'gaugeSum'
  | 'counterDelta'
  | 'latencyMean'
  | 'latencyMaxP99'
  | 'minAvailableIps'
  | 'distinctCount'
  | 'maxNodeUtilization'
  | 'nodesAtCapacity'
  | 'minNodeHeadroom'
  | 'ec2Subnet'
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
  /**
   * The statistic that reads the metric correctly over a period: the dashboard, the alarms and the
   * README's table take it from here. Each datum is already one cycle's cluster figure, so gauges
   * and means read with Average (a Sum would add two or more cycles a minute), counter deltas and
   * drop counts with Sum (each datum is the cycle's own increase), the free-IP minimum with
   * Minimum and the worst-cycle figures (failed nodes, cycle time, p99, versions) with Maximum.
   */
  readonly statistic: CloudWatchStatistic;
  /** One sentence, cluster level, as the README lists it. */
  readonly description: string;
  /** Dashboard placement; a metric may sit in several. */
  readonly dashboard: readonly DashboardRole[];
  /** Published by upstream's cni-metrics-helper under this name. */
  readonly upstream: boolean;
  /**
   * The name upstream's helper re-exports the family under on its own Prometheus endpoint (the
   * family's own name), kept by the Prometheus sink so existing queries keep working.
   */
  readonly prometheusName?: string;
  /** `minAvailableIps`: the family subtracted from `family` on each node. */
  readonly subtractsFamily?: string;
  /** `counterDelta`: only series whose labels carry all these values count. */
  readonly seriesMatch?: Readonly<Record<string, string>>;
  /** `distinctCount`: the label whose distinct values are counted. */
  readonly distinctLabel?: string;
  /** `maxNodeUtilization`, `nodesAtCapacity`, `minNodeHeadroom`: the family that holds each node's capacity. */
  readonly capacityFamily?: string;
  /**
   * Dimensions the metric's datums carry after CLUSTER_ID, in order (`ec2Subnet`'s per-subnet
   * figure); a metric without it carries CLUSTER_ID alone.
   */
  readonly extraDimensions?: readonly string[];
}

/** Extra dimensions of the per-subnet figure, after CLUSTER_ID. */
export const SUBNET_DIMENSIONS = { subnetId: 'SubnetId', availabilityZone: 'AvailabilityZone' } as const;

/** The entries with their literal types, so that the names form a type (CatalogMetricName). */
const ENTRIES = [
  // Capacity gauges: summed once per cycle across nodes.
  {
    metricName: 'eniMaxAvailable', family: 'awscni_eni_max', familyType: 'gauge', aggregation: 'gaugeSum', unit: 'Count', statistic: 'Average',
    description: 'Maximum number of ENIs the cluster\'s nodes can attach, summed over nodes.',
    dashboard: ['number', 'capacityGraph'], upstream: true, prometheusName: 'awscni_eni_max',
  },
  {
    metricName: 'eniAllocated', family: 'awscni_eni_allocated', familyType: 'gauge', aggregation: 'gaugeSum', unit: 'Count', statistic: 'Average',
    description: 'ENIs allocated by ipamd across the cluster.',
    dashboard: ['number', 'capacityGraph'], upstream: true, prometheusName: 'awscni_eni_allocated',
  },
  {
    metricName: 'maxIPAddresses', family: 'awscni_ip_max', familyType: 'gauge', aggregation: 'gaugeSum', unit: 'Count', statistic: 'Average',
    description: 'Maximum number of IP addresses the cluster\'s nodes can hold, summed over nodes.',
    dashboard: ['number', 'capacityGraph'], upstream: true, prometheusName: 'awscni_ip_max',
  },
  {
    metricName: 'totalIPAddresses', family: 'awscni_total_ip_addresses', familyType: 'gauge', aggregation: 'gaugeSum', unit: 'Count', statistic: 'Average',
    description: 'IP addresses ipamd holds in its warm pools and in use, across the cluster.',
    dashboard: ['number', 'capacityGraph'], upstream: true, prometheusName: 'awscni_total_ip_addresses',
  },
  {
    metricName: 'assignIPAddresses', family: 'awscni_assigned_ip_addresses', familyType: 'gauge', aggregation: 'gaugeSum', unit: 'Count', statistic: 'Average',
    description: 'IP addresses assigned to pods across the cluster.',
    dashboard: ['number', 'capacityGraph'], upstream: true, prometheusName: 'awscni_assigned_ip_addresses',
  },
  {
    metricName: 'totalIPv4Prefixes', family: 'awscni_total_ipv4_prefixes', familyType: 'gauge', aggregation: 'gaugeSum', unit: 'Count', statistic: 'Average',
    description: 'IPv4 /28 prefixes attached across the cluster (prefix delegation).',
    dashboard: ['capacityGraph'], upstream: true, prometheusName: 'awscni_total_ipv4_prefixes',
  },
  {
    metricName: 'totalAssignedIPv4sPerCidr', family: 'awscni_assigned_ip_per_cidr', familyType: 'gauge', aggregation: 'gaugeSum', unit: 'Count', statistic: 'Average',
    description: 'IPs assigned out of prefixes (all CIDR series summed) across the cluster.',
    dashboard: ['capacityGraph'], upstream: true,
  },
  {
    metricName: 'ipamdActionInProgress', family: 'awscni_ipamd_action_inprogress', familyType: 'gauge', aggregation: 'gaugeSum', unit: 'Count', statistic: 'Average',
    description: 'ipamd actions in progress at scrape time, across the cluster.',
    dashboard: ['activityGraph'], upstream: true,
  },
  {
    metricName: 'minAvailableIPsPerNode', family: 'awscni_total_ip_addresses', familyType: 'gauge', aggregation: 'minAvailableIps', subtractsFamily: 'awscni_assigned_ip_addresses', unit: 'Count', statistic: 'Minimum',
    description: 'Fewest free IPs (total minus assigned) on any scraped node: the node closest to running out.',
    dashboard: ['capacityGraph'], upstream: false,
  },
  // The worst node: one node's figure, not the sum (no per-node dimension: one datum per cycle).
  {
    metricName: 'maxNodeIPUtilization', family: 'awscni_assigned_ip_addresses', familyType: 'gauge', aggregation: 'maxNodeUtilization',
    capacityFamily: 'awscni_ip_max', unit: 'Percent', statistic: 'Maximum',
    description: 'Largest share of a node\'s maximum IPs assigned to pods (100 × assigned / max) on any scraped node: the fullest node.',
    // A percentage: beside the cluster's IP utilization, not on the counts of the capacity graph.
    dashboard: ['number'], upstream: false,
  },
  {
    metricName: 'nodesAtIPCapacity', family: 'awscni_assigned_ip_addresses', familyType: 'gauge', aggregation: 'nodesAtCapacity',
    capacityFamily: 'awscni_ip_max', unit: 'Count', statistic: 'Maximum',
    description: 'Scraped nodes whose assigned IPs reached their maximum IPs: no new pod gets an IP there.',
    dashboard: ['number', 'capacityGraph'], upstream: false,
  },
  {
    metricName: 'minFreeIPCapacityPerNode', family: 'awscni_assigned_ip_addresses', familyType: 'gauge', aggregation: 'minNodeHeadroom',
    capacityFamily: 'awscni_ip_max', unit: 'Count', statistic: 'Minimum',
    description: 'Fewest IPs a node can still assign (maximum IPs minus assigned) on any scraped node: headroom, where minAvailableIPsPerNode is warm-pool slack.',
    dashboard: ['capacityGraph'], upstream: false,
  },
  // Subnets: EC2 DescribeSubnets, read every SUBNET_REFRESH_SECONDS, only when SUBNET_IDS is set.
  {
    metricName: 'subnetAvailableIPs', aggregation: 'ec2Subnet', unit: 'Count', statistic: 'Minimum',
    extraDimensions: [SUBNET_DIMENSIONS.subnetId, SUBNET_DIMENSIONS.availabilityZone],
    description: 'Free IPv4 addresses in one watched subnet, per SubnetId and AvailabilityZone (EC2 DescribeSubnets).',
    // No generic role: a graph keyed by CLUSTER_ID alone would find none of its per-subnet series.
    dashboard: [], upstream: false,
  },
  {
    metricName: 'minSubnetAvailableIPs', aggregation: 'ec2Subnet', unit: 'Count', statistic: 'Minimum',
    description: 'Fewest free IPv4 addresses in any watched subnet: the subnet closest to exhaustion.',
    dashboard: ['number', 'capacityGraph'], upstream: false,
  },
  {
    metricName: 'subnetRefreshErrors', aggregation: 'ec2Subnet', unit: 'Count', statistic: 'Sum',
    description: 'DescribeSubnets refreshes that failed since the previous cycle; published only when non-zero.',
    dashboard: ['healthGraph'], upstream: false,
  },
  // Counters: per-node deltas per cycle, summed.
  {
    metricName: 'addReqCount', family: 'awscni_add_ip_req_count', familyType: 'counter', aggregation: 'counterDelta', unit: 'Count', statistic: 'Sum',
    description: 'Pod IP add requests handled in the cycle.',
    dashboard: ['activityGraph'], upstream: true,
  },
  {
    metricName: 'delReqCount', family: 'awscni_del_ip_req_count', familyType: 'counter', aggregation: 'counterDelta', unit: 'Count', statistic: 'Sum',
    description: 'Pod IP delete requests handled in the cycle.',
    dashboard: ['activityGraph'], upstream: true,
  },
  {
    metricName: 'reconcileCount', family: 'awscni_reconcile_count', familyType: 'counter', aggregation: 'counterDelta', unit: 'Count', statistic: 'Sum',
    description: 'ipamd reconciliations of ENIs and IPs/prefixes in the cycle.',
    dashboard: ['activityGraph'], upstream: true,
  },
  {
    metricName: 'ec2ApiReqCount', family: 'awscni_ec2api_req_count', familyType: 'counter', aggregation: 'counterDelta', unit: 'Count', statistic: 'Sum',
    description: 'EC2 API requests made by the CNI in the cycle.',
    dashboard: ['activityGraph'], upstream: true,
  },
  {
    metricName: 'ipamdErr', family: 'awscni_ipamd_error_count', familyType: 'counter', aggregation: 'counterDelta', unit: 'Count', statistic: 'Sum',
    description: 'Errors inside ipamd in the cycle.',
    dashboard: ['number', 'errorGraph'], upstream: true,
  },
  {
    metricName: 'awsAPIErr', family: 'awscni_aws_api_error_count', familyType: 'counter', aggregation: 'counterDelta', unit: 'Count', statistic: 'Sum',
    description: 'AWS API calls that returned an error in the cycle.',
    dashboard: ['errorGraph'], upstream: true,
  },
  {
    metricName: 'awsUtilErr', family: 'awscni_aws_utils_error_count', familyType: 'counter', aggregation: 'counterDelta', unit: 'Count', statistic: 'Sum',
    description: 'Errors not handled in the CNI\'s awsutils library in the cycle.',
    dashboard: ['errorGraph'], upstream: true,
  },
  {
    metricName: 'ec2ApiErrCount', family: 'awscni_ec2api_error_count', familyType: 'counter', aggregation: 'counterDelta', unit: 'Count', statistic: 'Sum',
    description: 'Failed EC2 API requests in the cycle.',
    dashboard: ['errorGraph'], upstream: true,
  },
  {
    metricName: 'podENIErr', family: 'awscni_pod_eni_error_count', familyType: 'counter', aggregation: 'counterDelta', unit: 'Count', statistic: 'Sum',
    description: 'Errors for pod (branch) ENIs in the cycle.',
    dashboard: ['errorGraph'], upstream: true,
  },
  {
    metricName: 'forceRemoveENI', family: 'awscni_force_removed_enis', familyType: 'counter', aggregation: 'counterDelta', unit: 'Count', statistic: 'Sum',
    description: 'ENIs force-removed while pods still had IPs on them, in the cycle.',
    dashboard: ['errorGraph'], upstream: true,
  },
  {
    metricName: 'forceRemoveIPs', family: 'awscni_force_removed_ips', familyType: 'counter', aggregation: 'counterDelta', unit: 'Count', statistic: 'Sum',
    description: 'IPs force-removed while assigned to pods, in the cycle.',
    dashboard: ['errorGraph'], upstream: true,
  },
  {
    metricName: 'noAvailableIPAddresses', family: 'awscni_no_available_ip_addresses', familyType: 'counter', aggregation: 'counterDelta', unit: 'Count', statistic: 'Sum',
    description: 'Pod IP assignments that failed because no IP was free, in the cycle.',
    dashboard: ['errorGraph'], upstream: false,
  },
  {
    metricName: 'connmarkReconcileErr', family: 'awscni_connmark_reconcile_total', familyType: 'counter', aggregation: 'counterDelta',
    seriesMatch: { result: 'error' }, unit: 'Count', statistic: 'Sum',
    description: 'Failed reconciliations of the connmark rules (iptables or nftables) by ipamd, in the cycle (VPC CNI v1.23+).',
    dashboard: ['errorGraph'], upstream: false,
  },
  // The CNI fleet: how many versions run at once.
  {
    metricName: 'cniVersionCount', family: 'awscni_build_info', familyType: 'gauge', aggregation: 'distinctCount',
    distinctLabel: 'version', unit: 'Count', statistic: 'Maximum',
    description: 'Distinct VPC CNI versions running on the scraped nodes: more than 1 during a rollout or when nodes drift.',
    dashboard: ['number'], upstream: false,
  },
  // AWS API latency from the summary's _sum/_count (current ipamd emits no quantiles).
  {
    metricName: 'awsAPILatency', family: 'awscni_aws_api_latency_ms', familyType: 'summary', aggregation: 'latencyMean', unit: 'Milliseconds', statistic: 'Average',
    description: 'Mean AWS API call latency in the cycle over all nodes and APIs; absent when no call was made.',
    dashboard: ['latencyGraph'], upstream: true,
  },
  {
    metricName: 'awsAPILatencyMaxP99', family: 'awscni_aws_api_latency_ms', familyType: 'summary', aggregation: 'latencyMaxP99', unit: 'Milliseconds', statistic: 'Maximum',
    description: 'Largest p99 AWS API latency on any node; only from ipamd builds that still emit quantiles.',
    dashboard: ['latencyGraph'], upstream: false,
  },
  // The collector's own health.
  {
    metricName: 'collectorNodesDiscovered', aggregation: 'health', unit: 'Count', statistic: 'Average',
    description: 'aws-node pods the collector found in the cycle.',
    dashboard: ['healthGraph'], upstream: false,
  },
  {
    metricName: 'collectorNodesScraped', aggregation: 'health', unit: 'Count', statistic: 'Average',
    description: 'Nodes whose ipamd metrics were read and parsed in the cycle.',
    dashboard: ['healthGraph'], upstream: false,
  },
  {
    metricName: 'collectorNodesFailed', aggregation: 'health', unit: 'Count', statistic: 'Maximum',
    description: 'Nodes that timed out, refused, or served a payload that did not parse or held no ipamd family, in the cycle.',
    dashboard: ['healthGraph'], upstream: false,
  },
  {
    metricName: 'collectorCycleDuration', aggregation: 'health', unit: 'Milliseconds', statistic: 'Maximum',
    description: 'Wall time of the cycle from discovery to the last scrape.',
    dashboard: ['healthGraph'], upstream: false,
  },
  {
    metricName: 'collectorDatumsDropped', aggregation: 'health', unit: 'Count', statistic: 'Sum',
    description: 'Datums dropped since the last cycle (CloudWatch buffer full, rejected, or older than CloudWatch accepts); published only when non-zero.',
    dashboard: ['healthGraph'], upstream: false,
  },
  {
    metricName: 'collectorSeriesDropped', aggregation: 'health', unit: 'Count', statistic: 'Sum',
    description: 'Series not tracked in the cycle because a node passed the collector\'s per-node series limit; published only when non-zero.',
    dashboard: ['healthGraph'], upstream: false,
  },
  {
    metricName: 'collectorNonFiniteDropped', aggregation: 'health', unit: 'Count', statistic: 'Sum',
    description: 'Cluster values not published in the cycle because they were not finite numbers (a sum that overflowed); published only when non-zero.',
    dashboard: ['healthGraph'], upstream: false,
  },
] as const satisfies readonly CatalogMetric[];

/** Every metric the collector publishes, in the order the README and the Prometheus page list them. */
export const CATALOG: readonly CatalogMetric[] = ENTRIES;

/** The name of a metric in the catalog: a typo in a literal name fails to compile. */
export type CatalogMetricName = (typeof ENTRIES)[number]['metricName'];

/**
 * A literal must be a catalog name; a plain `string` (a name read at run time, or from a user's
 * props) is accepted and checked when called.
 */
export type CheckedMetricName<N extends string> = string extends N ? string : N extends CatalogMetricName ? N : CatalogMetricName;

/** The catalog entry named `metricName`; throws on an unknown name so a typo fails loudly. */
export function catalogMetric<N extends string>(metricName: CheckedMetricName<N>): CatalogMetric {
  const found = CATALOG.find((m) => m.metricName === metricName);
  if (!found) {
    throw new Error(`Unknown catalog metric '${metricName}'; known: ${CATALOG.map((m) => m.metricName).join(', ')}`);
  }
  return found;
}

/**
 * The family whose start time tells one ipamd process from the next: served by the default
 * Prometheus registry ipamd uses. A change of it is a restart, whatever the pod is called.
 */
export const PROCESS_START_FAMILY = 'process_start_time_seconds';

/** Every ipamd family a catalog metric reads (its own, the one it subtracts, and its capacity). */
export const IPAMD_FAMILIES: ReadonlySet<string> = new Set(
  CATALOG.flatMap((m) => [m.family, m.subtractsFamily, m.capacityFamily].filter((f): f is string => f !== undefined)),
);

/** Every family the collector reads; the parser keeps only these. */
export const SCRAPED_FAMILIES: ReadonlySet<string> = new Set([...IPAMD_FAMILIES, PROCESS_START_FAMILY]);

import * as path from 'path';
import { Annotations, Duration, Stack, Stage, Token } from 'aws-cdk-lib';
import type * as eks from 'aws-cdk-lib/aws-eks';
import type * as eksv2 from 'aws-cdk-lib/aws-eks-v2';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as cdk8s from 'cdk8s';
import { Construct } from 'constructs';
import { eksClusterNameProblem, cloudWatchNamespaceProblem } from '../common/naming';
import { INTEGER_LIMITS, inRange } from '../common/limits';
import { DEFAULTS } from '../common/settings';
import { CniMetricsAlarms, CniMetricsAlarmsOptions } from './cni-metrics-alarms';
import { CniMetricsDashboard } from './cni-metrics-dashboard';
import { CniMetricsPolicy } from './cni-metrics-policy';
import { CollectorChart, CollectorChartOptions } from './collector-chart';
import { CollectorIdentity, CollectorIdentityType } from './collector-identity';
import { CollectorImage } from './collector-image';
import { NodeRoles } from './node-roles';
import { validateAlarmsOptions } from './private/alarm-options';
import { AnyCluster, WARNING_IDS, hasKubectl, isEksV2Cluster, warnAboutAutoMode } from './private/cluster';
import { DEFAULT_COLLECTOR_NAME, DEFAULT_COLLECTOR_NAMESPACE, validateCollectorChartOptions } from './private/collector-chart-validation';
import { validateDashboardName } from './private/dashboard-name';
import { validateSubnetIds } from './private/subnet-ids';
import { ValidationError, withValue } from './private/errors';
import { chartToYaml, writeManifestOnSynth } from './private/manifest-writer';

/** The in-cluster collector: the chart's options, and what only the helper decides. */
export interface CollectorOptions extends CollectorChartOptions {
  /**
   * Deploy the collector. `false` deploys none and writes no manifest (for example when you run the
   * collector yourself), and the CollectorSilent alarm, which only this collector feeds, is not created.
   *
   * @default true
   */
  readonly enabled?: boolean;

  /**
   * Where the collector's image comes from.
   *
   * @default - `CollectorImage.fromAsset()` (built by Docker at deploy time) with `cluster`;
   * `CollectorImage.fromBundle()` (no Docker, a public Node image) for a cluster managed elsewhere
   */
  readonly image?: CollectorImage;

  /**
   * File name of the plain Kubernetes manifest written into the cloud assembly (cdk.out) when the
   * cluster is managed elsewhere (no `cluster` prop). Apply it with `kubectl apply --server-side -f`.
   *
   * @default - '<stack name>.cni-metrics-helper.k8s.yaml'
   */
  readonly manifestFileName?: string;
}

/** The helper's alarms: the alarms' options, and whether to create any. */
export interface CniMetricsHelperAlarmsOptions extends CniMetricsAlarmsOptions {
  /**
   * Create alarms. `false` creates none.
   *
   * @default true
   */
  readonly enabled?: boolean;
}

/** The helper's dashboard. */
export interface CniMetricsHelperDashboardOptions {
  /**
   * Create the dashboard.
   *
   * @default true
   */
  readonly enabled?: boolean;

  /**
   * Name of the dashboard. Unique per account and region: give each cluster its own.
   *
   * @default 'EKS-CNI-metrics'
   */
  readonly dashboardName?: string;
}

/** Subnet exhaustion: the collector reads the subnets' free IPv4 addresses with EC2 DescribeSubnets. */
export interface CniMetricsHelperSubnetMetricsOptions {
  /**
   * Watch subnets. On, the collector gets `SUBNET_IDS` and publishes `subnetAvailableIPs` (per
   * subnet) and `minSubnetAvailableIPs`; the policy gains `ec2:DescribeSubnets` (on `*`, in a
   * statement without the namespace condition); the dashboard gets a per-subnet row; and the
   * `minSubnetAvailableIps` alarm is on unless turned off.
   *
   * @default false
   */
  readonly enabled?: boolean;

  /**
   * The subnets the pods draw their IPs from. Required without `cluster`: the YAML manifest for
   * a cluster managed elsewhere is written at synth, so the ids must be plain strings there.
   * With `cluster`, they may be CloudFormation tokens (e.g. `vpc.privateSubnets[i].subnetId`).
   *
   * @default - the private subnets of `cluster.vpc`
   */
  readonly subnetIds?: string[];

  /**
   * Time between DescribeSubnets calls (`SUBNET_REFRESH_SECONDS`), whole seconds from 30 s to one day.
   *
   * @default Duration.minutes(5) (the collector's default)
   */
  readonly refreshInterval?: Duration;
}

export interface CniMetricsHelperProps {
  /**
   * The cluster's name: the value of the CLUSTER_ID dimension on every metric.
   *
   * @default - the name of `cluster`; required when no `cluster` is given
   */
  readonly clusterName?: string;

  /**
   * An EKS cluster (aws-eks or aws-eks-v2), defined in this app or imported with
   * `Cluster.fromClusterAttributes`. The collector chart is applied through the cluster's kubectl
   * provider, and the roles of its EC2 node groups and capacity in this app get the policy (an
   * imported cluster has none: give `awsAuth` or `nodeRoles` too).
   *
   * @default - no cluster: the manifest is written as YAML for you to apply
   */
  readonly cluster?: eks.ICluster | eksv2.ICluster;

  /**
   * The aws-auth ConfigMap of the cluster, as text: the output of
   * `kubectl -n kube-system get configmap aws-auth -o yaml`, of `kubectl describe configmap aws-auth`,
   * or the bare mapRoles YAML. Roles mapped to group `system:nodes` (and not to Fargate's
   * `system:node-proxier`) get the policy.
   *
   * @default - no aws-auth text
   */
  readonly awsAuth?: string;

  /**
   * Node roles to attach the policy to, in addition to those found in `cluster` and `awsAuth`.
   *
   * @default - none
   */
  readonly nodeRoles?: iam.IRole[];

  /**
   * The collector's AWS identity. The default follows the AWS guide: the policy on the node roles.
   * `CollectorIdentity.podIdentity()` (preferred on current EKS) or `CollectorIdentity.irsa()` give
   * the policy to a role only the collector's service account can use, and to no node role; both
   * need `cluster`.
   *
   * @default CollectorIdentity.nodeRole()
   */
  readonly identity?: CollectorIdentity;

  /**
   * CloudWatch namespace of the metrics, and of the policy's `cloudwatch:namespace` condition.
   *
   * @default 'Kubernetes'
   */
  readonly cloudWatchNamespace?: string;

  /**
   * Name of the IAM managed policy. Names are unique per account: give each cluster's helper its own
   * when several live in one account.
   *
   * @default 'CNIMetricsHelperPolicy'
   */
  readonly managedPolicyName?: string;

  /**
   * Period of the dashboard's and alarms' metrics.
   *
   * @default Duration.minutes(5)
   */
  readonly period?: Duration;

  /**
   * The CloudWatch dashboard.
   *
   * @default - the 'EKS-CNI-metrics' dashboard
   */
  readonly dashboard?: CniMetricsHelperDashboardOptions;

  /**
   * Alarms, each optional; `{ enabled: false }` creates none.
   *
   * @default - IP utilization above 80%, and collector silent when the collector is deployed; no notification target
   */
  readonly alarms?: CniMetricsHelperAlarmsOptions;

  /**
   * The in-cluster collector; `{ enabled: false }` deploys none.
   *
   * @default - deployed with its defaults
   */
  readonly collector?: CollectorOptions;

  /**
   * Subnet exhaustion metrics (EC2 DescribeSubnets), their dashboard row and alarm.
   *
   * @default - off
   */
  readonly subnetMetrics?: CniMetricsHelperSubnetMetricsOptions;
}

/**
 * Everything the AWS guide's CNI metrics helper steps do, in one construct: the
 * `CNIMetricsHelperPolicy` on the node roles (or on the collector's own role), the `EKS-CNI-metrics`
 * dashboard and alarms, and the collector deployed into the cluster.
 */
export class CniMetricsHelper extends Construct {
  /** The IAM managed policy allowing cloudwatch:PutMetricData in the namespace. */
  public readonly policy: CniMetricsPolicy;
  /** The node roles the policy goes to (resolved at synthesis); undefined with IRSA or Pod Identity. */
  public readonly nodeRoles?: NodeRoles;
  /** The collector's own role with IRSA or Pod Identity. */
  public readonly collectorRole?: iam.IRole;
  /** The dashboard, unless turned off. */
  public readonly dashboard?: CniMetricsDashboard;
  /** The alarms, unless turned off. */
  public readonly alarms?: CniMetricsAlarms;
  /** The collector's cdk8s chart, when deployed. */
  public readonly chart?: CollectorChart;
  /** File name of the YAML manifest in the cloud assembly, when the cluster is managed elsewhere. */
  public readonly manifestFileName?: string;
  /** The CLUSTER_ID dimension value. */
  public readonly clusterName: string;
  /** The region the collector publishes to, which the dashboard and alarms read. */
  public readonly metricsRegion: string;

  constructor(scope: Construct, id: string, props: CniMetricsHelperProps) {
    super(scope, id);
    const stack = Stack.of(this);
    const identity = props.identity ?? CollectorIdentity.nodeRole();
    this.clusterName = resolveClusterName(props);
    const cloudWatchNamespace = props.cloudWatchNamespace ?? DEFAULTS.cloudWatchNamespace;
    validateCloudWatchNamespace(cloudWatchNamespace);
    const dashboardOptions = props.dashboard ?? {};
    const dashboardEnabled = dashboardOptions.enabled ?? true;
    if (dashboardEnabled && dashboardOptions.dashboardName !== undefined) validateDashboardName(dashboardOptions.dashboardName, 'dashboard.dashboardName');

    const collector = props.collector ?? {};
    const collectorEnabled = collector.enabled ?? true;
    if (collectorEnabled) validateCollectorChartOptions(collector, 'collector');
    this.metricsRegion = collector.region ?? stack.region;

    const subnetMetricsEnabled = props.subnetMetrics?.enabled ?? false;
    const subnetIds = subnetMetricsEnabled && collectorEnabled ? resolveSubnetIds(props) : undefined;
    const subnetRefreshSeconds = subnetMetricsEnabled ? refreshSeconds(props.subnetMetrics?.refreshInterval) : undefined;

    const alarmOptions = props.alarms ?? {};
    const alarmsEnabled = alarmOptions.enabled ?? true;
    if (alarmsEnabled) {
      checkAlarmsRegion(this, stack, collector.region);
      validateAlarmsOptions(this, this.alarmsProps(alarmOptions, collectorEnabled, subnetMetricsEnabled, props.period, cloudWatchNamespace), 'alarms');
    }
    validateRoleSources(props, identity);
    checkNodeRoleAccounts(stack, props.nodeRoles ?? []);
    if (props.cluster) {
      if (collectorEnabled) checkKubectl(props.cluster);
      warnAboutAutoMode(this, props.cluster);
    }

    this.policy = new CniMetricsPolicy(this, 'Policy', {
      namespace: cloudWatchNamespace,
      managedPolicyName: props.managedPolicyName,
      describeSubnets: subnetMetricsEnabled,
    });

    const serviceAccountNamespace = collector.namespace ?? DEFAULT_COLLECTOR_NAMESPACE;
    const serviceAccountName = collector.serviceAccountName ?? DEFAULT_COLLECTOR_NAME;
    let serviceAccountAnnotations: Record<string, string> = {};
    let identityResources: Construct | undefined;
    if (identity.type === CollectorIdentityType.NODE_ROLE) {
      this.nodeRoles = new NodeRoles(this, 'NodeRoles', { cluster: props.cluster, awsAuth: props.awsAuth, nodeRoles: props.nodeRoles });
      this.nodeRoles.attachPolicy(this.policy);
    } else {
      const binding = identity.bind(this, 'Identity', {
        cluster: props.cluster,
        serviceAccountNamespace,
        serviceAccountName,
        policy: this.policy,
      });
      this.collectorRole = binding.role;
      serviceAccountAnnotations = binding.serviceAccountAnnotations;
      identityResources = binding.resources;
    }

    if (alarmsEnabled) {
      this.alarms = new CniMetricsAlarms(this, 'Alarms', this.alarmsProps(alarmOptions, collectorEnabled, subnetMetricsEnabled, props.period, cloudWatchNamespace));
    }
    if (dashboardEnabled) {
      this.dashboard = new CniMetricsDashboard(this, 'Dashboard', {
        clusterName: this.clusterName,
        namespace: cloudWatchNamespace,
        period: props.period,
        region: this.metricsRegion,
        dashboardName: dashboardOptions.dashboardName,
        alarms: this.alarms?.alarms,
        subnetMetrics: subnetMetricsEnabled,
      });
    }

    if (!collectorEnabled) return;
    const { enabled: _enabled, image: imageOption, manifestFileName, ...chartOptions } = collector;
    const image = imageOption ?? (props.cluster ? CollectorImage.fromAsset() : CollectorImage.fromBundle());
    const { imageUri, bundle, nodeArchitecture } = image.bind(this);
    // The chart lives in a cdk8s app of its own: the cluster's kubectl provider (or the YAML
    // writer) applies it, not the CDK app.
    const chart = new CollectorChart(new cdk8s.App(), 'CniMetricsHelper', {
      ...chartOptions,
      region: this.metricsRegion,
      clusterName: this.clusterName,
      image: imageUri,
      bundle,
      nodeArchitecture,
      cloudWatchNamespace,
      serviceAccountAnnotations,
      subnetIds,
      subnetRefreshSeconds,
    });
    this.chart = chart;
    if (props.cluster) {
      const manifest = props.cluster.addCdk8sChart(`cni-metrics-helper-${this.node.id}`, chart);
      // Pods should start only once their credentials exist.
      if (identityResources) manifest.node.addDependency(identityResources);
    } else {
      this.manifestFileName = manifestFileName ?? `${stack.stackName}.cni-metrics-helper.k8s.yaml`;
      writeManifestOnSynth(this, this.manifestFileName, () => chartToYaml(chart, { resolveTokensIn: this }), 'collector.manifestFileName');
      this.reportManifest(this.manifestFileName);
    }
  }

  /**
   * The alarms' props: with the collector off, no CollectorSilent alarm unless asked for; with
   * subnet metrics on, the MinSubnetAvailableIps alarm unless turned off.
   */
  private alarmsProps(options: CniMetricsHelperAlarmsOptions, collectorEnabled: boolean, subnetMetricsEnabled: boolean, period: Duration | undefined, namespace: string) {
    const { enabled: _enabled, ...alarms } = options;
    return {
      ...alarms,
      collectorSilent: { ...alarms.collectorSilent, enabled: alarms.collectorSilent?.enabled ?? collectorEnabled },
      minSubnetAvailableIps: { ...alarms.minSubnetAvailableIps, enabled: alarms.minSubnetAvailableIps?.enabled ?? subnetMetricsEnabled },
      clusterName: this.clusterName,
      namespace,
      period,
      region: this.metricsRegion,
    };
  }

  /** Says at synth, as an info annotation, where the manifest goes and how to apply it. */
  private reportManifest(fileName: string): void {
    const outdir = Stage.of(this)?.outdir ?? 'cdk.out';
    const relative = path.relative(process.cwd(), outdir);
    const manifest = path.join(relative.startsWith('..') || path.isAbsolute(relative) ? outdir : relative || '.', fileName);
    Annotations.of(this).addInfo(
      `The collector's Kubernetes manifest for cluster ${this.clusterName} is written to ${manifest} at synthesis; ` +
        `apply it with: kubectl apply --server-side -f ${manifest}`,
    );
  }
}

function resolveClusterName(props: CniMetricsHelperProps): string {
  const name = props.clusterName ?? props.cluster?.clusterName;
  if (name === undefined) {
    throw new ValidationError('clusterName', 'is required when no `cluster` is given', "set it to the EKS cluster's name (it becomes the CLUSTER_ID dimension)");
  }
  const problem = Token.isUnresolved(name) ? undefined : eksClusterNameProblem(name);
  if (problem) throw new ValidationError('clusterName', withValue(problem, name), "set it to the EKS cluster's name, e.g. 'prod'");
  return name;
}

/**
 * The subnets to watch: the ids given, or the private subnets of the in-app cluster's VPC (tokens,
 * resolved by CloudFormation in the manifest the kubectl provider applies). The YAML for a cluster
 * managed elsewhere is written at synth and cannot resolve tokens: plain ids only there.
 */
function resolveSubnetIds(props: CniMetricsHelperProps): string[] {
  const path = 'subnetMetrics.subnetIds';
  const given = props.subnetMetrics?.subnetIds;
  if (given !== undefined) {
    validateSubnetIds(given, path);
    if (props.cluster === undefined && (Token.isUnresolved(given) || given.some((id) => Token.isUnresolved(id)))) {
      throw new ValidationError(path, 'holds a CDK token, but without `cluster` the manifest is YAML written at synthesis, where no CloudFormation value can be resolved',
        "list the subnet ids as plain strings, e.g. ['subnet-0123456789abcdef0']");
    }
    return given;
  }
  if (props.cluster === undefined) {
    throw new ValidationError(path, 'is required when subnet metrics are on and no `cluster` is given',
      "list the subnets the pods draw their IPs from, e.g. ['subnet-0123456789abcdef0'], or set subnetMetrics: { enabled: false }");
  }
  const ids = privateSubnetIds(props.cluster);
  if (ids === undefined || ids.length === 0) {
    throw new ValidationError(path, `is required: cluster ${props.cluster.node.path} has ${ids === undefined ? 'no VPC it can tell (an imported cluster without `vpc`)' : 'a VPC without private subnets'}`,
      "list the subnets the pods draw their IPs from, e.g. ['subnet-0123456789abcdef0'], or import the cluster with `vpc`");
  }
  validateSubnetIds(ids, path);
  return ids;
}

/** The ids of the private subnets of the cluster's VPC; undefined when it has none it can tell. */
function privateSubnetIds(cluster: AnyCluster): string[] | undefined {
  let vpc: { privateSubnets: { subnetId: string }[] } | undefined;
  try {
    // An imported cluster without `vpc` throws on access.
    vpc = (cluster as { vpc?: { privateSubnets: { subnetId: string }[] } }).vpc;
  } catch {
    return undefined;
  }
  return vpc?.privateSubnets.map((subnet) => subnet.subnetId);
}

/** subnetMetrics.refreshInterval in whole seconds, inside the collector's range. */
function refreshSeconds(interval: Duration | undefined): number | undefined {
  if (interval === undefined || interval.isUnresolved()) return undefined;
  const seconds = interval.toSeconds({ integral: false });
  const range = INTEGER_LIMITS.subnetRefreshSeconds;
  if (!inRange(seconds, range)) {
    throw new ValidationError('subnetMetrics.refreshInterval', `must be whole seconds from ${range.min} s to ${range.max} s, got ${interval.toHumanString()}`,
      'e.g. Duration.minutes(5) (the default); DescribeSubnets shares the account\'s EC2 API quota');
  }
  return seconds;
}

function validateCloudWatchNamespace(namespace: string): void {
  const problem = Token.isUnresolved(namespace) ? undefined : cloudWatchNamespaceProblem(namespace);
  if (problem) {
    throw new ValidationError('cloudWatchNamespace', withValue(problem, namespace), `choose another CloudWatch namespace, e.g. '${DEFAULTS.cloudWatchNamespace}' (the default, as upstream)`);
  }
}

/**
 * Alarms watch metrics of their own region only: a collector publishing elsewhere cannot be alarmed
 * on here. An environment-agnostic stack's region is known only at deploy time: a warning then.
 */
function checkAlarmsRegion(scope: Construct, stack: Stack, collectorRegion: string | undefined): void {
  if (collectorRegion === undefined || Token.isUnresolved(collectorRegion) || collectorRegion === stack.region) return;
  const fix = `put the helper in a stack of region ${collectorRegion}, leave collector.region out, or set alarms: { enabled: false } (the dashboard reads ${collectorRegion} either way)`;
  if (Token.isUnresolved(stack.region)) {
    Annotations.of(scope).addWarningV2(
      WARNING_IDS.regionUnknown,
      `collector.region is ${collectorRegion}, but the alarms go to the stack's region, known only at deploy time, and CloudWatch ` +
        `alarms can only watch metrics of their own region: unless the stack deploys to ${collectorRegion}, they stay in ` +
        `INSUFFICIENT_DATA or ALARM — ${fix}`,
    );
    return;
  }
  throw new ValidationError(
    'collector.region',
    `is ${collectorRegion}, but the alarms are created in ${stack.region} (the stack's region), and CloudWatch alarms can only watch metrics of their own region`,
    fix,
  );
}

/** The chart is applied through the cluster's kubectl provider: without one, nothing could apply it. */
function checkKubectl(cluster: AnyCluster): void {
  if (hasKubectl(cluster)) return;
  const fix = isEksV2Cluster(cluster)
    ? 'give the aws-eks-v2 Cluster `kubectlProviderOptions` (with a kubectlLayer), or import it with `kubectlProvider` ' +
      '(KubectlProvider.fromKubectlProviderAttributes) in fromClusterAttributes'
    : 'import the cluster with `kubectlRoleArn` (a role mapped to system:masters) or `kubectlProvider` in fromClusterAttributes';
  throw new ValidationError(
    'cluster',
    `cluster ${cluster.node.path} has no kubectl provider, so the collector's chart cannot be applied to it`,
    `${fix}; or leave \`cluster\` out (with clusterName and awsAuth or nodeRoles) to get the manifest as YAML, or set collector: { enabled: false }`,
  );
}

/** A managed policy attaches to roles of its own account only: say so under the prop the roles came in. */
function checkNodeRoleAccounts(stack: Stack, roles: iam.IRole[]): void {
  for (const role of roles) {
    const roleAccount = role.env.account;
    if (Token.isUnresolved(stack.account) || Token.isUnresolved(roleAccount) || roleAccount === stack.account) continue;
    const name = Token.isUnresolved(role.roleArn) ? role.node.path : role.roleArn;
    throw new ValidationError(
      'nodeRoles',
      `role ${name} is in account ${roleAccount}, but the policy deploys to account ${stack.account}; ` +
        'a managed policy can only be attached to roles of its own account',
      `pass roles of account ${stack.account}, or deploy the stack to account ${roleAccount}`,
    );
  }
}

function validateRoleSources(props: CniMetricsHelperProps, identity: CollectorIdentity): void {
  const hasNodeRoleSource = props.cluster !== undefined || props.awsAuth !== undefined || (props.nodeRoles?.length ?? 0) > 0;
  if (identity.type === CollectorIdentityType.NODE_ROLE && !hasNodeRoleSource) {
    throw new ValidationError(
      'nodeRoles',
      'no node role to attach CNIMetricsHelperPolicy to',
      'give `cluster` (an EKS cluster of this app), `awsAuth` (the aws-auth ConfigMap text of a cluster managed elsewhere) ' +
        'or `nodeRoles`, or use `identity: CollectorIdentity.podIdentity()` with `cluster`',
    );
  }
  if (identity.type !== CollectorIdentityType.NODE_ROLE && (props.awsAuth !== undefined || props.nodeRoles !== undefined)) {
    throw new ValidationError(
      'identity',
      `awsAuth and nodeRoles are not used with identity ${identity.type}: the policy goes to the collector's own role and to no node role`,
      'remove them, or use `CollectorIdentity.nodeRole()`',
    );
  }
}

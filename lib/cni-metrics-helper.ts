import { Duration, Stack, Token } from 'aws-cdk-lib';
import * as cdk8s from 'cdk8s';
import { Construct } from 'constructs';
import * as iam from 'aws-cdk-lib/aws-iam';
import { CniMetricsAlarms, CniMetricsAlarmsOptions } from './cni-metrics-alarms';
import { CniMetricsDashboard } from './cni-metrics-dashboard';
import { CniMetricsPolicy } from './cni-metrics-policy';
import { CollectorChart, CollectorChartProps, COLLECTOR_NAME, COLLECTOR_NAMESPACE } from './collector-chart';
import { CollectorIdentity, CollectorIdentityType } from './collector-identity';
import { CollectorImage } from './collector-image';
import { chartToYaml, writeManifestOnSynth } from './manifest-yaml';
import { InAppCluster, NodeRoles } from './node-roles';

/** How the in-cluster collector is deployed: every chart setting except what the helper decides. */
export interface CollectorOptions
  extends Omit<CollectorChartProps, 'clusterName' | 'image' | 'bundle' | 'nodeArchitecture' | 'serviceAccountAnnotations' | 'cloudWatchNamespace' | 'useCloudWatch' | 'labels' | 'disableResourceNameHashes'> {
  /**
   * Where the collector's image comes from.
   *
   * @default - `CollectorImage.fromAsset()` (built by Docker at deploy time) with an in-app `cluster`;
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

export interface CniMetricsHelperProps {
  /**
   * The cluster's name: the value of the CLUSTER_ID dimension on every metric.
   *
   * @default - the name of `cluster`; required when no `cluster` is given
   */
  readonly clusterName?: string;

  /**
   * An EKS cluster defined in this app (aws-eks or aws-eks-v2). Its node groups', self-managed
   * capacity's and aws-auth `system:nodes` roles get the policy, and the collector chart is added
   * to it with the cluster's own cdk8s support.
   *
   * @default - no in-app cluster: the manifest is written as YAML for you to apply
   */
  readonly cluster?: InAppCluster;

  /**
   * The aws-auth ConfigMap of a cluster managed elsewhere, as text: the output of
   * `kubectl -n kube-system get configmap aws-auth -o yaml`, of `kubectl describe configmap aws-auth`,
   * or the bare mapRoles YAML. Roles mapped to group `system:nodes` get the policy.
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
  readonly namespace?: string;

  /**
   * Name of the IAM managed policy. Names are unique per account: give each cluster's helper its own
   * when several live in one account.
   *
   * @default 'CNIMetricsHelperPolicy'
   */
  readonly managedPolicyName?: string;

  /**
   * Create the CloudWatch dashboard.
   *
   * @default true
   */
  readonly dashboard?: boolean;

  /**
   * Name of the dashboard. Unique per account and region: give each cluster its own.
   *
   * @default 'EKS-CNI-metrics'
   */
  readonly dashboardName?: string;

  /**
   * Period of the dashboard's and alarms' metrics.
   *
   * @default Duration.minutes(5)
   */
  readonly period?: Duration;

  /**
   * Alarms, each optional; `false` creates none.
   *
   * @default - IP utilization above 80% and collector silent, with no notification target
   */
  readonly alarms?: CniMetricsAlarmsOptions | false;

  /**
   * The in-cluster collector; `false` deploys none (for example when you run the collector yourself).
   *
   * @default - deployed with its defaults
   */
  readonly collector?: CollectorOptions | false;
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
  public readonly dashboard?: CniMetricsDashboard;
  public readonly alarms?: CniMetricsAlarms;
  /** The collector's cdk8s chart, when deployed. */
  public readonly chart?: CollectorChart;
  /** File name of the YAML manifest in the cloud assembly, when the cluster is managed elsewhere. */
  public readonly manifestFileName?: string;
  /** The CLUSTER_ID dimension value. */
  public readonly clusterName: string;

  constructor(scope: Construct, id: string, props: CniMetricsHelperProps) {
    super(scope, id);
    const identity = props.identity ?? CollectorIdentity.nodeRole();
    this.clusterName = resolveClusterName(props);
    validateRoleSources(props, identity);

    this.policy = new CniMetricsPolicy(this, 'Policy', {
      namespace: props.namespace,
      managedPolicyName: props.managedPolicyName,
    });
    const namespace = this.policy.namespace;

    const collector = props.collector === false ? undefined : props.collector ?? {};
    const serviceAccountNamespace = collector?.namespace ?? COLLECTOR_NAMESPACE;
    const serviceAccountName = collector?.serviceAccountName ?? COLLECTOR_NAME;
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

    const alarmOptions = props.alarms === false ? undefined : props.alarms ?? {};
    if (alarmOptions) {
      this.alarms = new CniMetricsAlarms(this, 'Alarms', {
        ...alarmOptions,
        clusterName: this.clusterName,
        namespace,
        period: props.period,
      });
    }
    if (props.dashboard ?? true) {
      this.dashboard = new CniMetricsDashboard(this, 'Dashboard', {
        clusterName: this.clusterName,
        namespace,
        period: props.period,
        dashboardName: props.dashboardName,
        alarms: this.alarms?.alarms,
      });
    }

    if (collector) {
      const { image: imageOption, manifestFileName, ...chartOptions } = collector;
      const image = imageOption ?? (props.cluster ? CollectorImage.fromAsset() : CollectorImage.fromBundle());
      const { imageUri, bundle, nodeArchitecture } = image.bind(this);
      // The chart lives in a cdk8s app of its own: the cluster's cdk8s support (or the YAML
      // writer) synthesizes it, not the CDK app.
      this.chart = new CollectorChart(new cdk8s.App(), 'CniMetricsHelper', {
        ...chartOptions,
        region: chartOptions.region ?? Stack.of(this).region,
        clusterName: this.clusterName,
        image: imageUri,
        bundle,
        nodeArchitecture,
        cloudWatchNamespace: namespace,
        serviceAccountAnnotations,
      });
      if (props.cluster) {
        const manifest = props.cluster.addCdk8sChart(`cni-metrics-helper-${this.node.id}`, this.chart);
        // Pods should start only once their credentials exist.
        if (identityResources) manifest.node.addDependency(identityResources);
      } else {
        const chart = this.chart;
        this.manifestFileName = manifestFileName ?? `${Stack.of(this).stackName}.cni-metrics-helper.k8s.yaml`;
        try {
          writeManifestOnSynth(this, this.manifestFileName, () => chartToYaml(chart, { resolveTokensIn: this }));
        } catch (error) {
          // The writer names its own argument; the user knows the file name as this prop.
          throw new Error(
            `CniMetricsHelper: the manifest file name ${JSON.stringify(this.manifestFileName)} (\`collector.manifestFileName\`) ` +
              `cannot be used: ${(error as Error).message}`,
          );
        }
      }
    }
  }
}

function resolveClusterName(props: CniMetricsHelperProps): string {
  const name = props.clusterName ?? props.cluster?.clusterName;
  if (name === undefined) {
    throw new Error('CniMetricsHelper: `clusterName` is required when no `cluster` is given: set it to the EKS cluster\'s name (it becomes the CLUSTER_ID dimension)');
  }
  if (!Token.isUnresolved(name) && !/^[0-9A-Za-z][A-Za-z0-9_-]{0,99}$/.test(name)) {
    throw new Error(`CniMetricsHelper: 'clusterName' must be an EKS cluster name (1-100 characters: letters, digits, '-' and '_', starting with a letter or digit), got ${JSON.stringify(name)}`);
  }
  return name;
}

function validateRoleSources(props: CniMetricsHelperProps, identity: CollectorIdentity): void {
  const hasNodeRoleSource = props.cluster !== undefined || props.awsAuth !== undefined || (props.nodeRoles?.length ?? 0) > 0;
  if (identity.type === CollectorIdentityType.NODE_ROLE && !hasNodeRoleSource) {
    throw new Error(
      'CniMetricsHelper: no node role to attach CNIMetricsHelperPolicy to: give `cluster` (an EKS cluster in this app), ' +
        '`awsAuth` (the aws-auth ConfigMap text of a cluster managed elsewhere) or `nodeRoles`, ' +
        'or use `identity: CollectorIdentity.podIdentity()` with `cluster`',
    );
  }
  if (identity.type !== CollectorIdentityType.NODE_ROLE && (props.awsAuth !== undefined || props.nodeRoles !== undefined)) {
    throw new Error(
      `CniMetricsHelper: 'awsAuth' and 'nodeRoles' are not used with identity ${identity.type}: the policy goes to the ` +
        'collector\'s own role and to no node role. Remove them, or use `CollectorIdentity.nodeRole()`',
    );
  }
}

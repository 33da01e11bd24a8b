/**
 * The cdk8s chart that runs the collector in the cluster: its ServiceAccount, least-privilege RBAC
 * in the aws-node namespace, and a Deployment (one replica, or several electing a leader), hardened
 * and with explicit resources.
 */
import * as cdk8s from 'cdk8s';
import * as kplus from 'cdk8s-plus-27';
import { Construct } from 'constructs';
import { DEFAULTS, ENV } from '../common/settings';
import { CollectorBundleMount } from './collector-bundle';
import { CollectorLogLevel, ScrapeMode } from './collector-settings';
import {
  DEFAULT_COLLECTOR_NAME,
  ResolvedCollectorSettings,
  SizedResources,
  collectorEnvironment,
  sizedResources,
  validateCollectorChartProps,
} from './private/collector-chart-validation';

/** The name of the Deployment, Role and RoleBinding, and the prefix of the bundle ConfigMaps. */
export const COLLECTOR_NAME = DEFAULT_COLLECTOR_NAME;

/**
 * The Deployment's pod selector: upstream cni-metrics-helper's, so that applying this manifest over
 * an upstream install replaces it in place (a Deployment's selector cannot change).
 */
const COLLECTOR_SELECTOR = { 'k8s-app': COLLECTOR_NAME } as const;

/** Labels on every object of the chart (and on the pods). */
const COLLECTOR_LABELS = {
  'app.kubernetes.io/name': COLLECTOR_NAME,
  'app.kubernetes.io/instance': COLLECTOR_NAME,
} as const;

/** Pod annotation holding the bundle's sha256 in bundle mode: a new bundle rolls the pod. */
const BUNDLE_SHA256_ANNOTATION = `${COLLECTOR_NAME}/bundle-sha256`;

/** The user and group the containers run as: 65532, the conventional "nonroot" id (runtime/Dockerfile). */
export const COLLECTOR_UID = 65532;

const CONTAINER_NAME = 'collector';
const UNPACK_CONTAINER_NAME = 'unpack-collector';
const BUNDLE_VOLUME_NAME = 'collector-bundle';
const APP_VOLUME_NAME = 'collector-app';

/** The collector's settings a user chooses: everything the chart deploys but what the helper decides. */
export interface CollectorChartOptions {
  /**
   * Namespace of the collector's ServiceAccount and Deployment (and bundle ConfigMaps).
   *
   * @default 'kube-system'
   */
  readonly namespace?: string;

  /**
   * Name of the collector's ServiceAccount; with IRSA or Pod Identity, the name the role trusts.
   *
   * @default 'cni-metrics-helper'
   */
  readonly serviceAccountName?: string;

  /**
   * How the collector reaches each node's ipamd metrics (`SCRAPE_MODE`). The RBAC follows:
   * `ScrapeMode.PROXY` also grants `get` on `pods/proxy`.
   *
   * @default ScrapeMode.PROXY
   */
  readonly scrapeMode?: ScrapeMode;

  /**
   * Seconds between collection cycles (`METRIC_UPDATE_INTERVAL`).
   *
   * @default 30
   */
  readonly intervalSeconds?: number;

  /**
   * AWS region the collector publishes to (`AWS_REGION`). Required while CloudWatch publishing
   * is on: the collector refuses to start without it.
   *
   * @default - not set by the chart; the helper sets the stack's region
   */
  readonly region?: string;

  /**
   * Serve the metrics for Prometheus on port 61681 (`USE_PROMETHEUS`).
   *
   * @default false
   */
  readonly usePrometheus?: boolean;

  /**
   * The collector's log level (`AWS_VPC_K8S_CNI_LOGLEVEL`).
   *
   * @default CollectorLogLevel.INFO
   */
  readonly logLevel?: CollectorLogLevel;

  /**
   * Most nodes scraped at the same time (`SCRAPE_CONCURRENCY`). In proxy mode the collector halves it
   * while the API server answers 429.
   *
   * @default - derived from `expectedNodeCount`: enough that a cycle's waiting (20 ms a node, 1% of
   * nodes timing out) fits half the interval, from 64 to 512; 334 for 100,000 nodes at the default
   * interval and timeout
   */
  readonly scrapeConcurrency?: number;

  /**
   * Worker threads that scrape, parse and aggregate a share of the nodes each (`SCRAPE_WORKERS`), so
   * a cycle uses more than one CPU; 0: the main thread does it all.
   *
   * @default - derived from `expectedNodeCount`: 0 while one CPU does a cycle's work in half the
   * interval, else one per CPU it needs, at most 4; 3 for 100,000 nodes at the default interval
   */
  readonly scrapeWorkers?: number;

  /**
   * Time limit of one node's scrape, in milliseconds (`SCRAPE_TIMEOUT_MS`).
   *
   * @default 3000
   */
  readonly scrapeTimeoutMs?: number;

  /**
   * Namespace of the aws-node (VPC CNI) pods (`AWS_NODE_NAMESPACE`); the collector's Role and
   * RoleBinding live there.
   *
   * @default 'kube-system'
   */
  readonly awsNodeNamespace?: string;

  /**
   * Label selector of the aws-node pods (`AWS_NODE_LABEL_SELECTOR`).
   *
   * @default 'k8s-app=aws-node'
   */
  readonly awsNodeLabelSelector?: string;

  /**
   * The collector container's CPU and memory. With a memory limit here, the chart sets the V8 heap
   * cap (`NODE_OPTIONS=--max-old-space-size`) to 65% of it; with none, it sets no heap cap.
   *
   * @default - derived from `expectedNodeCount` (see there); without it, requests 50m CPU and 64Mi
   * memory and the limits of a 100,000-node cluster (at the default interval and timeout: 2340m CPU
   * and 1088Mi in proxy mode, 3200m and 1216Mi in direct mode)
   */
  readonly resources?: kplus.ContainerResources;

  /**
   * Nodes the cluster runs, or will run. The chart sizes the collector from it (the README's "Large
   * clusters" gives the rule and a table): `scrapeConcurrency`, `scrapeWorkers`, the container's CPU
   * and memory requests and limits, and the V8 heap cap (`NODE_OPTIONS=--max-old-space-size`, 65% of
   * the memory limit, with a 32 MiB semi-space), each unless given. A whole number from 1 to 110,000.
   *
   * Left out, the limits and the concurrency are those of a 100,000-node cluster, EKS's largest, so
   * the collector holds any cluster without an OOM kill or a shortage of scrapes in flight, while
   * the requests stay at 50m CPU and 64Mi (Burstable): a small cluster reserves no more than before,
   * and a limit costs nothing until it is used. Give it for a large cluster, so that the requests
   * (what the scheduler reserves) match what the collector uses there.
   *
   * @default - limits, concurrency and workers for 100,000 nodes, requests 50m CPU and 64Mi memory
   */
  readonly expectedNodeCount?: number;

  /**
   * More environment variables for the collector, e.g. `SCRAPE_MAX_BYTES`. Variables the chart
   * sets from its props are refused here: set the prop instead.
   *
   * @default - none
   */
  readonly extraEnv?: Record<string, string>;

  /**
   * PriorityClass of the collector's pod.
   *
   * @default - none: the cluster's default priority
   */
  readonly priorityClassName?: string;

  /**
   * Add a NetworkPolicy that lets traffic into the collector's pod only on its health port (61682)
   * and, with `usePrometheus`, its metrics port (61681). Egress stays open: the collector calls the
   * API server, each node's ipamd and CloudWatch. It takes effect only where a network policy
   * engine runs (the VPC CNI's network policy agent, Calico, Cilium).
   *
   * @default false
   */
  readonly networkPolicy?: boolean;

  /**
   * Collector pods. With more than one, the replicas elect a leader on a Kubernetes Lease in the
   * collector's namespace and only the leader scrapes and publishes; the others are hot standbys.
   * The chart then adds `LEADER_ELECTION=true` with the pod's name and namespace (downward API), a
   * Role and RoleBinding for `get`, `create` and `update` on leases in the collector's namespace, a
   * PodDisruptionBudget (minAvailable 1), preferred pod anti-affinity across nodes
   * (`kubernetes.io/hostname`) and a RollingUpdate strategy. One replica is replaced with Recreate.
   *
   * @default 1
   */
  readonly replicas?: number;

  /**
   * Timings of the Lease leader election, used when `replicas` is more than 1.
   *
   * @default - the collector's defaults: lease duration 15 s, renew deadline 10 s, retry period 2 s (client-go's)
   */
  readonly leaderElection?: CollectorLeaderElectionOptions;
}

/** Lease leader election among the collector's replicas (client-go's algorithm and timings). */
export interface CollectorLeaderElectionOptions {
  /**
   * Name of the Lease, in the collector's namespace (`LEASE_NAME`).
   *
   * @default 'cni-metrics-helper'
   */
  readonly leaseName?: string;

  /**
   * Seconds a standby waits after the leader's last renewal before taking the lease
   * (`LEASE_DURATION_SECONDS`). Must be more than `renewDeadlineSeconds`.
   *
   * @default 15
   */
  readonly leaseDurationSeconds?: number;

  /**
   * Seconds the leader keeps trying to renew before it stops leading (`LEASE_RENEW_DEADLINE_SECONDS`).
   * Must be more than `retryPeriodSeconds`.
   *
   * @default 10
   */
  readonly renewDeadlineSeconds?: number;

  /**
   * Seconds between tries to acquire or renew the lease (`LEASE_RETRY_PERIOD_SECONDS`).
   *
   * @default 2
   */
  readonly retryPeriodSeconds?: number;
}

/** The chart's props: the user's options plus what the helper (or you, using the chart alone) decides. */
export interface CollectorChartProps extends CollectorChartOptions {
  /** Name of the EKS cluster: the `CLUSTER_ID` dimension of every metric the collector publishes. */
  readonly clusterName: string;

  /** The collector's image reference, as resolved by `CollectorImage.bind()`. */
  readonly image: string;

  /**
   * Annotations on the ServiceAccount, e.g. `eks.amazonaws.com/role-arn` for IRSA.
   *
   * @default - none
   */
  readonly serviceAccountAnnotations?: Record<string, string>;

  /**
   * Publish to CloudWatch (`USE_CLOUDWATCH`).
   *
   * @default true
   */
  readonly useCloudWatch?: boolean;

  /**
   * CloudWatch namespace of the metrics (`CLOUDWATCH_NAMESPACE`).
   *
   * @default 'Kubernetes'
   */
  readonly cloudWatchNamespace?: string;

  /**
   * The collector bundle to mount and run on a stock Node image (`CollectorImage.fromBundle()`).
   *
   * @default - none: the image runs the collector by itself
   */
  readonly bundle?: CollectorBundleMount;

  /**
   * The `kubernetes.io/arch` the image runs on, when it holds one platform (`CollectorImage.fromAsset()`):
   * the pod is scheduled on nodes with that label only.
   *
   * @default - any node architecture
   */
  readonly nodeArchitecture?: string;

  /**
   * Labels on every object of the chart, besides the chart's own `app.kubernetes.io` labels.
   *
   * @default - only the chart's own labels
   */
  readonly labels?: Record<string, string>;

  /**
   * Subnets whose free IPv4 addresses the collector reads with EC2 DescribeSubnets and publishes
   * (`SUBNET_IDS`); the node role or the collector's role needs `ec2:DescribeSubnets`. May hold
   * CloudFormation tokens when the chart is applied through a cluster of the app.
   *
   * @default - no subnet metrics
   */
  readonly subnetIds?: string[];

  /**
   * Seconds between DescribeSubnets calls (`SUBNET_REFRESH_SECONDS`), when `subnetIds` is given.
   *
   * @default - the collector's default, 300
   */
  readonly subnetRefreshSeconds?: number;
}

/** The collector's ServiceAccount, RBAC and Deployment. */
export class CollectorChart extends cdk8s.Chart {
  public readonly serviceAccount: kplus.ServiceAccount;
  public readonly role: kplus.Role;
  public readonly deployment: kplus.Deployment;

  constructor(scope: Construct, id: string, props: CollectorChartProps) {
    const settings = validateCollectorChartProps(props, '');
    super(scope, id, { namespace: settings.namespace, labels: { ...COLLECTOR_LABELS, ...props.labels } });

    // The collector lists pods and proxies to them through the API server, so it needs its token:
    // cdk8s-plus turns the mount off by default, on the ServiceAccount and on the pod.
    this.serviceAccount = new kplus.ServiceAccount(this, 'ServiceAccount', {
      metadata: { name: settings.serviceAccountName, annotations: props.serviceAccountAnnotations },
      automountToken: true,
    });

    this.role = this.createRole(settings.awsNodeNamespace, settings.scrapeMode);

    // The bundle's ConfigMaps come before the Deployment that mounts them.
    const bundleConfigMaps = props.bundle ? this.createBundleConfigMaps(props.bundle) : [];
    this.deployment = this.createDeployment(props, collectorEnvironment(props, settings), settings, bundleConfigMaps);
    if (props.networkPolicy ?? false) this.createNetworkPolicy(settings.usePrometheus);
    if (settings.leaderElection) {
      this.createLeaseRole(settings.leaderElection.leaseName);
      this.createPodDisruptionBudget();
    }
  }

  /**
   * Leader election (replicas > 1) in the collector's own namespace: `create` on leases (which
   * cannot be narrowed by name: the object does not exist yet), `get` and `update` on its one Lease.
   */
  private createLeaseRole(leaseName: string): void {
    const role = new cdk8s.ApiObject(this, 'LeaseRole', {
      apiVersion: 'rbac.authorization.k8s.io/v1',
      kind: 'Role',
      metadata: { name: `${COLLECTOR_NAME}-leader-election` },
      rules: [
        { apiGroups: ['coordination.k8s.io'], resources: ['leases'], verbs: ['create'] },
        { apiGroups: ['coordination.k8s.io'], resources: ['leases'], resourceNames: [leaseName], verbs: ['get', 'update'] },
      ],
    });
    new cdk8s.ApiObject(this, 'LeaseRoleBinding', {
      apiVersion: 'rbac.authorization.k8s.io/v1',
      kind: 'RoleBinding',
      metadata: { name: `${COLLECTOR_NAME}-leader-election` },
      roleRef: { apiGroup: 'rbac.authorization.k8s.io', kind: 'Role', name: role.name },
      subjects: [{ kind: 'ServiceAccount', name: this.serviceAccount.name, namespace: this.namespace }],
    });
  }

  /** With replicas > 1: a voluntary eviction (a node drain) always leaves one collector running. */
  private createPodDisruptionBudget(): void {
    new cdk8s.ApiObject(this, 'PodDisruptionBudget', {
      apiVersion: 'policy/v1',
      kind: 'PodDisruptionBudget',
      metadata: { name: COLLECTOR_NAME },
      spec: { minAvailable: 1, selector: { matchLabels: { ...COLLECTOR_SELECTOR } } },
    });
  }

  /** Ingress to the collector's pod on its own ports only (see CollectorChartOptions.networkPolicy). */
  private createNetworkPolicy(usePrometheus: boolean): void {
    const ports: { protocol: string; port: number }[] = [{ protocol: 'TCP', port: DEFAULTS.healthPort }];
    if (usePrometheus) ports.push({ protocol: 'TCP', port: DEFAULTS.prometheusPort });
    new cdk8s.ApiObject(this, 'NetworkPolicy', {
      apiVersion: 'networking.k8s.io/v1',
      kind: 'NetworkPolicy',
      metadata: { name: COLLECTOR_NAME },
      spec: {
        podSelector: { matchLabels: { ...COLLECTOR_SELECTOR } },
        policyTypes: ['Ingress'],
        ingress: [{ ports }],
      },
    });
  }

  /**
   * Exactly what the collector calls, in the aws-node namespace only: `list` and `watch` pods
   * (discovery is a paginated list with a label selector, then a watch for the pod cache; no `get`),
   * and in proxy mode `get` on `pods/proxy` (each scrape is a GET through the pod proxy). Direct mode reaches ipamd on the
   * node's IP, outside the API server, so it gets no proxy right.
   */
  private createRole(awsNodeNamespace: string, scrapeMode: string): kplus.Role {
    const role = new kplus.Role(this, 'AwsNodePodsRole', {
      metadata: { name: COLLECTOR_NAME, namespace: awsNodeNamespace },
    });
    role.allow(['list', 'watch'], kplus.ApiResource.PODS);
    if (scrapeMode === ScrapeMode.PROXY.value) {
      role.allow(['get'], kplus.ApiResource.custom({ apiGroup: '', resourceType: 'pods/proxy' }));
    }
    const binding = new kplus.RoleBinding(this, 'AwsNodePodsRoleBinding', {
      metadata: { name: COLLECTOR_NAME, namespace: awsNodeNamespace },
      role,
    });
    binding.addSubjects(this.serviceAccount);
    return role;
  }

  private createDeployment(
    props: CollectorChartProps,
    env: Record<string, string>,
    settings: ResolvedCollectorSettings,
    bundleConfigMaps: kplus.ConfigMap[],
  ): kplus.Deployment {
    const usePrometheus = settings.usePrometheus;
    const electsLeader = settings.leaderElection !== undefined;
    const deployment = new kplus.Deployment(this, 'Deployment', {
      metadata: { name: COLLECTOR_NAME },
      replicas: settings.replicas,
      // One replica is replaced, not rolled: without leader election two collectors at once would
      // publish every metric twice. With election only the leader publishes, so replicas can roll.
      strategy: electsLeader
        ? kplus.DeploymentStrategy.rollingUpdate({ maxSurge: kplus.PercentOrAbsolute.absolute(1), maxUnavailable: kplus.PercentOrAbsolute.absolute(0) })
        : kplus.DeploymentStrategy.recreate(),
      // An explicit, stable selector instead of cdk8s-plus's construct-path label.
      select: false,
      podMetadata: { labels: { ...COLLECTOR_SELECTOR, ...COLLECTOR_LABELS } },
      serviceAccount: this.serviceAccount,
      automountServiceAccountToken: true,
      securityContext: { user: COLLECTOR_UID, group: COLLECTOR_UID, ensureNonRoot: true },
    });
    deployment.select(kplus.LabelSelector.of({ labels: { ...COLLECTOR_SELECTOR } }));
    if (props.nodeArchitecture !== undefined) {
      // A one-platform image would fail with "exec format error" on a node of another architecture.
      deployment.scheduling.attract(kplus.Node.labeled(kplus.NodeLabelQuery.is('kubernetes.io/arch', props.nodeArchitecture)));
    }

    const ports: kplus.ContainerPort[] = [{ number: DEFAULTS.healthPort, name: 'health' }];
    if (usePrometheus) ports.push({ number: DEFAULTS.prometheusPort, name: 'metrics' });
    const collector = deployment.addContainer({
      name: CONTAINER_NAME,
      image: props.image,
      imagePullPolicy: kplus.ImagePullPolicy.IF_NOT_PRESENT,
      command: props.bundle?.runCommand,
      ports,
      envVariables: {
        ...Object.fromEntries(Object.entries(env).map(([name, value]) => [name, kplus.EnvValue.fromValue(value)])),
        // The replica's identity in the Lease, and the Lease's namespace: the pod's own.
        ...(electsLeader ? {
          [ENV.podName]: kplus.EnvValue.fromFieldRef(kplus.EnvFieldPaths.POD_NAME),
          [ENV.podNamespace]: kplus.EnvValue.fromFieldRef(kplus.EnvFieldPaths.POD_NAMESPACE),
        } : {}),
      },
      // /healthz fails once no cycle has finished for three intervals; /readyz passes after the first.
      liveness: kplus.Probe.fromHttpGet('/healthz', {
        port: DEFAULTS.healthPort,
        periodSeconds: cdk8s.Duration.seconds(20),
        timeoutSeconds: cdk8s.Duration.seconds(5),
        failureThreshold: 3,
      }),
      readiness: kplus.Probe.fromHttpGet('/readyz', {
        port: DEFAULTS.healthPort,
        periodSeconds: cdk8s.Duration.seconds(10),
        timeoutSeconds: cdk8s.Duration.seconds(5),
        failureThreshold: 3,
      }),
      // Sized for the cluster (common/sizing.ts), never cdk8s-plus's default of a whole CPU and 512Mi
      // requested; a tighter CPU limit than the sizing's only stretches the cycle.
      resources: props.resources ?? containerResources(sizedResources(settings)),
      securityContext: HARDENED_CONTAINER,
    });

    const podPatches: cdk8s.JsonPatch[] = [
      // The pod's address label cdk8s-plus adds is derived from the construct path; it is in no
      // selector here, and dropping it keeps the manifest free of names nobody chose.
      cdk8s.JsonPatch.remove('/spec/template/metadata/labels/cdk8s.io~1metadata.addr'),
      cdk8s.JsonPatch.add('/spec/template/spec/nodeSelector', { 'kubernetes.io/os': 'linux' }),
      // Not exposed by cdk8s-plus: the RuntimeDefault seccomp profile and no capabilities at all
      // (with the settings above, what the "restricted" Pod Security Standard asks for).
      cdk8s.JsonPatch.add('/spec/template/spec/securityContext/seccompProfile', { type: 'RuntimeDefault' }),
      cdk8s.JsonPatch.add('/spec/template/spec/containers/0/securityContext/capabilities', { drop: ['ALL'] }),
    ];
    if (electsLeader) {
      // Standbys on other nodes than the leader where the cluster allows: a node's loss then
      // leaves a replica ready to take the lease.
      const antiAffinity = {
        preferredDuringSchedulingIgnoredDuringExecution: [{
          weight: 100,
          podAffinityTerm: { labelSelector: { matchLabels: { ...COLLECTOR_SELECTOR } }, topologyKey: 'kubernetes.io/hostname' },
        }],
      };
      podPatches.push(props.nodeArchitecture !== undefined
        ? cdk8s.JsonPatch.add('/spec/template/spec/affinity/podAntiAffinity', antiAffinity)
        : cdk8s.JsonPatch.add('/spec/template/spec/affinity', { podAntiAffinity: antiAffinity }));
    }
    if (props.priorityClassName !== undefined) {
      podPatches.push(cdk8s.JsonPatch.add('/spec/template/spec/priorityClassName', props.priorityClassName));
    }
    if (props.bundle) {
      podPatches.push(...this.mountBundle(deployment, collector, props.image, props.bundle, bundleConfigMaps));
    }
    cdk8s.ApiObject.of(deployment).addJsonPatch(...podPatches);
    return deployment;
  }

  /** Bundle mode: one ConfigMap per part of the gzipped bundle, named by position. */
  private createBundleConfigMaps(bundle: CollectorBundleMount): kplus.ConfigMap[] {
    return bundle.parts.map((part, index) => new kplus.ConfigMap(this, `BundlePart${index}`, {
      metadata: { name: `${COLLECTOR_NAME}-bundle-${index}` },
      binaryData: { [part.key]: part.base64 },
    }));
  }

  /**
   * Bundle mode: the parts' ConfigMaps are projected into one read-only directory; an init
   * container joins and unpacks them into an emptyDir that the collector container reads.
   * Returns the patches for what cdk8s-plus cannot express (the projected volume).
   */
  private mountBundle(
    deployment: kplus.Deployment,
    collector: kplus.Container,
    image: string,
    bundle: CollectorBundleMount,
    configMaps: kplus.ConfigMap[],
  ): cdk8s.JsonPatch[] {
    const appVolume = kplus.Volume.fromEmptyDir(this, 'AppVolume', APP_VOLUME_NAME, { sizeLimit: cdk8s.Size.mebibytes(32) });
    collector.mount(bundle.appDir, appVolume, { readOnly: true });

    const unpack = deployment.addInitContainer({
      name: UNPACK_CONTAINER_NAME,
      image,
      imagePullPolicy: kplus.ImagePullPolicy.IF_NOT_PRESENT,
      command: bundle.unpackCommand,
      resources: {
        cpu: { request: kplus.Cpu.millis(10), limit: kplus.Cpu.millis(500) },
        memory: { request: cdk8s.Size.mebibytes(32), limit: cdk8s.Size.mebibytes(128) },
      },
      securityContext: HARDENED_CONTAINER,
    });
    unpack.mount(bundle.appDir, appVolume);
    deployment.podMetadata.addAnnotation(BUNDLE_SHA256_ANNOTATION, bundle.sha256);

    return [
      cdk8s.JsonPatch.add('/spec/template/spec/initContainers/0/securityContext/capabilities', { drop: ['ALL'] }),
      cdk8s.JsonPatch.add('/spec/template/spec/volumes/-', {
        name: BUNDLE_VOLUME_NAME,
        projected: {
          defaultMode: 0o444,
          sources: bundle.parts.map((part, index) => ({
            configMap: { name: configMaps[index].name, items: [{ key: part.key, path: part.key }] },
          })),
        },
      }),
      cdk8s.JsonPatch.add('/spec/template/spec/initContainers/0/volumeMounts/-', {
        name: BUNDLE_VOLUME_NAME,
        mountPath: bundle.partsDir,
        readOnly: true,
      }),
    ];
  }
}

/** The sizing's figures as Kubernetes quantities. */
function containerResources(size: SizedResources): kplus.ContainerResources {
  return {
    cpu: { request: kplus.Cpu.millis(size.cpuRequestMillicores), limit: kplus.Cpu.millis(size.cpuLimitMillicores) },
    memory: { request: cdk8s.Size.mebibytes(size.memoryRequestMiB), limit: cdk8s.Size.mebibytes(size.memoryLimitMiB) },
  };
}

/** Every container's security context (capabilities are dropped by a patch: see above). */
const HARDENED_CONTAINER: kplus.ContainerSecurityContextProps = {
  user: COLLECTOR_UID,
  group: COLLECTOR_UID,
  ensureNonRoot: true,
  readOnlyRootFilesystem: true,
  allowPrivilegeEscalation: false,
  privileged: false,
};

/**
 * The cdk8s chart that runs the collector in the cluster: its ServiceAccount, least-privilege RBAC
 * in the aws-node namespace, and a single-replica Deployment, hardened and with explicit resources.
 */
import { Token } from 'aws-cdk-lib';
import * as cdk8s from 'cdk8s';
import * as kplus from 'cdk8s-plus-27';
import { Construct } from 'constructs';
import { CniLogLevel, DEFAULTS, ENV, ScrapeMode } from '../common/settings';
import { CollectorBundleMount } from './collector-bundle';

/** The name of the Deployment, Role and RoleBinding, and the prefix of the bundle ConfigMaps. */
export const COLLECTOR_NAME = 'cni-metrics-helper';

/** The collector's namespace unless told otherwise: where upstream installs it, beside aws-node. */
export const COLLECTOR_NAMESPACE = 'kube-system';

/**
 * The Deployment's pod selector: upstream cni-metrics-helper's, so that applying this manifest over
 * an upstream install replaces it in place (a Deployment's selector cannot change).
 */
export const COLLECTOR_SELECTOR = { 'k8s-app': COLLECTOR_NAME } as const;

/** Labels on every object of the chart (and on the pods). */
export const COLLECTOR_LABELS = {
  'app.kubernetes.io/name': COLLECTOR_NAME,
  'app.kubernetes.io/instance': COLLECTOR_NAME,
} as const;

/** Pod annotation holding the bundle's sha256 in bundle mode: a new bundle rolls the pod. */
export const BUNDLE_SHA256_ANNOTATION = `${COLLECTOR_NAME}/bundle-sha256`;

/** The user and group the containers run as: 65532, the conventional "nonroot" id (runtime/Dockerfile). */
export const COLLECTOR_UID = 65532;

const CONTAINER_NAME = 'collector';
const UNPACK_CONTAINER_NAME = 'unpack-collector';
const BUNDLE_VOLUME_NAME = 'collector-bundle';
const APP_VOLUME_NAME = 'collector-app';

/** The collector's own limits on these settings (runtime/config.ts), checked here at synth. */
const LIMITS = {
  intervalSeconds: { min: 1, max: 86_400 },
  scrapeConcurrency: { min: 1, max: 10_000 },
  scrapeTimeoutMs: { min: 10, max: 600_000 },
} as const;

const LOG_LEVELS: readonly CniLogLevel[] = ['DEBUG', 'INFO', 'WARN', 'ERROR'];
const SCRAPE_MODES: readonly ScrapeMode[] = ['proxy', 'direct'];

export interface CollectorChartProps extends cdk8s.ChartProps {
  /** Name of the EKS cluster: the `CLUSTER_ID` dimension of every metric the collector publishes. */
  readonly clusterName: string;

  /** The collector's image reference, as resolved by `CollectorImage.bind()`. */
  readonly image: string;

  /**
   * Namespace of the collector's ServiceAccount and Deployment (and bundle ConfigMaps).
   *
   * @default 'kube-system'
   */
  readonly namespace?: string;

  /**
   * Name of the collector's ServiceAccount; with IRSA, the name in the IAM role's trust policy.
   *
   * @default 'cni-metrics-helper'
   */
  readonly serviceAccountName?: string;

  /**
   * Annotations on the ServiceAccount, e.g. `eks.amazonaws.com/role-arn` for IRSA.
   *
   * @default - none
   */
  readonly serviceAccountAnnotations?: Record<string, string>;

  /**
   * How the collector reaches each node's ipamd metrics: through the API server's pod proxy
   * (upstream's way, no network path to the nodes needed) or directly on the node's IP.
   *
   * The RBAC follows: `proxy` also grants `get` on `pods/proxy`.
   *
   * @default 'proxy'
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
   * @default - not set
   */
  readonly region?: string;

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
   * Serve the metrics for Prometheus on port 61681 (`USE_PROMETHEUS`).
   *
   * @default false
   */
  readonly usePrometheus?: boolean;

  /**
   * The collector's log level (`AWS_VPC_K8S_CNI_LOGLEVEL`).
   *
   * @default 'INFO'
   */
  readonly logLevel?: CniLogLevel;

  /**
   * Most nodes scraped at the same time (`SCRAPE_CONCURRENCY`).
   *
   * @default 64
   */
  readonly scrapeConcurrency?: number;

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
   * The collector container's CPU and memory.
   *
   * @default - requests 50m CPU and 64Mi memory, limits 1 CPU and 512Mi memory
   */
  readonly resources?: kplus.ContainerResources;

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
}

/** Each environment variable the chart writes, and how to change it instead of using extraEnv. */
const ENV_SET_BY_CHART: Readonly<Record<string, string>> = {
  [ENV.clusterId]: "use the prop 'clusterName'",
  [ENV.region]: "use the prop 'region'",
  [ENV.useCloudWatch]: "use the prop 'useCloudWatch'",
  [ENV.usePrometheus]: "use the prop 'usePrometheus'",
  [ENV.intervalSeconds]: "use the prop 'intervalSeconds'",
  [ENV.logLevel]: "use the prop 'logLevel'",
  [ENV.scrapeMode]: "use the prop 'scrapeMode'",
  [ENV.scrapeConcurrency]: "use the prop 'scrapeConcurrency'",
  [ENV.scrapeTimeoutMs]: "use the prop 'scrapeTimeoutMs'",
  [ENV.awsNodeNamespace]: "use the prop 'awsNodeNamespace'",
  [ENV.awsNodeLabelSelector]: "use the prop 'awsNodeLabelSelector'",
  [ENV.cloudWatchNamespace]: "use the prop 'cloudWatchNamespace'",
  [ENV.healthPort]: `it is fixed at ${DEFAULTS.healthPort}, the port of the probes`,
  [ENV.prometheusPort]: `it is fixed at ${DEFAULTS.prometheusPort}, the container's "metrics" port`,
};

/** The collector's ServiceAccount, RBAC and Deployment. */
export class CollectorChart extends cdk8s.Chart {
  public readonly serviceAccount: kplus.ServiceAccount;
  public readonly role: kplus.Role;
  public readonly deployment: kplus.Deployment;

  constructor(scope: Construct, id: string, props: CollectorChartProps) {
    const namespace = props.namespace ?? COLLECTOR_NAMESPACE;
    super(scope, id, { ...props, namespace, labels: { ...COLLECTOR_LABELS, ...props.labels } });

    const settings = {
      serviceAccountName: props.serviceAccountName ?? COLLECTOR_NAME,
      scrapeMode: props.scrapeMode ?? DEFAULTS.scrapeMode,
      intervalSeconds: props.intervalSeconds ?? DEFAULTS.intervalSeconds,
      useCloudWatch: props.useCloudWatch ?? DEFAULTS.useCloudWatch,
      usePrometheus: props.usePrometheus ?? DEFAULTS.usePrometheus,
      cloudWatchNamespace: props.cloudWatchNamespace ?? DEFAULTS.cloudWatchNamespace,
      logLevel: props.logLevel ?? DEFAULTS.logLevel,
      scrapeConcurrency: props.scrapeConcurrency ?? DEFAULTS.scrapeConcurrency,
      scrapeTimeoutMs: props.scrapeTimeoutMs ?? DEFAULTS.scrapeTimeoutMs,
      awsNodeNamespace: props.awsNodeNamespace ?? DEFAULTS.awsNodeNamespace,
      awsNodeLabelSelector: props.awsNodeLabelSelector ?? DEFAULTS.awsNodeLabelSelector,
    };
    validateProps(props, namespace, settings);

    // The collector lists pods and proxies to them through the API server, so it needs its token:
    // cdk8s-plus turns the mount off by default, on the ServiceAccount and on the pod.
    this.serviceAccount = new kplus.ServiceAccount(this, 'ServiceAccount', {
      metadata: { name: settings.serviceAccountName, annotations: props.serviceAccountAnnotations },
      automountToken: true,
    });

    this.role = this.createRole(settings.awsNodeNamespace, settings.scrapeMode);

    const env: Record<string, string> = {
      [ENV.clusterId]: props.clusterName,
      ...(props.region !== undefined ? { [ENV.region]: props.region } : {}),
      [ENV.useCloudWatch]: String(settings.useCloudWatch),
      [ENV.usePrometheus]: String(settings.usePrometheus),
      [ENV.intervalSeconds]: String(settings.intervalSeconds),
      [ENV.logLevel]: settings.logLevel,
      [ENV.scrapeMode]: settings.scrapeMode,
      [ENV.scrapeConcurrency]: String(settings.scrapeConcurrency),
      [ENV.scrapeTimeoutMs]: String(settings.scrapeTimeoutMs),
      [ENV.awsNodeNamespace]: settings.awsNodeNamespace,
      [ENV.awsNodeLabelSelector]: settings.awsNodeLabelSelector,
      [ENV.cloudWatchNamespace]: settings.cloudWatchNamespace,
      [ENV.healthPort]: String(DEFAULTS.healthPort),
      ...(settings.usePrometheus ? { [ENV.prometheusPort]: String(DEFAULTS.prometheusPort) } : {}),
      ...props.extraEnv,
    };
    // The bundle's ConfigMaps come before the Deployment that mounts them.
    const bundleConfigMaps = props.bundle ? this.createBundleConfigMaps(props.bundle) : [];
    this.deployment = this.createDeployment(props, env, settings.usePrometheus, bundleConfigMaps);
  }

  /**
   * Exactly what the collector calls, in the aws-node namespace only: `list` pods (discovery is a
   * paginated list with a label selector; no `get` or `watch`), and in proxy mode `get` on
   * `pods/proxy` (each scrape is a GET through the pod proxy). Direct mode reaches ipamd on the
   * node's IP, outside the API server, so it gets no proxy right.
   */
  private createRole(awsNodeNamespace: string, scrapeMode: ScrapeMode): kplus.Role {
    const role = new kplus.Role(this, 'AwsNodePodsRole', {
      metadata: { name: COLLECTOR_NAME, namespace: awsNodeNamespace },
    });
    role.allow(['list'], kplus.ApiResource.PODS);
    if (scrapeMode === 'proxy') {
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
    usePrometheus: boolean,
    bundleConfigMaps: kplus.ConfigMap[],
  ): kplus.Deployment {
    const deployment = new kplus.Deployment(this, 'Deployment', {
      metadata: { name: COLLECTOR_NAME },
      // One replica, replaced (not rolled) on update: there is no leader election, and two
      // collectors at once would publish every metric twice.
      replicas: 1,
      strategy: kplus.DeploymentStrategy.recreate(),
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
      envVariables: Object.fromEntries(Object.entries(env).map(([name, value]) => [name, kplus.EnvValue.fromValue(value)])),
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
      // cdk8s-plus would request a whole CPU and 512Mi; the collector needs a fraction of that.
      // The limits leave room for large clusters: at 10,000 nodes a cycle peaks at about 330 MiB
      // and 4-6 s of CPU (bench/RESULTS.md); a tighter CPU limit only stretches the cycle.
      resources: props.resources ?? {
        cpu: { request: kplus.Cpu.millis(50), limit: kplus.Cpu.millis(1000) },
        memory: { request: cdk8s.Size.mebibytes(64), limit: cdk8s.Size.mebibytes(512) },
      },
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

/** Every container's security context (capabilities are dropped by a patch: see above). */
const HARDENED_CONTAINER: kplus.ContainerSecurityContextProps = {
  user: COLLECTOR_UID,
  group: COLLECTOR_UID,
  ensureNonRoot: true,
  readOnlyRootFilesystem: true,
  allowPrivilegeEscalation: false,
  privileged: false,
};

interface ResolvedSettings {
  readonly serviceAccountName: string;
  readonly scrapeMode: string;
  readonly intervalSeconds: number;
  readonly useCloudWatch: boolean;
  readonly usePrometheus: boolean;
  readonly cloudWatchNamespace: string;
  readonly logLevel: string;
  readonly scrapeConcurrency: number;
  readonly scrapeTimeoutMs: number;
  readonly awsNodeNamespace: string;
  readonly awsNodeLabelSelector: string;
}

const DNS_LABEL = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/;
const DNS_SUBDOMAIN = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$/;
const ENV_NAME = /^[A-Za-z_][A-Za-z0-9_]*$/;

/** The name part of label and annotation keys, and a non-empty label value: up to 63 characters. */
const LABEL_NAME = '[A-Za-z0-9](?:[-A-Za-z0-9_.]{0,61}[A-Za-z0-9])?';
/** A label or annotation key: an optional DNS subdomain prefix and '/', then a name. */
const QUALIFIED_NAME = `(?:${DNS_SUBDOMAIN.source.slice(1, -1)}/)?${LABEL_NAME}`;
const LABEL_KEY = new RegExp(`^${QUALIFIED_NAME}$`);
const LABEL_VALUE = new RegExp(`^(?:${LABEL_NAME})?$`);
const NAME_RULE = 'a name is up to 63 letters, digits, "-", "_" and ".", starting and ending with a letter or digit';

/**
 * The label selector syntax the API server parses (k8s.io/apimachinery labels.Parse): requirements
 * joined by commas, each `key`, `!key`, `key=value` (or `==`, `!=`), `key in (values)`,
 * `key notin (values)` or `key > n` / `key < n`; keys are [prefix/]name, values names or empty.
 */
const LABEL_SELECTOR = (() => {
  const value = `(?:${LABEL_NAME})?`;
  const operation = `\\s*(?:==?|!=)\\s*${value}|\\s*[<>]\\s*-?\\d+|\\s+(?:in|notin)\\s*\\(\\s*${value}(?:\\s*,\\s*${value})*\\s*\\)`;
  const requirement = `\\s*(?:!\\s*${QUALIFIED_NAME}|${QUALIFIED_NAME}(?:${operation})?)\\s*`;
  return new RegExp(`^${requirement}(?:,${requirement})*$`);
})();

/** Throws on the first bad prop, naming it, the value, the rule and the fix. Tokens are not checked. */
function validateProps(props: CollectorChartProps, namespace: string, settings: ResolvedSettings): void {
  const fail = (prop: string, rule: string, value: unknown): never => {
    throw new Error(`CollectorChart: '${prop}' ${rule}, got ${JSON.stringify(value)}`);
  };
  const known = (value: string) => !Token.isUnresolved(value);

  if (known(props.clusterName) && props.clusterName.trim() === '') {
    fail('clusterName', "must be the EKS cluster's name (it is the CLUSTER_ID dimension of every metric)", props.clusterName);
  }
  if (known(props.image) && (props.image.trim() === '' || /\s/.test(props.image))) {
    fail('image', 'must be an image reference: use CollectorImage.bind(scope).imageUri', props.image);
  }
  if (known(namespace) && !isDnsLabel(namespace)) {
    fail('namespace', 'must be a Kubernetes namespace name (lower-case letters, digits and "-", at most 63)', namespace);
  }
  if (known(settings.awsNodeNamespace) && !isDnsLabel(settings.awsNodeNamespace)) {
    fail('awsNodeNamespace', 'must be a Kubernetes namespace name (lower-case letters, digits and "-", at most 63)', settings.awsNodeNamespace);
  }
  if (known(settings.serviceAccountName) && !isDnsSubdomain(settings.serviceAccountName)) {
    fail('serviceAccountName', 'must be a DNS subdomain name (lower-case letters, digits, "-" and ".", at most 253)', settings.serviceAccountName);
  }
  if (props.priorityClassName !== undefined && known(props.priorityClassName) && !isDnsSubdomain(props.priorityClassName)) {
    fail('priorityClassName', 'must be the name of a PriorityClass (a DNS subdomain name)', props.priorityClassName);
  }
  if (!SCRAPE_MODES.includes(settings.scrapeMode as ScrapeMode)) {
    fail('scrapeMode', `must be one of ${SCRAPE_MODES.join(', ')}`, settings.scrapeMode);
  }
  if (!LOG_LEVELS.includes(settings.logLevel as CniLogLevel)) {
    fail('logLevel', `must be one of ${LOG_LEVELS.join(', ')}`, settings.logLevel);
  }
  for (const prop of ['intervalSeconds', 'scrapeConcurrency', 'scrapeTimeoutMs'] as const) {
    const { min, max } = LIMITS[prop];
    const value = settings[prop];
    if (!Number.isInteger(value) || value < min || value > max) {
      fail(prop, `must be a whole number from ${min} to ${max}`, value);
    }
  }
  if (known(settings.awsNodeLabelSelector) && settings.awsNodeLabelSelector.trim() === '') {
    fail('awsNodeLabelSelector', 'must select the aws-node pods, e.g. k8s-app=aws-node', settings.awsNodeLabelSelector);
  }
  if (known(settings.awsNodeLabelSelector) && !LABEL_SELECTOR.test(settings.awsNodeLabelSelector)) {
    // The API server would answer every pod list with 400 Bad Request, and the collector would never see a node.
    fail('awsNodeLabelSelector', 'must be a Kubernetes label selector: requirements such as k8s-app=aws-node, key!=value, ' +
      'key in (a,b), key notin (a,b), key or !key, joined by commas', settings.awsNodeLabelSelector);
  }
  if (known(settings.cloudWatchNamespace)) {
    const ns = settings.cloudWatchNamespace;
    if (ns.trim() === '' || ns.length > 255 || ns.startsWith('AWS/')) {
      fail('cloudWatchNamespace', 'must be a CloudWatch namespace of 1 to 255 characters not starting with "AWS/"', ns);
    }
  }
  if (!settings.useCloudWatch && !settings.usePrometheus) {
    fail('useCloudWatch', 'is false while usePrometheus is false too, so nothing would be published; turn one on', false);
  }
  if (settings.useCloudWatch && props.region === undefined) {
    fail('region', 'is required while CloudWatch publishing is on (the collector will not start without AWS_REGION); ' +
      'pass the cluster\'s region, e.g. Stack.of(this).region, or set useCloudWatch: false', props.region);
  }
  if (props.region !== undefined && known(props.region) && !/^[a-z]{2}(-[a-z]+)+-\d+$/.test(props.region)) {
    fail('region', 'must be an AWS region such as eu-west-1', props.region);
  }
  for (const { what, request, limit } of resourceAmounts(props.resources)) {
    // Kubernetes refuses a pod whose request is above its limit, at apply time.
    if (request !== undefined && limit !== undefined && request.amount > limit.amount) {
      fail('resources', `${what} request must not be above its limit`, `request ${request.shown}, limit ${limit.shown}`);
    }
  }
  // The API server refuses objects with such labels or annotations, at apply time.
  for (const [key, value] of Object.entries(props.labels ?? {})) {
    if (known(key) && !LABEL_KEY.test(key)) fail('labels', `keys must be [prefix/]name (${NAME_RULE})`, key);
    if (known(value) && !LABEL_VALUE.test(value)) fail('labels', `values must be empty or a name (${NAME_RULE})`, value);
  }
  for (const key of Object.keys(props.serviceAccountAnnotations ?? {})) {
    if (known(key) && !LABEL_KEY.test(key)) fail('serviceAccountAnnotations', `keys must be [prefix/]name (${NAME_RULE})`, key);
  }
  for (const name of Object.keys(props.extraEnv ?? {})) {
    if (!ENV_NAME.test(name)) fail('extraEnv', 'keys must be environment variable names (letters, digits, "_")', name);
    const instead = ENV_SET_BY_CHART[name];
    if (instead !== undefined) fail('extraEnv', `may not set ${name}, which the chart sets itself (${instead})`, name);
  }
}

/** A resource quantity as a comparable number, and as the manifest shows it. */
interface Quantity {
  readonly amount: number;
  readonly shown: string;
}

/** The requests and limits given: CPU in millicores, memory and ephemeral storage in KiB; forms it cannot read are left out. */
function resourceAmounts(resources: kplus.ContainerResources | undefined): { what: string; request?: Quantity; limit?: Quantity }[] {
  const millicores = (value: kplus.Cpu | undefined): Quantity | undefined => {
    if (value === undefined || Token.isUnresolved(value.amount)) return undefined;
    const parts = /^(\d+(?:\.\d+)?)(m?)$/.exec(value.amount);
    return parts ? { amount: Number(parts[1]) * (parts[2] ? 1 : 1000), shown: value.amount } : undefined;
  };
  const kibibytes = (value: cdk8s.Size | undefined): Quantity | undefined => {
    if (value === undefined) return undefined;
    const amount = value.toKibibytes({ rounding: cdk8s.SizeRoundingBehavior.NONE });
    return { amount, shown: `${amount}Ki` };
  };
  return [
    { what: 'cpu', request: millicores(resources?.cpu?.request), limit: millicores(resources?.cpu?.limit) },
    { what: 'memory', request: kibibytes(resources?.memory?.request), limit: kibibytes(resources?.memory?.limit) },
    { what: 'ephemeralStorage', request: kibibytes(resources?.ephemeralStorage?.request), limit: kibibytes(resources?.ephemeralStorage?.limit) },
  ];
}

function isDnsLabel(value: string): boolean {
  return value.length <= 63 && DNS_LABEL.test(value);
}

function isDnsSubdomain(value: string): boolean {
  return value.length <= 253 && DNS_SUBDOMAIN.test(value);
}

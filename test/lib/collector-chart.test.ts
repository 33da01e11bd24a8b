import { execFileSync } from 'child_process';
import * as crypto from 'crypto';
import * as fs from 'fs';
import * as path from 'path';
import { Lazy, Token } from 'aws-cdk-lib';
import { Size, Testing } from 'cdk8s';
import * as kplus from 'cdk8s-plus-27';
import { CollectorChart, CollectorChartProps } from '../../lib/collector-chart';
import { CollectorLogLevel, ScrapeMode } from '../../lib/collector-settings';
import { BUNDLE_PART_BYTES, packCollectorBundle } from '../../lib/collector-bundle';
import { loadConfig } from '../../runtime/config';
import { DEFAULTS, ENV } from '../../common/settings';
import { NODE_OPTIONS_ENV } from '../../lib/private/collector-chart-validation';
import { schemaErrors } from '../support/kubernetes-schema';
import { tempDirMaker } from './temp-app';

const BASE_PROPS: CollectorChartProps = { clusterName: 'demo-cluster', image: 'example.com/cni-metrics-helper:1.0.0', region: 'eu-west-1' };

function synth(props: Partial<CollectorChartProps> = {}): any[] {
  return Testing.synth(new CollectorChart(Testing.app(), 'Collector', { ...BASE_PROPS, ...props }));
}

function find(docs: any[], kind: string): any[] {
  return docs.filter((doc) => doc.kind === kind);
}

function only(docs: any[], kind: string): any {
  const found = find(docs, kind);
  expect(found).toHaveLength(1);
  return found[0];
}

function podSpec(docs: any[]): any {
  return only(docs, 'Deployment').spec.template.spec;
}

function collectorContainer(docs: any[]): any {
  return podSpec(docs).containers.find((c: any) => c.name === 'collector');
}

function envOf(container: any): Record<string, string> {
  return Object.fromEntries(container.env.map((e: any) => [e.name, e.value]));
}


const tempDir = tempDirMaker('collector-chart-test-');

/** A bundle file of `size` bytes that gzip cannot shrink, so it spans several parts. */
function incompressibleBundle(size: number): string {
  const file = path.join(tempDir(), 'collector.js');
  // Deterministic bytes gzip cannot shrink: AES-CTR keystream from a fixed key.
  const key = Buffer.alloc(16, 7);
  fs.writeFileSync(file, crypto.createCipheriv('aes-128-ctr', key, Buffer.alloc(16)).update(Buffer.alloc(size)));
  return file;
}

describe('CollectorChart', () => {
  test('synthesizes the default chart as snapshotted', () => {
    expect(synth()).toMatchSnapshot();
  });

  test('gives every object a chosen name, with no construct-path hashes anywhere', () => {
    // WHEN
    const docs = synth();

    // THEN
    expect(docs.map((doc) => `${doc.kind}/${doc.metadata.namespace}/${doc.metadata.name}`)).toEqual([
      'ServiceAccount/kube-system/cni-metrics-helper',
      'Role/kube-system/cni-metrics-helper',
      'RoleBinding/kube-system/cni-metrics-helper',
      'Deployment/kube-system/cni-metrics-helper',
    ]);
    expect(JSON.stringify(docs)).not.toMatch(/cdk8s\.io\/metadata\.addr|-c8[0-9a-f]{6}\b/);
  });

  test('is deterministic: the same props give the same manifests', () => {
    expect(synth({ scrapeMode: ScrapeMode.DIRECT, usePrometheus: true })).toEqual(synth({ scrapeMode: ScrapeMode.DIRECT, usePrometheus: true }));
  });

  test('passes the Kubernetes schema validation in every mode', () => {
    // GIVEN every shape the chart can take
    const variants = [
      synth(),
      synth({ scrapeMode: ScrapeMode.DIRECT }),
      synth({
        usePrometheus: true,
        useCloudWatch: false,
        region: undefined,
        priorityClassName: 'system-cluster-critical',
        serviceAccountAnnotations: { 'eks.amazonaws.com/role-arn': 'arn:aws:iam::123456789012:role/cni-metrics' },
        extraEnv: { SCRAPE_MAX_BYTES: '1048576' },
      }),
      synth({ image: 'public.ecr.aws/docker/library/node:20.20.2-alpine3.23', bundle: packCollectorBundle(incompressibleBundle(300_000)) }),
    ];

    // WHEN
    const errors = schemaErrors(variants.flat());

    // THEN
    expect(errors).toEqual([]);
  });

  test('catches a manifest the schema rejects (the validation itself works)', () => {
    const docs = synth();
    const deployment = only(docs, 'Deployment');
    deployment.spec.replicas = 'one';
    expect(schemaErrors([deployment])).toEqual([expect.stringMatching(/Deployment cni-metrics-helper: .*replicas must be integer/)]);
  });

  describe('RBAC', () => {
    test('in proxy mode grants list on pods and get on pods/proxy, in the aws-node namespace only', () => {
      // WHEN
      const docs = synth({ scrapeMode: ScrapeMode.PROXY });

      // THEN
      const role = only(docs, 'Role');
      expect(role.metadata.namespace).toBe('kube-system');
      expect(role.rules).toEqual([
        { apiGroups: [''], resources: ['pods'], verbs: ['list', 'watch'] },
        { apiGroups: [''], resources: ['pods/proxy'], verbs: ['get'] },
      ]);
      expect(find(docs, 'ClusterRole')).toEqual([]);
      expect(find(docs, 'ClusterRoleBinding')).toEqual([]);
    });

    test('in direct mode grants only list and watch on pods: no pods/proxy', () => {
      // WHEN
      const docs = synth({ scrapeMode: ScrapeMode.DIRECT });

      // THEN
      expect(only(docs, 'Role').rules).toEqual([{ apiGroups: [''], resources: ['pods'], verbs: ['list', 'watch'] }]);
      expect(JSON.stringify(docs)).not.toContain('pods/proxy');
    });

    test('matches the snapshot in proxy and in direct mode', () => {
      const rbac = (docs: any[]) => docs.filter((doc) => doc.kind === 'Role' || doc.kind === 'RoleBinding');
      expect({ proxy: rbac(synth({ scrapeMode: ScrapeMode.PROXY })), direct: rbac(synth({ scrapeMode: ScrapeMode.DIRECT })) }).toMatchSnapshot();
    });

    test('puts the Role and RoleBinding in awsNodeNamespace and binds the ServiceAccount of the collector namespace', () => {
      // WHEN
      const docs = synth({ namespace: 'monitoring', awsNodeNamespace: 'aws-cni', serviceAccountName: 'cni-metrics' });

      // THEN
      expect(only(docs, 'Role').metadata.namespace).toBe('aws-cni');
      const binding = only(docs, 'RoleBinding');
      expect(binding.metadata.namespace).toBe('aws-cni');
      expect(binding.roleRef).toEqual({ apiGroup: 'rbac.authorization.k8s.io', kind: 'Role', name: 'cni-metrics-helper' });
      expect(binding.subjects).toEqual([{ apiGroup: '', kind: 'ServiceAccount', name: 'cni-metrics', namespace: 'monitoring' }]);
      expect(only(docs, 'Deployment').metadata.namespace).toBe('monitoring');
      expect(envOf(collectorContainer(docs))[ENV.awsNodeNamespace]).toBe('aws-cni');
    });
  });

  describe('ServiceAccount', () => {
    test('mounts its token, because the collector calls the API server', () => {
      const docs = synth();
      expect(only(docs, 'ServiceAccount').automountServiceAccountToken).toBe(true);
      expect(podSpec(docs).automountServiceAccountToken).toBe(true);
      expect(podSpec(docs).serviceAccountName).toBe('cni-metrics-helper');
    });

    test('carries the IRSA role annotation it is given', () => {
      const annotations = { 'eks.amazonaws.com/role-arn': 'arn:aws:iam::123456789012:role/cni-metrics' };
      expect(only(synth({ serviceAccountAnnotations: annotations }), 'ServiceAccount').metadata.annotations).toEqual(annotations);
    });
  });

  describe('Deployment', () => {
    test('runs one replica, recreated on update, selected by a stable label', () => {
      const deployment = only(synth(), 'Deployment');
      expect(deployment.spec.replicas).toBe(1);
      expect(deployment.spec.strategy).toEqual({ type: 'Recreate' });
      expect(deployment.spec.selector).toEqual({ matchLabels: { 'k8s-app': 'cni-metrics-helper' } });
      expect(deployment.spec.template.metadata.labels).toEqual({
        'k8s-app': 'cni-metrics-helper',
        'app.kubernetes.io/name': 'cni-metrics-helper',
        'app.kubernetes.io/instance': 'cni-metrics-helper',
      });
    });

    test('hardens the pod and every container', () => {
      // WHEN
      const spec = podSpec(synth({ bundle: packCollectorBundle(incompressibleBundle(1000)) }));

      // THEN the pod
      expect(spec.securityContext).toMatchObject({
        runAsNonRoot: true,
        runAsUser: 65532,
        runAsGroup: 65532,
        seccompProfile: { type: 'RuntimeDefault' },
      });
      expect(spec.hostNetwork).toBe(false);
      expect(spec.nodeSelector).toEqual({ 'kubernetes.io/os': 'linux' });
      // AND each container, the unpack init container included
      const containers = [...spec.containers, ...spec.initContainers];
      expect(containers.map((c: any) => c.name)).toEqual(['collector', 'unpack-collector']);
      for (const container of containers) {
        expect(container.securityContext).toEqual({
          runAsNonRoot: true,
          runAsUser: 65532,
          runAsGroup: 65532,
          readOnlyRootFilesystem: true,
          allowPrivilegeEscalation: false,
          privileged: false,
          capabilities: { drop: ['ALL'] },
        });
        expect(container.imagePullPolicy).toBe('IfNotPresent');
      }
    });

    test('by default requests little and limits for 100,000 nodes, and sets the resources given otherwise', () => {
      // common/sizing.ts at 100,000 nodes, proxy: CPU 35 s a cycle / 15 s = 2333.3m → 2340m (3 workers);
      // memory 140 + 100,000 × 6 KiB + 334 × 0.2 MiB + 3 × 80 MiB = 1032.7 → 1088Mi. Requests at their floors.
      expect(collectorContainer(synth()).resources).toEqual({
        requests: { cpu: '50m', memory: '64Mi' },
        limits: { cpu: '2340m', memory: '1088Mi' },
      });
      const resources = { cpu: { request: kplus.Cpu.millis(100) }, memory: { request: Size.mebibytes(128), limit: Size.mebibytes(512) } };
      expect(collectorContainer(synth({ resources })).resources).toEqual({
        requests: { cpu: '100m', memory: '128Mi' },
        limits: { memory: '512Mi' },
      });
    });

    test('probes /healthz and /readyz on the health port the collector is told to serve', () => {
      const container = collectorContainer(synth());
      expect(container.livenessProbe.httpGet).toEqual({ path: '/healthz', port: DEFAULTS.healthPort, scheme: 'HTTP' });
      expect(container.readinessProbe.httpGet).toEqual({ path: '/readyz', port: DEFAULTS.healthPort, scheme: 'HTTP' });
      expect(envOf(container)[ENV.healthPort]).toBe(String(DEFAULTS.healthPort));
      expect(container.ports).toEqual([{ containerPort: DEFAULTS.healthPort, name: 'health' }]);
    });

    test('exposes the Prometheus port only when Prometheus is on', () => {
      const container = collectorContainer(synth({ usePrometheus: true }));
      expect(container.ports).toContainEqual({ containerPort: DEFAULTS.prometheusPort, name: 'metrics' });
      expect(envOf(container)[ENV.prometheusPort]).toBe(String(DEFAULTS.prometheusPort));
      expect(envOf(collectorContainer(synth()))).not.toHaveProperty(ENV.prometheusPort);
    });

    test('sets priorityClassName only when given', () => {
      expect(podSpec(synth())).not.toHaveProperty('priorityClassName');
      expect(podSpec(synth({ priorityClassName: 'system-cluster-critical' })).priorityClassName).toBe('system-cluster-critical');
    });

    test('runs the image entry point (no command) when the image holds the collector', () => {
      expect(collectorContainer(synth())).not.toHaveProperty('command');
      expect(podSpec(synth())).not.toHaveProperty('initContainers');
      expect(podSpec(synth())).not.toHaveProperty('volumes');
    });
  });

  describe('environment', () => {
    test('names only variables of the collector settings (ENV)', () => {
      const names = Object.keys(envOf(collectorContainer(synth({ usePrometheus: true }))));
      // NODE_OPTIONS is Node's own (the heap cap), not a collector setting.
      expect(names.filter((name) => !(Object.values(ENV) as string[]).includes(name))).toEqual([NODE_OPTIONS_ENV]);
      expect(names).toEqual([
        ENV.clusterId,
        ENV.region,
        ENV.useCloudWatch,
        ENV.usePrometheus,
        ENV.intervalSeconds,
        ENV.logLevel,
        ENV.scrapeMode,
        ENV.scrapeConcurrency,
        ENV.scrapeWorkers,
        ENV.scrapeTimeoutMs,
        ENV.awsNodeNamespace,
        ENV.awsNodeLabelSelector,
        ENV.cloudWatchNamespace,
        ENV.healthPort,
        ENV.prometheusPort,
        NODE_OPTIONS_ENV,
      ]);
    });

    test('writes the props, and the collector defaults for the rest', () => {
      const env = envOf(collectorContainer(synth({ intervalSeconds: 60, scrapeMode: ScrapeMode.DIRECT, logLevel: CollectorLogLevel.DEBUG })));
      expect(env).toMatchObject({
        [ENV.clusterId]: 'demo-cluster',
        [ENV.region]: 'eu-west-1',
        [ENV.intervalSeconds]: '60',
        [ENV.scrapeMode]: 'direct',
        [ENV.logLevel]: 'DEBUG',
        [ENV.useCloudWatch]: 'true',
        [ENV.usePrometheus]: 'false',
        // Sized for 100,000 nodes at 60 s: (100,000 × 20 ms + 1,000 × 3 s) / 30 s = 166.7 → 167.
        [ENV.scrapeConcurrency]: '167',
        [ENV.scrapeTimeoutMs]: String(DEFAULTS.scrapeTimeoutMs),
        [ENV.awsNodeLabelSelector]: DEFAULTS.awsNodeLabelSelector,
        [ENV.cloudWatchNamespace]: DEFAULTS.cloudWatchNamespace,
      });
    });

    test('is accepted by the collector configuration loader', () => {
      // GIVEN the environment the container gets
      const env = envOf(collectorContainer(synth({ usePrometheus: true, intervalSeconds: 45, extraEnv: { SCRAPE_MAX_BYTES: '2097152' } })));

      // WHEN the collector reads it
      const config = loadConfig(env);

      // THEN it means what the props said
      expect(config).toMatchObject({
        clusterId: 'demo-cluster',
        region: 'eu-west-1',
        useCloudWatch: true,
        usePrometheus: true,
        intervalSeconds: 45,
        scrapeMode: 'proxy',
        scrapeMaxBytes: 2097152,
        healthPort: DEFAULTS.healthPort,
        prometheusPort: DEFAULTS.prometheusPort,
      });
    });

    test('adds extraEnv after its own variables', () => {
      const env = collectorContainer(synth({ extraEnv: { SCRAPE_MAX_BYTES: '1024', POD_LIST_PAGE_SIZE: '250' } })).env;
      expect(env.slice(-3)).toEqual([
        { name: NODE_OPTIONS_ENV, value: '--max-old-space-size=707 --max-semi-space-size=32' },
        { name: 'SCRAPE_MAX_BYTES', value: '1024' },
        { name: 'POD_LIST_PAGE_SIZE', value: '250' },
      ]);
    });
  });

  describe('bundle mode', () => {
    test('splits the bundle into ConfigMaps under the annotation limit, before the Deployment', () => {
      // GIVEN a bundle that gzip cannot shrink, about 2.3 parts long
      const bundle = packCollectorBundle(incompressibleBundle(300_000));

      // WHEN
      const docs = synth({ bundle });

      // THEN one ConfigMap per part, each small enough for client-side apply's annotation copy
      const configMaps = find(docs, 'ConfigMap');
      expect(configMaps.map((c) => c.metadata.name)).toEqual(['cni-metrics-helper-bundle-0', 'cni-metrics-helper-bundle-1', 'cni-metrics-helper-bundle-2']);
      for (const configMap of configMaps) {
        expect(Buffer.byteLength(JSON.stringify(configMap))).toBeLessThan(256 * 1024 - 4096);
        expect(Object.values<string>(configMap.binaryData).every((b64) => Buffer.from(b64, 'base64').length <= BUNDLE_PART_BYTES)).toBe(true);
      }
      expect(docs.findIndex((doc) => doc.kind === 'Deployment')).toBeGreaterThan(docs.findIndex((doc) => doc.kind === 'ConfigMap'));
    });

    test('projects the parts into the unpack container and runs the unpacked file', () => {
      // GIVEN
      const bundle = packCollectorBundle(incompressibleBundle(300_000));

      // WHEN
      const docs = synth({ bundle, image: 'node-image:20' });

      // THEN
      const spec = podSpec(docs);
      const partsVolume = spec.volumes.find((v: any) => v.name === 'collector-bundle');
      expect(partsVolume.projected.sources).toEqual(
        bundle.parts.map((part, index) => ({
          configMap: { name: `cni-metrics-helper-bundle-${index}`, items: [{ key: part.key, path: part.key }] },
        })),
      );
      expect(spec.volumes.find((v: any) => v.name === 'collector-app')).toEqual({ name: 'collector-app', emptyDir: { sizeLimit: '32Mi' } });
      const [unpack] = spec.initContainers;
      expect(unpack.image).toBe('node-image:20');
      expect(unpack.command).toEqual(bundle.unpackCommand);
      expect(unpack.volumeMounts).toEqual([
        { name: 'collector-app', mountPath: bundle.appDir },
        { name: 'collector-bundle', mountPath: bundle.partsDir, readOnly: true },
      ]);
      const collector = collectorContainer(docs);
      expect(collector.command).toEqual(['node', '/app/collector.js']);
      expect(collector.volumeMounts).toEqual([{ name: 'collector-app', mountPath: bundle.appDir, readOnly: true }]);
      expect(only(docs, 'Deployment').spec.template.metadata.annotations).toEqual({ 'cni-metrics-helper/bundle-sha256': bundle.sha256 });
    });
  });

  describe('validation', () => {
    test.each<[string, Partial<CollectorChartProps>, RegExp]>([
      ['an empty clusterName', { clusterName: ' ' }, /^cni-metrics-helper: clusterName: must be an EKS cluster name .*, got " " — /],
      ['an empty image', { image: '' }, /^cni-metrics-helper: image: must be an image reference, got "" — /],
      ['a fractional intervalSeconds', { intervalSeconds: 1.5 }, /^cni-metrics-helper: intervalSeconds: must be a whole number from 1 to 86400 \(whole seconds\), got 1.5 — leave it out for the default, 30$/],
      ['a zero intervalSeconds', { intervalSeconds: 0 }, /^cni-metrics-helper: intervalSeconds: must be a whole number from 1 to 86400 .*, got 0 — /],
      ['a zero scrapeConcurrency', { scrapeConcurrency: 0 }, /^cni-metrics-helper: scrapeConcurrency: must be a whole number from 1 to 10000/],
      ['a tiny scrapeTimeoutMs', { scrapeTimeoutMs: 5 }, /^cni-metrics-helper: scrapeTimeoutMs: must be a whole number from 10 to 600000 \(milliseconds\), got 5/],
      ['an unknown scrapeMode', { scrapeMode: 'ssh' as any }, /^cni-metrics-helper: scrapeMode: must be one of proxy, direct, got "ssh" — use ScrapeMode.PROXY or ScrapeMode.DIRECT$/],
      ['an unknown logLevel', { logLevel: 'TRACE' as any }, /^cni-metrics-helper: logLevel: must be one of DEBUG, INFO, WARN, ERROR, got "TRACE" — use CollectorLogLevel/],
      ['an invalid namespace', { namespace: 'Kube_System' }, /^cni-metrics-helper: namespace: must be a Kubernetes namespace name.*got "Kube_System"/],
      ['an invalid awsNodeNamespace', { awsNodeNamespace: '-x' }, /^cni-metrics-helper: awsNodeNamespace: must be a Kubernetes namespace name/],
      ['an invalid serviceAccountName', { serviceAccountName: 'Has Spaces' }, /^cni-metrics-helper: serviceAccountName: must be a Kubernetes object name \(a DNS subdomain/],
      ['an invalid priorityClassName', { priorityClassName: 'High' }, /^cni-metrics-helper: priorityClassName: must be the name of a PriorityClass/],
      ['an empty awsNodeLabelSelector', { awsNodeLabelSelector: '' }, /^cni-metrics-helper: awsNodeLabelSelector: must be a Kubernetes label selector.*got "" — e.g. 'k8s-app=aws-node'$/],
      ['a reserved cloudWatchNamespace', { cloudWatchNamespace: 'AWS/EKS' }, /^cni-metrics-helper: cloudWatchNamespace: must not start with 'AWS\/'.*, got "AWS\/EKS" — choose another CloudWatch namespace/],
      ['no region while CloudWatch is on', { region: undefined }, /^cni-metrics-helper: region: is required while CloudWatch publishing is on.*Stack.of\(this\).region.*useCloudWatch: false/],
      ['a malformed region', { region: 'Ireland' }, /^cni-metrics-helper: region: must be an AWS region, got "Ireland" — e.g. eu-west-1/],
      ['both sinks off', { useCloudWatch: false, usePrometheus: false }, /^cni-metrics-helper: useCloudWatch: is false while usePrometheus is false too, so nothing would be published/],
      ['extraEnv setting a prop variable', { extraEnv: { METRIC_UPDATE_INTERVAL: '10' } }, /^cni-metrics-helper: extraEnv: may not set METRIC_UPDATE_INTERVAL, which the chart sets itself, got "METRIC_UPDATE_INTERVAL" — set the prop intervalSeconds instead$/],
      ['extraEnv setting the health port', { extraEnv: { HEALTH_PORT: '8080' } }, /^cni-metrics-helper: extraEnv: may not set HEALTH_PORT.*fixed at 61682/],
      ['extraEnv with a bad name', { extraEnv: { 'NOT-A-NAME': 'x' } }, /^cni-metrics-helper: extraEnv: keys must be environment variable names/],
    ])('rejects %s, naming the prop', (_case, props, message) => {
      expect(() => synth(props)).toThrow(message);
    });

    test('does not validate values that are CDK tokens (known only at deploy time)', () => {
      // GIVEN the cluster name and region of a cluster in the same app
      const clusterName = Lazy.string({ produce: () => 'resolved-later' });
      const region = Lazy.string({ produce: () => 'eu-west-1' });

      // WHEN
      const env = envOf(collectorContainer(synth({ clusterName, region })));

      // THEN the tokens pass through for CloudFormation to resolve
      expect(env[ENV.clusterId]).toBe(clusterName);
      expect(env[ENV.region]).toBe(region);
    });

    test('accepts a chart without CloudWatch and without a region', () => {
      expect(envOf(collectorContainer(synth({ useCloudWatch: false, usePrometheus: true, region: undefined })))).not.toHaveProperty(ENV.region);
    });
  });

  describe('network policy', () => {
    test('none unless asked for', () => {
      expect(find(synth(), 'NetworkPolicy')).toEqual([]);
    });

    test('networkPolicy: true lets traffic into the collector pod on the health port only, egress open, schema-valid', () => {
      const docs = synth({ networkPolicy: true });
      const policy = only(docs, 'NetworkPolicy');
      expect(policy.metadata).toMatchObject({ name: 'cni-metrics-helper', namespace: 'kube-system' });
      expect(policy.spec).toEqual({
        podSelector: { matchLabels: only(docs, 'Deployment').spec.selector.matchLabels },
        policyTypes: ['Ingress'],
        ingress: [{ ports: [{ protocol: 'TCP', port: 61682 }] }],
      });
      expect(schemaErrors(docs)).toEqual([]);
    });

    test('with Prometheus on, the metrics port is let in too', () => {
      const policy = only(synth({ networkPolicy: true, usePrometheus: true }), 'NetworkPolicy');
      expect(policy.spec.ingress[0].ports).toEqual([{ protocol: 'TCP', port: 61682 }, { protocol: 'TCP', port: 61681 }]);
    });
  });

  describe('high availability (replicas > 1)', () => {
    /** The Deployment's env with the downward API's fields as the kubelet would fill them in. */
    function envWithPod(docs: any[], podName: string, podNamespace: string): Record<string, string> {
      const fieldValues: Record<string, string> = { 'metadata.name': podName, 'metadata.namespace': podNamespace };
      return Object.fromEntries(collectorContainer(docs).env.map((e: any) => [e.name, e.value ?? fieldValues[e.valueFrom.fieldRef.fieldPath]]));
    }

    test('one replica: Recreate, no election, no Lease RBAC, no PDB, no anti-affinity', () => {
      const docs = synth();
      const deployment = only(docs, 'Deployment');
      expect(deployment.spec.replicas).toBe(1);
      expect(deployment.spec.strategy).toEqual({ type: 'Recreate' });
      const env = envOf(collectorContainer(docs));
      for (const name of [ENV.leaderElection, ENV.podName, ENV.podNamespace, ENV.leaseName]) expect(env).not.toHaveProperty(name);
      expect(find(docs, 'PodDisruptionBudget')).toEqual([]);
      expect(find(docs, 'Role').map((role) => role.metadata.name)).toEqual(['cni-metrics-helper']);
      expect(find(docs, 'RoleBinding')).toHaveLength(1);
      expect(JSON.stringify(docs)).not.toContain('coordination.k8s.io');
      expect(podSpec(docs).affinity).toBeUndefined();
    });

    test('two replicas: LEADER_ELECTION, POD_NAME and POD_NAMESPACE from the downward API, RollingUpdate', () => {
      const docs = synth({ replicas: 2, namespace: 'monitoring' });
      const deployment = only(docs, 'Deployment');
      expect(deployment.spec.replicas).toBe(2);
      expect(deployment.spec.strategy).toEqual({ type: 'RollingUpdate', rollingUpdate: { maxSurge: 1, maxUnavailable: 0 } });
      const env = collectorContainer(docs).env;
      expect(env).toEqual(expect.arrayContaining([
        { name: ENV.leaderElection, value: 'true' },
        { name: ENV.podName, valueFrom: { fieldRef: { fieldPath: 'metadata.name' } } },
        { name: ENV.podNamespace, valueFrom: { fieldRef: { fieldPath: 'metadata.namespace' } } },
      ]));
      // The Lease timings stay at the collector's defaults unless given.
      for (const name of [ENV.leaseName, ENV.leaseDurationSeconds, ENV.leaseRenewDeadlineSeconds, ENV.leaseRetryPeriodSeconds]) {
        expect(env.map((e: any) => e.name)).not.toContain(name);
      }
    });

    test('the collector reads the two-replica environment as leader election on its own pod and namespace', () => {
      const env = envWithPod(synth({ replicas: 2, namespace: 'monitoring' }), 'cni-metrics-helper-7d9f-abcde', 'monitoring');
      expect(loadConfig(env).leaderElection).toEqual({
        identity: 'cni-metrics-helper-7d9f-abcde',
        namespace: 'monitoring',
        leaseName: DEFAULTS.leaseName,
        leaseDurationSeconds: 15,
        renewDeadlineSeconds: 10,
        retryPeriodSeconds: 2,
      });
    });

    test('Lease settings given are passed on, and the collector reads them', () => {
      const docs = synth({ replicas: 3, leaderElection: { leaseName: 'cni-leader', leaseDurationSeconds: 30, renewDeadlineSeconds: 20, retryPeriodSeconds: 4 } });
      const env = envWithPod(docs, 'pod-a', 'kube-system');
      expect(env).toMatchObject({ [ENV.leaseName]: 'cni-leader', [ENV.leaseDurationSeconds]: '30', [ENV.leaseRenewDeadlineSeconds]: '20', [ENV.leaseRetryPeriodSeconds]: '4' });
      expect(loadConfig(env).leaderElection).toMatchObject({ leaseName: 'cni-leader', leaseDurationSeconds: 30, renewDeadlineSeconds: 20, retryPeriodSeconds: 4 });
      // The Role names the chosen Lease.
      const leaseRole = find(docs, 'Role').find((role) => role.metadata.name === 'cni-metrics-helper-leader-election');
      expect(leaseRole.rules[1].resourceNames).toEqual(['cni-leader']);
    });

    test('Lease RBAC in the collector namespace: create on leases, get and update on the one Lease, bound to the ServiceAccount', () => {
      const docs = synth({ replicas: 2, namespace: 'monitoring', serviceAccountName: 'cni-collector' });
      const leaseRole = find(docs, 'Role').find((role) => role.metadata.name === 'cni-metrics-helper-leader-election');
      expect(leaseRole.metadata.namespace).toBe('monitoring');
      expect(leaseRole.rules).toEqual([
        { apiGroups: ['coordination.k8s.io'], resources: ['leases'], verbs: ['create'] },
        { apiGroups: ['coordination.k8s.io'], resources: ['leases'], resourceNames: ['cni-metrics-helper'], verbs: ['get', 'update'] },
      ]);
      const binding = find(docs, 'RoleBinding').find((b) => b.metadata.name === 'cni-metrics-helper-leader-election');
      expect(binding.metadata.namespace).toBe('monitoring');
      expect(binding.roleRef).toEqual({ apiGroup: 'rbac.authorization.k8s.io', kind: 'Role', name: 'cni-metrics-helper-leader-election' });
      expect(binding.subjects).toEqual([{ kind: 'ServiceAccount', name: 'cni-collector', namespace: 'monitoring' }]);
      // The aws-node pods Role is unchanged: no lease right there.
      const podsRole = find(docs, 'Role').find((role) => role.metadata.name === 'cni-metrics-helper');
      expect(JSON.stringify(podsRole)).not.toContain('leases');
    });

    test('a PodDisruptionBudget keeps one collector up, selecting the Deployment\'s pods', () => {
      const docs = synth({ replicas: 2 });
      const pdb = only(docs, 'PodDisruptionBudget');
      expect(pdb.apiVersion).toBe('policy/v1');
      expect(pdb.metadata).toMatchObject({ name: 'cni-metrics-helper', namespace: 'kube-system' });
      expect(pdb.spec).toEqual({ minAvailable: 1, selector: { matchLabels: only(docs, 'Deployment').spec.selector.matchLabels } });
    });

    test('preferred pod anti-affinity on kubernetes.io/hostname, beside the node architecture affinity when there is one', () => {
      const expected = {
        preferredDuringSchedulingIgnoredDuringExecution: [{
          weight: 100,
          podAffinityTerm: { labelSelector: { matchLabels: { 'k8s-app': 'cni-metrics-helper' } }, topologyKey: 'kubernetes.io/hostname' },
        }],
      };
      expect(podSpec(synth({ replicas: 2 })).affinity).toEqual({ podAntiAffinity: expected });
      const withArch = podSpec(synth({ replicas: 2, nodeArchitecture: 'arm64' })).affinity;
      expect(withArch.podAntiAffinity).toEqual(expected);
      expect(JSON.stringify(withArch.nodeAffinity)).toContain('arm64');
    });

    test('the two-replica chart passes the Kubernetes schema validation', () => {
      const docs = [
        ...synth({ replicas: 2, leaderElection: { leaseDurationSeconds: 20 } }),
        ...synth({ replicas: 2, nodeArchitecture: 'amd64', image: 'public.ecr.aws/docker/library/node:20.20.2-alpine3.23', bundle: packCollectorBundle(incompressibleBundle(1000)) }),
      ];
      expect(schemaErrors(docs)).toEqual([]);
    });

    test.each<[string, Partial<CollectorChartProps>, RegExp]>([
      ['zero replicas', { replicas: 0 }, /^cni-metrics-helper: replicas: must be a whole number from 1 to 5, got 0 — /],
      ['too many replicas', { replicas: 6 }, /^cni-metrics-helper: replicas: must be a whole number from 1 to 5, got 6 — /],
      ['fractional replicas', { replicas: 1.5 }, /^cni-metrics-helper: replicas: must be a whole number/],
      ['leaderElection with one replica', { leaderElection: { leaseName: 'x' } }, /^cni-metrics-helper: leaderElection: is set but replicas is 1/],
      ['a bad lease name', { replicas: 2, leaderElection: { leaseName: 'Not_A_Name' } }, /^cni-metrics-helper: leaderElection.leaseName: must be a Kubernetes object name/],
      ['a lease duration not above the default renew deadline', { replicas: 2, leaderElection: { leaseDurationSeconds: 10 } },
        /^cni-metrics-helper: leaderElection.leaseDurationSeconds: is 10, not more than the renew deadline, 10; .* — /],
      ['a renew deadline not above the retry period', { replicas: 2, leaderElection: { renewDeadlineSeconds: 3, retryPeriodSeconds: 3 } },
        /^cni-metrics-helper: leaderElection.renewDeadlineSeconds: is 3, not more than the retry period, 3; /],
      ['a zero retry period', { replicas: 2, leaderElection: { retryPeriodSeconds: 0 } }, /^cni-metrics-helper: leaderElection.retryPeriodSeconds: must be a whole number from 1 to 3600/],
      ['extraEnv setting LEADER_ELECTION', { extraEnv: { LEADER_ELECTION: 'true' } }, /^cni-metrics-helper: extraEnv: may not set LEADER_ELECTION.* — set the prop replicas instead$/],
      ['extraEnv setting POD_NAME', { extraEnv: { POD_NAME: 'x' } }, /^cni-metrics-helper: extraEnv: may not set POD_NAME.*downward API/],
    ])('rejects %s, naming the prop', (_case, props, message) => {
      expect(() => synth(props)).toThrow(message);
    });
  });

  describe('sizing (expectedNodeCount)', () => {
    /** The container's resources, SCRAPE_CONCURRENCY, SCRAPE_WORKERS and NODE_OPTIONS, which sizing sets. */
    function sized(props: Partial<CollectorChartProps>): { resources: any; concurrency: string; workers: string; nodeOptions: string | undefined } {
      const container = collectorContainer(synth(props));
      const env = envOf(container);
      return { resources: container.resources, concurrency: env[ENV.scrapeConcurrency], workers: env[ENV.scrapeWorkers], nodeOptions: env[NODE_OPTIONS_ENV] };
    }

    test('a small cluster (1,000 nodes) keeps the small requests, one CPU and 512Mi, 64 scrapes', () => {
      // (1,000 × 20 ms + 10 × 3 s) / 15 s = 3.3 → 64 at least; CPU and memory at their floors; heap 512 × 0.65 = 332.8.
      expect(sized({ expectedNodeCount: 1000 })).toEqual({
        resources: { requests: { cpu: '50m', memory: '64Mi' }, limits: { cpu: '1000m', memory: '512Mi' } },
        concurrency: '64',
        workers: '0',
        nodeOptions: '--max-old-space-size=332 --max-semi-space-size=32',
      });
    });

    test('100,000 nodes: 334 scrapes, requests and limits for that size, the heap at 65% of the limit', () => {
      // 5,000 s of waiting / 15 s = 333.3 → 334; CPU 35 s / 30 s = 1166.7 → 1170m, / 15 s → 2340m: 3 workers;
      // memory 585.9 + 66.8 + 240 = 892.7 → 896Mi requested, + 140 = 1032.7 → 1088Mi limit; heap 707.2 → 707.
      expect(sized({ expectedNodeCount: 100_000 })).toEqual({
        resources: { requests: { cpu: '1170m', memory: '896Mi' }, limits: { cpu: '2340m', memory: '1088Mi' } },
        concurrency: '334',
        workers: '3',
        nodeOptions: '--max-old-space-size=707 --max-semi-space-size=32',
      });
    });

    test('100,000 nodes in direct mode: more CPU a node and a kept-alive socket for 10,000 of them', () => {
      // CPU 48 s / 30 s = 1600m, / 15 s → 3200m: 4 workers; memory 652.7 + 10,000 × 8.5 KiB (83 MiB) + 320 = 1055.7 → 1056Mi,
      // 1195.7 → 1216Mi; heap 790.
      expect(sized({ expectedNodeCount: 100_000, scrapeMode: ScrapeMode.DIRECT })).toEqual({
        resources: { requests: { cpu: '1600m', memory: '1056Mi' }, limits: { cpu: '3200m', memory: '1216Mi' } },
        concurrency: '334',
        workers: '4',
        nodeOptions: '--max-old-space-size=790 --max-semi-space-size=32',
      });
    });

    test('left out, the limits and concurrency are those of 100,000 nodes and the requests stay small', () => {
      expect(sized({})).toEqual({
        resources: { requests: { cpu: '50m', memory: '64Mi' }, limits: { cpu: '2340m', memory: '1088Mi' } },
        concurrency: '334',
        workers: '3',
        nodeOptions: '--max-old-space-size=707 --max-semi-space-size=32',
      });
    });

    test('a scrapeConcurrency given wins, and the memory is sized for its scrapes', () => {
      // 585.9 + 128 × 0.2 + 3 × 80 = 851.5 → 864Mi; + 140 = 991.5 → 1024Mi; heap 665.6 → 665. CPU does not depend on it.
      expect(sized({ expectedNodeCount: 100_000, scrapeConcurrency: 128 })).toEqual({
        resources: { requests: { cpu: '1170m', memory: '864Mi' }, limits: { cpu: '2340m', memory: '1024Mi' } },
        concurrency: '128',
        workers: '3',
        nodeOptions: '--max-old-space-size=665 --max-semi-space-size=32',
      });
    });

    test('scrapeWorkers given wins, and the memory holds only those workers', () => {
      // 100,000 nodes with 1 worker: 585.9 + 66.8 + 80 = 732.7 → 736Mi; 872.7 → 896Mi.
      expect(sized({ expectedNodeCount: 100_000, scrapeWorkers: 1 })).toMatchObject({
        resources: { requests: { cpu: '1170m', memory: '736Mi' }, limits: { cpu: '2340m', memory: '896Mi' } },
        workers: '1',
      });
      expect(sized({ expectedNodeCount: 100_000, scrapeWorkers: 0 }).workers).toBe('0');
    });

    test('resources given win; the heap cap follows their memory limit, and without one there is none', () => {
      const withLimit = sized({ expectedNodeCount: 100_000, resources: { memory: { request: Size.mebibytes(512), limit: Size.gibibytes(1) } } });
      expect(withLimit).toEqual({ resources: { requests: { memory: '512Mi' }, limits: { memory: '1024Mi' } }, concurrency: '334', workers: '3', nodeOptions: '--max-old-space-size=665 --max-semi-space-size=32' });
      const withoutLimit = sized({ expectedNodeCount: 100_000, resources: { cpu: { request: kplus.Cpu.millis(500) } } });
      expect(withoutLimit).toEqual({ resources: { requests: { cpu: '500m' } }, concurrency: '334', workers: '3', nodeOptions: undefined });
    });

    test('Node takes the NODE_OPTIONS the chart writes and caps its heap there', () => {
      // GIVEN the variable as the 100,000-node chart writes it
      const nodeOptions = sized({ expectedNodeCount: 100_000 }).nodeOptions!;
      expect(nodeOptions).toBe('--max-old-space-size=707 --max-semi-space-size=32');

      // WHEN a Node process starts with it
      const out = execFileSync(process.execPath, ['-e', 'process.stdout.write(String(require("v8").getHeapStatistics().heap_size_limit))'], {
        env: { ...process.env, NODE_OPTIONS: nodeOptions },
      });

      // THEN its heap limit is the old space asked for plus the young generation the semi-space size
      // gives (two semi-spaces and, in Node 20's V8, a new large-object space of one more: 803 MiB here)
      const limitMiB = Number(out.toString()) / 2 ** 20;
      expect(limitMiB).toBeGreaterThanOrEqual(707 + 2 * 32);
      expect(limitMiB).toBeLessThanOrEqual(707 + 3 * 32 + 16);
    });

    test('the collector reads the sized concurrency, and the sized chart passes the Kubernetes schema', () => {
      const docs = synth({ expectedNodeCount: 100_000, scrapeMode: ScrapeMode.DIRECT });
      expect(loadConfig(envOf(collectorContainer(docs))).scrapeConcurrency).toBe(334);
      expect(schemaErrors(docs)).toEqual([]);
    });

    test.each<[string, Partial<CollectorChartProps>, RegExp]>([
      ['zero', { expectedNodeCount: 0 }, /^cni-metrics-helper: expectedNodeCount: must be a whole number from 1 to 110000 \(nodes\), got 0 — give the number of nodes the cluster runs or will run, or leave it out to size the limits for 100,000 nodes$/],
      ['above 110,000', { expectedNodeCount: 110_001 }, /^cni-metrics-helper: expectedNodeCount: must be a whole number from 1 to 110000 \(nodes\), got 110001 — /],
      ['a fraction', { expectedNodeCount: 2.5 }, /^cni-metrics-helper: expectedNodeCount: must be a whole number .*, got 2.5 — /],
      ['a token', { expectedNodeCount: Token.asNumber(Lazy.number({ produce: () => 10 })) }, /^cni-metrics-helper: expectedNodeCount: must be a number known at synthesis, not a token/],
      ['scrapeWorkers above 64', { scrapeWorkers: 65 }, /^cni-metrics-helper: scrapeWorkers: must be a whole number from 0 to 64 \(worker threads, or 0 for none\), got 65 — leave it out to derive it from expectedNodeCount$/],
      ['NODE_OPTIONS in extraEnv', { extraEnv: { NODE_OPTIONS: '--max-old-space-size=192' } },
        /^cni-metrics-helper: extraEnv: may not set NODE_OPTIONS, which the chart sets itself, got "NODE_OPTIONS" — the chart sets the heap cap \(--max-old-space-size\) in it from the memory limit: set the prop expectedNodeCount or resources instead$/],
    ])('rejects %s, naming the prop', (_case, props, message) => {
      expect(() => synth(props)).toThrow(message);
    });
  });

  describe('subnet metrics', () => {
    const SUBNETS = ['subnet-0123456789abcdef0', 'subnet-89abcdef'];

    test('none by default: no SUBNET_IDS', () => {
      expect(envOf(collectorContainer(synth()))).not.toHaveProperty(ENV.subnetIds);
    });

    test('subnetIds become SUBNET_IDS (and SUBNET_REFRESH_SECONDS when given), as the collector reads them', () => {
      const env = envOf(collectorContainer(synth({ subnetIds: SUBNETS, subnetRefreshSeconds: 600 })));
      expect(env[ENV.subnetIds]).toBe('subnet-0123456789abcdef0,subnet-89abcdef');
      expect(env[ENV.subnetRefreshSeconds]).toBe('600');
      expect(loadConfig(env)).toMatchObject({ subnets: { subnetIds: SUBNETS, refreshSeconds: 600 } });
    });

    test('subnet ids held in tokens pass through for CloudFormation to resolve', () => {
      const token = Lazy.string({ produce: () => 'subnet-0123456789abcdef0' });
      expect(envOf(collectorContainer(synth({ subnetIds: [token] })))[ENV.subnetIds]).toBe(token);
    });

    test.each<[string, Partial<CollectorChartProps>, RegExp]>([
      ['an empty list', { subnetIds: [] }, /^cni-metrics-helper: subnetIds: must list at least one subnet id — /],
      ['a malformed id', { subnetIds: ['subnet-XYZ'] }, /^cni-metrics-helper: subnetIds: holds something that is not a subnet id .*, got "subnet-XYZ" — e.g. 'subnet-0123456789abcdef0'$/],
      ['a duplicate', { subnetIds: [SUBNETS[0], SUBNETS[0]] }, /^cni-metrics-helper: subnetIds: lists a subnet twice, got "subnet-0123456789abcdef0"/],
      ['too many', { subnetIds: Array.from({ length: 1001 }, (_, i) => `subnet-${i.toString(16).padStart(8, '0')}`) }, /^cni-metrics-helper: subnetIds: lists 1001 subnets, more than 1000/],
      ['a refresh without subnets', { subnetRefreshSeconds: 600 }, /^cni-metrics-helper: subnetRefreshSeconds: is set but subnetIds is not/],
      ['a refresh too short', { subnetIds: SUBNETS, subnetRefreshSeconds: 10 }, /^cni-metrics-helper: subnetRefreshSeconds: must be a whole number from 30 to 86400/],
      ['extraEnv setting SUBNET_IDS', { extraEnv: { SUBNET_IDS: 'subnet-89abcdef' } }, /^cni-metrics-helper: extraEnv: may not set SUBNET_IDS.* — set the prop subnetIds instead$/],
    ])('rejects %s, naming the prop', (_case, props, message) => {
      expect(() => synth(props)).toThrow(message);
    });
  });
});

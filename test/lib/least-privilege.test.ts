/**
 * Least privilege, checked on what users deploy: the manifest CniMetricsHelper writes (with the
 * default bundle image and with the image built as an asset, in both scrape modes), the IAM of the
 * example stack, and the image's Dockerfile. test/lib/collector-chart.test.ts checks the chart's
 * RBAC rules and security contexts one by one; this file checks the whole output against rules
 * (the "restricted" Pod Security Standard, nothing cluster-scoped, one IAM statement).
 */
import * as fs from 'fs';
import * as path from 'path';
import { App, Stack } from 'aws-cdk-lib';
import { Template } from 'aws-cdk-lib/assertions';
import * as YAML from 'yaml';
import { ExampleStack } from '../../bin/example-stack';
import { CniMetricsHelper } from '../../lib/cni-metrics-helper';
import { COLLECTOR_NAME, COLLECTOR_UID } from '../../lib/collector-chart';
import { CollectorImage } from '../../lib/collector-image';
import { collectorDockerfilePath } from '../../lib/private/image-context';
import { SAMPLE_AWS_AUTH } from '../../bin/sample-aws-auth';
import type { ScrapeMode } from '../../common/settings';
import { ScrapeMode as ScrapeModeChoice } from '../../lib/collector-settings';
import { tempDirMaker } from './temp-app';
import { newApp } from './util';

const ENV = { account: '111122223333', region: 'us-west-2' };
const GUIDE_NODE_ROLE = 'eksctl-my-cluster-nodegroup-my-node-NodeInstanceRole-1XLS7754U3ZPA';

const tempDir = tempDirMaker('least-privilege-');

function newTempApp(): App {
  return newApp(tempDir());
}

type ImageKind = 'bundle' | 'asset';

/** The objects of the manifest the helper writes for a cluster managed elsewhere; synthesized once per variant. */
const manifests = new Map<string, any[]>();
function manifestOf(image: ImageKind, scrapeMode: ScrapeMode): any[] {
  const key = `${image}/${scrapeMode}`;
  if (!manifests.has(key)) {
    const app = newTempApp();
    const stack = new Stack(app, 'Stack', { env: ENV });
    const helper = new CniMetricsHelper(stack, 'Helper', {
      clusterName: 'my-cluster',
      awsAuth: SAMPLE_AWS_AUTH,
      collector: { scrapeMode: scrapeMode === 'proxy' ? ScrapeModeChoice.PROXY : ScrapeModeChoice.DIRECT, image: image === 'asset' ? CollectorImage.fromAsset() : CollectorImage.fromBundle() },
    });
    const text = fs.readFileSync(path.join(app.synth().directory, helper.manifestFileName!), 'utf8');
    manifests.set(key, YAML.parseAllDocuments(text).map((doc) => doc.toJS()));
  }
  return manifests.get(key)!;
}

const VARIANTS: [ImageKind, ScrapeMode][] = [['bundle', 'proxy'], ['bundle', 'direct'], ['asset', 'proxy'], ['asset', 'direct']];

/** The pod specs of every workload in the manifest. */
function podSpecs(docs: readonly any[]): any[] {
  return docs.filter((doc) => doc.spec?.template?.spec).map((doc) => doc.spec.template.spec);
}

/** Regular, init and ephemeral containers of a pod. */
function containersOf(pod: any): any[] {
  return [...(pod.initContainers ?? []), ...pod.containers, ...(pod.ephemeralContainers ?? [])];
}

/** Volume types the "restricted" Pod Security Standard allows. */
const RESTRICTED_VOLUME_TYPES = new Set(['configMap', 'csi', 'downwardAPI', 'emptyDir', 'ephemeral', 'persistentVolumeClaim', 'projected', 'secret']);

/**
 * What a pod does against the "restricted" Pod Security Standard (baseline included), plus this
 * project's own rules: read-only root filesystem, requests and limits on every container, bounded
 * emptyDirs. One line per violation; empty when the pod complies.
 */
function restrictedViolations(pod: any): string[] {
  const violations: string[] = [];
  const add = (condition: boolean, what: string) => {
    if (condition) violations.push(what);
  };
  add(pod.hostNetwork === true || pod.hostPID === true || pod.hostIPC === true, 'shares a host namespace');
  for (const volume of pod.volumes ?? []) {
    const type = Object.keys(volume).find((k) => k !== 'name');
    add(!RESTRICTED_VOLUME_TYPES.has(type ?? ''), `volume ${volume.name} is of type ${type}`);
    add(type === 'emptyDir' && volume.emptyDir.sizeLimit === undefined, `emptyDir ${volume.name} has no sizeLimit`);
  }
  for (const c of containersOf(pod)) {
    const own = c.securityContext ?? {};
    const fromPod = pod.securityContext ?? {};
    add(own.privileged === true, `${c.name} is privileged`);
    add(own.allowPrivilegeEscalation !== false, `${c.name} does not set allowPrivilegeEscalation: false`);
    add(!(own.capabilities?.drop ?? []).includes('ALL'), `${c.name} does not drop ALL capabilities`);
    add((own.capabilities?.add ?? []).some((cap: string) => cap !== 'NET_BIND_SERVICE'), `${c.name} adds capabilities`);
    add((own.runAsNonRoot ?? fromPod.runAsNonRoot) !== true, `${c.name} may run as root`);
    add((own.runAsUser ?? fromPod.runAsUser) === 0, `${c.name} runs as uid 0`);
    const seccomp = (own.seccompProfile ?? fromPod.seccompProfile)?.type;
    add(seccomp !== 'RuntimeDefault' && seccomp !== 'Localhost', `${c.name} has seccomp profile ${seccomp}`);
    add(own.procMount !== undefined && own.procMount !== 'Default', `${c.name} unmasks /proc`);
    add(own.readOnlyRootFilesystem !== true, `${c.name} can write its root filesystem`);
    add((c.ports ?? []).some((p: any) => p.hostPort !== undefined), `${c.name} uses a host port`);
    for (const kind of ['requests', 'limits']) {
      for (const resource of ['cpu', 'memory']) add(c.resources?.[kind]?.[resource] === undefined, `${c.name} has no ${resource} ${kind}`);
    }
  }
  return violations;
}

describe('the restricted Pod Security Standard check', () => {
  test('flags a pod that breaks each rule (the check itself works)', () => {
    // GIVEN the collector pod with every rule broken once
    const pod = structuredClone(podSpecs(manifestOf('bundle', 'proxy'))[0]);
    const [init, collector] = [pod.initContainers[0], pod.containers[0]];
    pod.hostNetwork = true;
    pod.volumes.push({ name: 'host', hostPath: { path: '/' } });
    delete pod.volumes.find((v: any) => v.emptyDir).emptyDir.sizeLimit;
    delete pod.securityContext.seccompProfile;
    delete pod.securityContext.runAsNonRoot;
    Object.assign(init.securityContext, { privileged: true, allowPrivilegeEscalation: true, runAsNonRoot: false, runAsUser: 0, procMount: 'Unmasked' });
    init.securityContext.capabilities = { add: ['SYS_ADMIN'] };
    delete collector.securityContext.readOnlyRootFilesystem;
    delete collector.resources.limits;
    collector.ports[0].hostPort = 61682;

    // THEN each broken rule is reported
    expect(restrictedViolations(pod)).toEqual([
      'shares a host namespace',
      'emptyDir collector-app has no sizeLimit',
      'volume host is of type hostPath',
      'unpack-collector is privileged',
      'unpack-collector does not set allowPrivilegeEscalation: false',
      'unpack-collector does not drop ALL capabilities',
      'unpack-collector adds capabilities',
      'unpack-collector may run as root',
      'unpack-collector runs as uid 0',
      'unpack-collector has seccomp profile undefined',
      'unpack-collector unmasks /proc',
      'collector has seccomp profile undefined',
      'collector can write its root filesystem',
      'collector uses a host port',
      'collector has no cpu limits',
      'collector has no memory limits',
    ]);
  });
});

describe.each(VARIANTS)('the manifest with the %s image in %s mode', (image, scrapeMode) => {
  test('holds only namespaced objects of the kinds the collector needs: nothing cluster-wide', () => {
    const docs = manifestOf(image, scrapeMode);
    const kinds = new Set(docs.map((doc) => doc.kind));

    expect([...kinds].sort()).toEqual(image === 'bundle'
      ? ['ConfigMap', 'Deployment', 'Role', 'RoleBinding', 'ServiceAccount']
      : ['Deployment', 'Role', 'RoleBinding', 'ServiceAccount']);
    expect(docs.filter((doc) => !doc.metadata.namespace).map((doc) => `${doc.kind} ${doc.metadata.name}`)).toEqual([]);
  });

  test(`grants exactly list and watch on pods${scrapeMode === 'proxy' ? ' and get on pods/proxy' : ''}, in the aws-node namespace, to the collector only`, () => {
    const docs = manifestOf(image, scrapeMode);
    const [role] = docs.filter((doc) => doc.kind === 'Role');
    const [binding] = docs.filter((doc) => doc.kind === 'RoleBinding');

    expect(role.metadata.namespace).toBe('kube-system');
    expect(role.rules).toEqual([
      { apiGroups: [''], resources: ['pods'], verbs: ['list', 'watch'] },
      ...(scrapeMode === 'proxy' ? [{ apiGroups: [''], resources: ['pods/proxy'], verbs: ['get'] }] : []),
    ]);
    expect(binding.metadata.namespace).toBe(role.metadata.namespace);
    expect(binding.roleRef).toEqual({ apiGroup: 'rbac.authorization.k8s.io', kind: 'Role', name: role.metadata.name });
    expect(binding.subjects).toEqual([{ apiGroup: '', kind: 'ServiceAccount', name: COLLECTOR_NAME, namespace: 'kube-system' }]);
  });

  test('runs every pod within the restricted Pod Security Standard, read-only, with requests and limits', () => {
    const pods = podSpecs(manifestOf(image, scrapeMode));

    expect(pods).toHaveLength(1);
    expect(pods.map(restrictedViolations)).toEqual([[]]);
  });

  test('mounts a ServiceAccount token only into the collector pod, which calls the API server', () => {
    const docs = manifestOf(image, scrapeMode);
    const accounts = docs.filter((doc) => doc.kind === 'ServiceAccount');
    const [pod] = podSpecs(docs);

    expect(accounts.map((sa) => [sa.metadata.name, sa.automountServiceAccountToken])).toEqual([[COLLECTOR_NAME, true]]);
    expect([pod.serviceAccountName, pod.automountServiceAccountToken]).toEqual([COLLECTOR_NAME, true]);
    // No long-lived token Secret, and no Secret at all
    expect(docs.filter((doc) => doc.kind === 'Secret')).toEqual([]);
  });
});

describe('the image the pod runs', () => {
  test('with the stock Node image (bundle), whose own user is root, every container sets a non-root uid itself', () => {
    const [pod] = podSpecs(manifestOf('bundle', 'proxy'));

    for (const container of containersOf(pod)) {
      expect([container.name, container.securityContext.runAsUser, container.securityContext.runAsGroup]).toEqual([container.name, COLLECTOR_UID, COLLECTOR_UID]);
    }
  });

  test('the Dockerfile of the asset image ends as the numeric non-root user the pod runs as', () => {
    // GIVEN the Dockerfile, parsed: continuation lines joined, comments dropped, one instruction a line
    const instructions = dockerInstructions(fs.readFileSync(collectorDockerfilePath(), 'utf8'));
    const finalStage = instructions.slice(instructions.map((i) => i.keyword).lastIndexOf('FROM'));
    const users = finalStage.filter((i) => i.keyword === 'USER').map((i) => i.args);

    // THEN the user the final stage ends with is a numeric uid:gid (the kubelet can check
    // runAsNonRoot only against a number), not root, and the same as the pod's
    expect(users.length).toBeGreaterThan(0);
    const [uid, gid] = users[users.length - 1].split(':');
    expect([uid, gid]).toEqual([String(COLLECTOR_UID), String(COLLECTOR_UID)]);
    const [pod] = podSpecs(manifestOf('asset', 'proxy'));
    expect(pod.securityContext).toMatchObject({ runAsUser: Number(uid), runAsGroup: Number(gid), runAsNonRoot: true });
  });

  test('the Dockerfile reading joins continuation lines and finds the final stage\'s last USER', () => {
    const text = 'FROM a AS build\nUSER 1000\n# USER 0\nFROM b\nRUN echo \\\n  USER 0\nuser 0\nUSER 10:20\nENTRYPOINT ["x"]\n';

    expect(dockerInstructions(text).map((i) => `${i.keyword} ${i.args}`)).toEqual([
      'FROM a AS build', 'USER 1000', 'FROM b', 'RUN echo USER 0', 'USER 0', 'USER 10:20', 'ENTRYPOINT ["x"]',
    ]);
  });
});

/** Dockerfile instructions: keyword upper-cased, arguments with continuation lines joined. */
function dockerInstructions(text: string): { keyword: string; args: string }[] {
  const logicalLines: string[] = [];
  let pending = '';
  for (const line of text.split(/\r?\n/)) {
    if (/^\s*#/.test(line) && pending === '') continue;
    if (/\\\s*$/.test(line)) {
      pending += line.replace(/\\\s*$/, ' ');
      continue;
    }
    logicalLines.push(pending + line);
    pending = '';
  }
  return logicalLines
    .map((line) => line.trim())
    .filter((line) => line !== '')
    .map((line) => {
      const [keyword, ...rest] = line.split(/\s+/);
      return { keyword: keyword.toUpperCase(), args: rest.join(' ') };
    });
}

describe('the IAM of the example stack', () => {
  const app = newTempApp();
  const template = Template.fromStack(new ExampleStack(app, 'CniMetricsHelperExample', { env: ENV }));

  test('is one managed policy and nothing else: no role, user, group or inline policy', () => {
    const iamTypes = Object.values(template.toJSON().Resources as Record<string, { Type: string }>)
      .map((resource) => resource.Type)
      .filter((type) => type.startsWith('AWS::IAM::'));

    expect(iamTypes).toEqual(['AWS::IAM::ManagedPolicy']);
  });

  test('has exactly one statement: PutMetricData, in the Kubernetes namespace only, on the node role', () => {
    const [policy] = Object.values(template.findResources('AWS::IAM::ManagedPolicy')) as any[];

    expect(policy.Properties.PolicyDocument.Statement).toEqual([{
      Effect: 'Allow',
      Action: 'cloudwatch:PutMetricData',
      Resource: '*',
      Condition: { StringEquals: { 'cloudwatch:namespace': 'Kubernetes' } },
    }]);
    expect(policy.Properties.Roles).toEqual([GUIDE_NODE_ROLE]);
  });
});

/**
 * Every invalid value of every prop fails synthesis with a message naming the prop: first for
 * CniMetricsHelper, as users meet the messages, then for the exported parts where they check
 * something the helper's table cannot reach. Messages from the collector chart name the key of
 * `collector` ("CollectorChart: 'namespace'" is `collector.namespace`).
 */
import * as os from 'os';
import * as path from 'path';
import { App, Duration, Stack } from 'aws-cdk-lib';
import * as eksv2 from 'aws-cdk-lib/aws-eks-v2';
import * as iam from 'aws-cdk-lib/aws-iam';
import { Size, Testing } from 'cdk8s';
import * as kplus from 'cdk8s-plus-27';
import { Construct } from 'constructs';
import { CniMetricsAlarms } from '../../lib/cni-metrics-alarms';
import { CniMetricsHelper, CniMetricsHelperProps } from '../../lib/cni-metrics-helper';
import { CniMetricsPolicy } from '../../lib/cni-metrics-policy';
import { CollectorChart, CollectorChartProps } from '../../lib/collector-chart';
import { CollectorIdentity } from '../../lib/collector-identity';
import { CollectorImage } from '../../lib/collector-image';
import { SAMPLE_AWS_AUTH } from '../../bin/sample-aws-auth';
import { tempDirMaker } from './temp-app';

const ENV = { account: '111122223333', region: 'us-west-2' };
const MISSING_BUNDLE = path.join(os.tmpdir(), 'no-such-dir', 'no-such-collector.js');
/** A registry image keeps each synthesis free of bundle packing and Docker assets. */
const REGISTRY_IMAGE = CollectorImage.fromRegistry('111122223333.dkr.ecr.us-west-2.amazonaws.com/cni-metrics-helper:1.0.0');

const tempDir = tempDirMaker('props-validation-');

/** A fresh app (synthesized into its own temporary directory) and a stack with an explicit env. */
function newStack(): { app: App; stack: Stack } {
  const app = new App({ outdir: tempDir(), analyticsReporting: false });
  return { app, stack: new Stack(app, 'Stack', { env: ENV }) };
}

/** An in-app cluster for the identities that need one (aws-eks-v2: no kubectl layer to load). */
function v2Cluster(stack: Stack): eksv2.Cluster {
  return new eksv2.Cluster(stack, 'Cluster', { version: eksv2.KubernetesVersion.V1_33 });
}

/** Props of one row: changes to the valid base, made in the row's stack (for roles and the like). */
type HelperChange = (stack: Stack) => Partial<CniMetricsHelperProps>;

/** Builds the helper from a valid base with `change` applied, and synthesizes the app. */
function synthHelper(change: HelperChange): void {
  const { app, stack } = newStack();
  const changed = change(stack);
  const collector = changed.collector === false ? false : { image: REGISTRY_IMAGE, ...changed.collector };
  new CniMetricsHelper(stack, 'Helper', { clusterName: 'my-cluster', awsAuth: SAMPLE_AWS_AUTH, ...changed, collector });
  app.synth();
}

/** A prop path, the bad value as shown in the test name, the change that sets it, and the message. */
type Row<Change> = [prop: string, value: string, change: Change, message: RegExp];

const HELPER_ROWS: Row<HelperChange>[] = [
  ['clusterName', '""', () => ({ clusterName: '' }), /^CniMetricsHelper: 'clusterName' must be an EKS cluster name .*, got ""$/],
  ['clusterName', 'with blanks and "!"', () => ({ clusterName: 'my cluster!' }), /'clusterName' must be an EKS cluster name/],
  ['clusterName', '101 characters', () => ({ clusterName: 'c'.repeat(101) }), /'clusterName' must be an EKS cluster name \(1-100 characters/],
  ['clusterName', 'starting with "-"', () => ({ clusterName: '-prod' }), /'clusterName' must be an EKS cluster name .*starting with a letter or digit/],
  ['clusterName', 'absent, with no cluster', () => ({ clusterName: undefined }), /`clusterName` is required when no `cluster` is given/],
  ['awsAuth', '""', () => ({ awsAuth: '' }), /^awsAuth: no mapRoles found: the text is empty/],
  ['awsAuth', 'not YAML', () => ({ awsAuth: '- rolearn: [unclosed\n' }), /^awsAuth: the text is not valid YAML at line 2/],
  ['awsAuth', 'without a system:nodes role', () => ({ awsAuth: '- rolearn: arn:aws:iam::111122223333:role/Admin\n  groups: [system:masters]\n' }), /^awsAuth: no role in mapRoles has group 'system:nodes'/],
  ['awsAuth', 'a role of another account', () => ({ awsAuth: '- rolearn: arn:aws:iam::999999999999:role/Nodes\n  groups: [system:nodes]\n' }), /^awsAuth: node role 'arn:aws:iam::999999999999:role\/Nodes' is in account 999999999999, but stack 'Stack' deploys to account 111122223333/],
  ['nodeRoles', 'a role of another account', (stack) => ({ nodeRoles: [iam.Role.fromRoleArn(stack, 'Other', 'arn:aws:iam::999999999999:role/Nodes')] }), /^CniMetricsPolicy: role arn:aws:iam::999999999999:role\/Nodes is in account 999999999999, but the policy deploys to account 111122223333; .*pass roles of account 111122223333 \(`nodeRoles`, `roles`\)/],
  ['nodeRoles', '[] with no other source', () => ({ awsAuth: undefined, nodeRoles: [] }), /no node role to attach CNIMetricsHelperPolicy to: .*or `nodeRoles`/],
  ['identity', 'IRSA without cluster', () => ({ awsAuth: undefined, identity: CollectorIdentity.irsa() }), /^identity: IRSA needs `cluster`/],
  ['identity', 'Pod Identity without cluster', () => ({ awsAuth: undefined, identity: CollectorIdentity.podIdentity() }), /^identity: Pod Identity needs `cluster`/],
  ['identity', 'IRSA with awsAuth', () => ({ identity: CollectorIdentity.irsa() }), /'awsAuth' and 'nodeRoles' are not used with identity IRSA/],
  ['namespace', '""', () => ({ namespace: '' }), /^CniMetricsPolicy: namespace '' must be 1 to 255 characters long/],
  ['namespace', '"AWS/EKS"', () => ({ namespace: 'AWS/EKS' }), /namespace 'AWS\/EKS' must not start with 'AWS\/'/],
  ['namespace', 'not ASCII', () => ({ namespace: 'Kübernetes' }), /namespace 'Kübernetes' must be printable ASCII/],
  ['managedPolicyName', '"CNI metrics"', () => ({ managedPolicyName: 'CNI metrics' }), /managedPolicyName 'CNI metrics' has characters IAM does not allow/],
  ['managedPolicyName', '129 characters', () => ({ managedPolicyName: 'p'.repeat(129) }), /managedPolicyName 'p+' must be 1 to 128 characters long/],
  ['dashboardName', '"EKS CNI"', () => ({ dashboardName: 'EKS CNI' }), /^dashboardName 'EKS CNI' is invalid/],
  ['dashboardName', '""', () => ({ dashboardName: '' }), /^dashboardName '' is invalid/],
  ['period', '30 seconds', () => ({ period: Duration.seconds(30) }), /^period must be a whole number of minutes/],
  ['period', '2 days (alarms on)', () => ({ period: Duration.days(2) }), /^period is 2 days: CloudWatch alarms look back at most one day, so use a period of at most Duration\.days\(1\), or turn the alarms off/],
  ['alarms.ipUtilization.thresholdPercent', '0', () => ({ alarms: { ipUtilization: { thresholdPercent: 0 } } }), /^alarms\.ipUtilization\.thresholdPercent must be > 0 and <= 100, got 0/],
  ['alarms.ipUtilization.thresholdPercent', 'NaN', () => ({ alarms: { ipUtilization: { thresholdPercent: NaN } } }), /^alarms\.ipUtilization\.thresholdPercent must be > 0 and <= 100, got NaN/],
  ['alarms.ipUtilization.evaluationPeriods', '1.5', () => ({ alarms: { ipUtilization: { evaluationPeriods: 1.5 } } }), /^alarms\.ipUtilization\.evaluationPeriods must be a whole number >= 1, got 1.5/],
  ['alarms.ipUtilization.evaluationPeriods', '300 (over a day)', () => ({ alarms: { ipUtilization: { evaluationPeriods: 300 } } }), /^alarms\.ipUtilization\.evaluationPeriods is 300, .*at most 288 periods of 5 minutes/],
  ['alarms.ipamdErrors.threshold', 'Infinity', () => ({ alarms: { ipamdErrors: { threshold: Infinity } } }), /^alarms\.ipamdErrors\.threshold must be a whole number >= 1/],
  ['alarms.collectorSilent.periods', '0', () => ({ alarms: { collectorSilent: { periods: 0 } } }), /^alarms\.collectorSilent\.periods must be a whole number >= 1, got 0/],
  ['alarms.alarmNamePrefix', '" "', () => ({ alarms: { alarmNamePrefix: ' ' } }), /^alarms\.alarmNamePrefix must not be empty/],
  ['alarms.alarmNamePrefix', '250 characters', () => ({ alarms: { alarmNamePrefix: 'p'.repeat(250) } }), /shorten alarms\.alarmNamePrefix/],
  ['alarms.ipUtilization.alarmNameOverride', '""', () => ({ alarms: { ipUtilization: { alarmNameOverride: '' } } }), /^alarms\.ipUtilization\.alarmNameOverride "" is not an alarm name: CloudWatch alarm names are 1-255 characters, not blank, without control characters/],
  ['alarms.ipamdErrors.alarmNameOverride', 'with a newline', () => ({ alarms: { ipamdErrors: { alarmNameOverride: 'cni\nerrors' } } }), /^alarms\.ipamdErrors\.alarmNameOverride "cni\\nerrors" is not an alarm name/],
  ['alarms.collectorSilent.alarmNameOverride', '256 characters', () => ({ alarms: { collectorSilent: { alarmNameOverride: 'a'.repeat(256) } } }), /^alarms\.collectorSilent\.alarmNameOverride "a{256}" is not an alarm name/],
  ['alarms.alarmNamePrefix', 'with a tab', () => ({ alarms: { alarmNamePrefix: 'prod\teks' } }), /^Alarm name "prod\\teks-CNI-IpUtilization" holds a control character, which CloudWatch refuses: remove it from alarms\.alarmNamePrefix/],
  ['collector.image', 'fromRegistry(" ")', () => ({ collector: { image: CollectorImage.fromRegistry(' ') } }), /^CollectorImage\.fromRegistry\(\): 'imageUri' must be an image reference/],
  ['collector.image', 'fromRegistry with a blank inside', () => ({ collector: { image: CollectorImage.fromRegistry('my image:1') } }), /'imageUri' must be an image reference .*got "my image:1"/],
  ['collector.image', 'fromBundle({ nodeImage: "" })', () => ({ collector: { image: CollectorImage.fromBundle({ nodeImage: '' }) } }), /^CollectorImage\.fromBundle\(\): 'nodeImage' must be a Node\.js image reference/],
  ['collector.image', 'fromAsset({ platform: "linux/s390x" })', () => ({ collector: { image: CollectorImage.fromAsset({ platform: 'linux/s390x' as never }) } }), /^CollectorImage\.fromAsset\(\): 'platform' must be CollectorImagePlatform\.LINUX_AMD64 or CollectorImagePlatform\.LINUX_ARM64, got "linux\/s390x"/],
  ['collector.image', 'fromBundle({ bundlePath: missing file })', () => ({ collector: { image: CollectorImage.fromBundle({ bundlePath: MISSING_BUNDLE }) } }), /^CollectorImage\.fromBundle\(\): 'bundlePath' ".*no-such-collector\.js" is not a file — build the collector bundle with `npm run build:collector`/],
  ['collector.image', 'fromAsset({ bundlePath: a directory })', () => ({ collector: { image: CollectorImage.fromAsset({ bundlePath: os.tmpdir() }) } }), /^CollectorImage\.fromAsset\(\): 'bundlePath' ".*" is not a file/],
  ['collector.manifestFileName', '"k8s/helper.yaml"', () => ({ collector: { manifestFileName: 'k8s/helper.yaml' } }), /^CniMetricsHelper: the manifest file name "k8s\/helper\.yaml" \(`collector\.manifestFileName`\) cannot be used: .*must be a plain file name such as cni-metrics-helper\.yaml/],
  ['collector.manifestFileName', '".."', () => ({ collector: { manifestFileName: '..' } }), /\(`collector\.manifestFileName`\) cannot be used: .*must be a plain file name/],
  ['collector.manifestFileName', 'the default, for a second helper in the stack', (stack) => {
    new CniMetricsHelper(stack, 'First', { clusterName: 'first', awsAuth: SAMPLE_AWS_AUTH, managedPolicyName: 'First', dashboardName: 'First', collector: { image: REGISTRY_IMAGE } });
    return {};
  }, /^CniMetricsHelper: the manifest file name "Stack\.cni-metrics-helper\.k8s\.yaml" \(`collector\.manifestFileName`\) cannot be used: .*another construct already writes Stack\.cni-metrics-helper\.k8s\.yaml/],
  ['collector.namespace', '"Kube_System"', () => ({ collector: { namespace: 'Kube_System' } }), /^CollectorChart: 'namespace' must be a Kubernetes namespace name/],
  ['collector.namespace', '"Kube_System", with Pod Identity', (stack) => ({ awsAuth: undefined, cluster: v2Cluster(stack), identity: CollectorIdentity.podIdentity(), collector: { namespace: 'Kube_System' } }), /^identity: serviceAccountNamespace 'Kube_System' is not a Kubernetes namespace name .*set as `collector\.namespace` of CniMetricsHelper/],
  ['collector.serviceAccountName', '"cni_metrics", with IRSA', (stack) => ({ awsAuth: undefined, cluster: v2Cluster(stack), identity: CollectorIdentity.irsa(), collector: { serviceAccountName: 'cni_metrics' } }), /^identity: serviceAccountName 'cni_metrics' is not a Kubernetes object name .*set as `collector\.serviceAccountName` of CniMetricsHelper/],
  ['collector.serviceAccountName', '"Has Spaces"', () => ({ collector: { serviceAccountName: 'Has Spaces' } }), /^CollectorChart: 'serviceAccountName' must be a DNS subdomain name/],
  ['collector.scrapeMode', '"ssh"', () => ({ collector: { scrapeMode: 'ssh' as never } }), /^CollectorChart: 'scrapeMode' must be one of proxy, direct, got "ssh"/],
  ['collector.intervalSeconds', 'NaN', () => ({ collector: { intervalSeconds: NaN } }), /^CollectorChart: 'intervalSeconds' must be a whole number from 1 to 86400/],
  ['collector.intervalSeconds', '86401', () => ({ collector: { intervalSeconds: 86_401 } }), /^CollectorChart: 'intervalSeconds' must be a whole number from 1 to 86400, got 86401/],
  ['collector.region', '"Oregon"', () => ({ collector: { region: 'Oregon' } }), /^CollectorChart: 'region' must be an AWS region such as eu-west-1, got "Oregon"/],
  ['collector.logLevel', '"TRACE"', () => ({ collector: { logLevel: 'TRACE' as never } }), /^CollectorChart: 'logLevel' must be one of DEBUG, INFO, WARN, ERROR/],
  ['collector.scrapeConcurrency', '-1', () => ({ collector: { scrapeConcurrency: -1 } }), /^CollectorChart: 'scrapeConcurrency' must be a whole number from 1 to 10000, got -1/],
  ['collector.scrapeTimeoutMs', '600001', () => ({ collector: { scrapeTimeoutMs: 600_001 } }), /^CollectorChart: 'scrapeTimeoutMs' must be a whole number from 10 to 600000/],
  ['collector.awsNodeNamespace', '64 characters', () => ({ collector: { awsNodeNamespace: 'n'.repeat(64) } }), /^CollectorChart: 'awsNodeNamespace' must be a Kubernetes namespace name/],
  ['collector.awsNodeLabelSelector', '" "', () => ({ collector: { awsNodeLabelSelector: ' ' } }), /^CollectorChart: 'awsNodeLabelSelector' must select the aws-node pods/],
  ['collector.awsNodeLabelSelector', 'a blank inside a value', () => ({ collector: { awsNodeLabelSelector: 'k8s-app=aws node' } }), /^CollectorChart: 'awsNodeLabelSelector' must be a Kubernetes label selector: .*joined by commas, got "k8s-app=aws node"$/],
  ['collector.awsNodeLabelSelector', 'a trailing comma', () => ({ collector: { awsNodeLabelSelector: 'k8s-app=aws-node,' } }), /'awsNodeLabelSelector' must be a Kubernetes label selector/],
  ['collector.awsNodeLabelSelector', 'an unclosed set', () => ({ collector: { awsNodeLabelSelector: 'k8s-app in (aws-node' } }), /'awsNodeLabelSelector' must be a Kubernetes label selector/],
  ['collector.awsNodeLabelSelector', 'a 64-character value', () => ({ collector: { awsNodeLabelSelector: `k8s-app=${'v'.repeat(64)}` } }), /'awsNodeLabelSelector' must be a Kubernetes label selector/],
  ['collector.resources', 'a CPU request above its limit', () => ({ collector: { resources: { cpu: { request: kplus.Cpu.units(1), limit: kplus.Cpu.millis(500) } } } }), /^CollectorChart: 'resources' cpu request must not be above its limit, got "request 1, limit 500m"$/],
  ['collector.resources', 'a memory request above its limit', () => ({ collector: { resources: { memory: { request: Size.gibibytes(1), limit: Size.mebibytes(256) } } } }), /^CollectorChart: 'resources' memory request must not be above its limit, got "request 1048576Ki, limit 262144Ki"$/],
  ['collector.extraEnv', 'setting AWS_REGION', () => ({ collector: { extraEnv: { AWS_REGION: 'eu-west-1' } } }), /^CollectorChart: 'extraEnv' may not set AWS_REGION, which the chart sets itself \(use the prop 'region'\)/],
  ['collector.extraEnv', 'a key "1X"', () => ({ collector: { extraEnv: { '1X': 'x' } } }), /^CollectorChart: 'extraEnv' keys must be environment variable names/],
  ['collector.priorityClassName', '"High"', () => ({ collector: { priorityClassName: 'High' } }), /^CollectorChart: 'priorityClassName' must be the name of a PriorityClass/],
];

describe('CniMetricsHelper props', () => {
  test('the valid base the rows change synthesizes', () => {
    expect(() => synthHelper(() => ({}))).not.toThrow();
  });

  test.each(HELPER_ROWS)('%s = %s fails synthesis naming the prop', (_prop, _value, change, message) => {
    expect(() => synthHelper(change)).toThrow(message);
  });
});

/** Part-level rows: each builds one exported part in a fresh stack. */
type PartChange = (scope: Construct) => void;

/** A valid chart with `props` changed. */
const chart = (props: Partial<CollectorChartProps>) => (): CollectorChart =>
  new CollectorChart(Testing.app(), 'Collector', { clusterName: 'c1', image: 'example.com/cni-metrics-helper:1.0.0', region: 'us-west-2', ...props });

const PART_ROWS: Row<PartChange>[] = [
  ['CollectorChart.image', 'with a blank inside', chart({ image: 'example.com/cni metrics:1' }), /^CollectorChart: 'image' must be an image reference: use CollectorImage\.bind\(scope\)\.imageUri, got "example\.com\/cni metrics:1"$/],
  ['CollectorChart.labels', 'a key with a blank', chart({ labels: { 'team name': 'platform' } }), /^CollectorChart: 'labels' keys must be \[prefix\/\]name \(a name is up to 63 letters.*\), got "team name"$/],
  ['CollectorChart.labels', 'a key with an upper-case prefix', chart({ labels: { 'Example.com/team': 'platform' } }), /'labels' keys must be \[prefix\/\]name/],
  ['CollectorChart.labels', 'a value with a slash', chart({ labels: { team: 'platform/network' } }), /^CollectorChart: 'labels' values must be empty or a name \(a name is up to 63 letters.*\), got "platform\/network"$/],
  ['CollectorChart.labels', 'a 64-character value', chart({ labels: { team: 't'.repeat(64) } }), /'labels' values must be empty or a name/],
  ['CollectorChart.serviceAccountAnnotations', 'a key with a blank', chart({ serviceAccountAnnotations: { 'role arn': 'x' } }), /^CollectorChart: 'serviceAccountAnnotations' keys must be \[prefix\/\]name .*, got "role arn"$/],
  ['CollectorChart.resources', 'an ephemeral storage request above its limit', chart({ resources: { ephemeralStorage: { request: Size.gibibytes(2), limit: Size.gibibytes(1) } } }), /^CollectorChart: 'resources' ephemeralStorage request must not be above its limit/],
  ['CniMetricsPolicy.roles', 'a role of another account', (scope) => new CniMetricsPolicy(scope, 'Policy', { roles: [iam.Role.fromRoleArn(scope, 'Other', 'arn:aws-cn:iam::999999999999:role/Nodes')] }), /^CniMetricsPolicy: role arn:aws-cn:iam::999999999999:role\/Nodes is in account 999999999999, but the policy deploys to account 111122223333/],
  ['CniMetricsPolicy.attachToRole', 'a role of another stack\'s account', (scope) => {
    const otherAccount = new Stack(Stack.of(scope).node.scope as App, 'Other', { env: { account: '999999999999', region: 'us-west-2' } });
    new CniMetricsPolicy(scope, 'Policy').attachToRole(new iam.Role(otherAccount, 'Nodes', { assumedBy: new iam.ServicePrincipal('ec2.amazonaws.com') }));
  }, /^CniMetricsPolicy: role Other\/Nodes is in account 999999999999, but the policy deploys to account 111122223333/],
  ['CniMetricsAlarms.period', '25 hours', (scope) => new CniMetricsAlarms(scope, 'Alarms', { clusterName: 'c1', period: Duration.hours(25) }), /^period is 1 day 1 hour: CloudWatch alarms look back at most one day/],
];

describe('CollectorChart awsNodeLabelSelector', () => {
  test.each([
    'k8s-app=aws-node', 'k8s-app == aws-node', 'k8s-app=aws-node,tier!=canary', 'app.kubernetes.io/name in (aws-node, aws-vpc-cni)',
    'k8s-app notin (other)', '!canary', 'k8s-app', 'example.com/role=', 'generation > 3',
  ])('accepts the selector %j, as the API server does', (awsNodeLabelSelector) => {
    expect(() => chart({ awsNodeLabelSelector })()).not.toThrow();
  });
});

describe('exported parts, where they check more than the helper table reaches', () => {
  test.each(PART_ROWS)('%s = %s fails synthesis naming the prop', (_prop, _value, build, message) => {
    const { app, stack } = newStack();
    expect(() => {
      build(stack);
      app.synth();
    }).toThrow(message);
  });
});

/**
 * Every invalid value of every prop fails synthesis with one message shape,
 * `cni-metrics-helper: <prop path>: <rule>, got <value> — <fix>`, naming the prop as the user wrote
 * it: first for CniMetricsHelper (`collector.scrapeMode`), then for the exported parts used alone
 * (`scrapeMode`), where they check something the helper's table cannot reach.
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
import { inAppV2Cluster, newStack as sharedNewStack } from './util';

const MISSING_BUNDLE = path.join(os.tmpdir(), 'no-such-dir', 'no-such-collector.js');
/** A registry image keeps each synthesis free of bundle packing and Docker assets. */
const REGISTRY_IMAGE = CollectorImage.fromRegistry('111122223333.dkr.ecr.us-west-2.amazonaws.com/cni-metrics-helper:1.0.0');

const tempDir = tempDirMaker('props-validation-');

/** A fresh app (synthesized into its own temporary directory) and a stack with an explicit env. */
function newStack(): { app: App; stack: Stack } {
  return sharedNewStack({ outdir: tempDir() });
}

/** An in-app cluster for the identities that need one. */
function v2Cluster(stack: Stack): eksv2.Cluster {
  return inAppV2Cluster(stack, { defaultCapacity: 1 });
}

/** Props of one row: changes to the valid base, made in the row's stack (for roles and the like). */
type HelperChange = (stack: Stack) => Partial<CniMetricsHelperProps>;

/** Builds the helper from a valid base with `change` applied, and synthesizes the app. */
function synthHelper(change: HelperChange): void {
  const { app, stack } = newStack();
  const changed = change(stack);
  const collector = { image: REGISTRY_IMAGE, ...changed.collector };
  new CniMetricsHelper(stack, 'Helper', { clusterName: 'my-cluster', awsAuth: SAMPLE_AWS_AUTH, ...changed, collector });
  app.synth();
}

/** A prop path, the bad value as shown in the test name, the change that sets it, and the message. */
type Row<Change> = [prop: string, value: string, change: Change, message: RegExp];

/** The message of one prop: `cni-metrics-helper: <prop>: <rest>`, `rest` a regular expression's source. */
const says = (prop: string, rest: string): RegExp => new RegExp(`^cni-metrics-helper: ${prop.replace(/\./g, '\\.')}: ${rest}`);

const HELPER_ROWS: Row<HelperChange>[] = [
  ['clusterName', '""', () => ({ clusterName: '' }), says('clusterName', `must be an EKS cluster name .*, got "" — set it to the EKS cluster's name`)],
  ['clusterName', 'with blanks and "!"', () => ({ clusterName: 'my cluster!' }), says('clusterName', 'must be an EKS cluster name .*, got "my cluster!"')],
  ['clusterName', '101 characters', () => ({ clusterName: 'c'.repeat(101) }), says('clusterName', 'must be an EKS cluster name \\(1-100 characters')],
  ['clusterName', 'starting with "-"', () => ({ clusterName: '-prod' }), says('clusterName', 'must be an EKS cluster name .*starting with a letter or digit\\), got "-prod"')],
  ['clusterName', 'absent, with no cluster', () => ({ clusterName: undefined }), says('clusterName', 'is required when no `cluster` is given — ')],
  ['awsAuth', '""', () => ({ awsAuth: '' }), says('awsAuth', 'no mapRoles found: the text is empty — ')],
  ['awsAuth', 'not YAML', () => ({ awsAuth: '- rolearn: [unclosed\n' }), says('awsAuth', 'the text is not valid YAML at line 2')],
  ['awsAuth', 'without a system:nodes role', () => ({ awsAuth: '- rolearn: arn:aws:iam::111122223333:role/Admin\n  groups: [system:masters]\n' }), says('awsAuth', 'no role in mapRoles is an EC2 node role')],
  ['awsAuth', 'Fargate roles only', () => ({ awsAuth: '- rolearn: arn:aws:iam::111122223333:role/Fargate\n  groups: [system:bootstrappers, system:nodes, system:node-proxier]\n' }), says('awsAuth', 'no role in mapRoles is an EC2 node role .*Fargate')],
  ['awsAuth', 'a role of another account', () => ({ awsAuth: '- rolearn: arn:aws:iam::999999999999:role/Nodes\n  groups: [system:nodes]\n' }), says('awsAuth', "node role 'arn:aws:iam::999999999999:role/Nodes' is in account 999999999999, but stack 'Stack' deploys to account 111122223333; .* — deploy")],
  ['nodeRoles', 'a role of another account', (stack) => ({ nodeRoles: [iam.Role.fromRoleArn(stack, 'Other', 'arn:aws:iam::999999999999:role/Nodes')] }), says('nodeRoles', 'role arn:aws:iam::999999999999:role/Nodes is in account 999999999999, but the policy deploys to account 111122223333; .* — pass roles of account 111122223333')],
  ['nodeRoles', '[] with no other source', () => ({ awsAuth: undefined, nodeRoles: [] }), says('nodeRoles', 'no node role to attach CNIMetricsHelperPolicy to — .*or `nodeRoles`')],
  ['identity', 'IRSA without cluster', () => ({ awsAuth: undefined, identity: CollectorIdentity.irsa() }), says('identity', 'IRSA needs `cluster`')],
  ['identity', 'Pod Identity without cluster', () => ({ awsAuth: undefined, identity: CollectorIdentity.podIdentity() }), says('identity', 'Pod Identity needs `cluster`')],
  ['identity', 'IRSA with awsAuth', () => ({ identity: CollectorIdentity.irsa() }), says('identity', 'awsAuth and nodeRoles are not used with identity IRSA')],
  ['cloudWatchNamespace', '""', () => ({ cloudWatchNamespace: '' }), says('cloudWatchNamespace', 'must be 1 to 255 characters long, got 0: "" — choose another CloudWatch namespace')],
  ['cloudWatchNamespace', '"AWS/EKS"', () => ({ cloudWatchNamespace: 'AWS/EKS' }), says('cloudWatchNamespace', `must not start with 'AWS/', which CloudWatch reserves for AWS services, got "AWS/EKS" — `)],
  ['cloudWatchNamespace', 'not ASCII', () => ({ cloudWatchNamespace: 'Kübernetes' }), says('cloudWatchNamespace', 'must be printable ASCII .*, got "Kübernetes"')],
  ['managedPolicyName', '"CNI metrics"', () => ({ managedPolicyName: 'CNI metrics' }), says('managedPolicyName', 'has characters IAM does not allow in a policy name, got "CNI metrics" — ')],
  ['managedPolicyName', '129 characters', () => ({ managedPolicyName: 'p'.repeat(129) }), says('managedPolicyName', 'must be 1 to 128 characters long, got "p+…')],
  ['dashboard.dashboardName', '"EKS CNI"', () => ({ dashboard: { dashboardName: 'EKS CNI' } }), says('dashboard.dashboardName', `must be a CloudWatch dashboard name .*, got "EKS CNI" — use e.g. 'EKS-CNI'`)],
  ['dashboard.dashboardName', '""', () => ({ dashboard: { dashboardName: '' } }), says('dashboard.dashboardName', 'must be a CloudWatch dashboard name')],
  ['period', '30 seconds', () => ({ period: Duration.seconds(30) }), says('period', 'must be a whole number of minutes .*, got 30 seconds — ')],
  ['period', '2 days (alarms on)', () => ({ period: Duration.days(2) }), says('period', 'is 2 days, but CloudWatch alarms look back at most one day — use a period of at most Duration\\.days\\(1\\), or turn the alarms off \\(`alarms: \\{ enabled: false \\}`')],
  ['alarms.ipUtilization.thresholdPercent', '0', () => ({ alarms: { ipUtilization: { thresholdPercent: 0 } } }), says('alarms.ipUtilization.thresholdPercent', 'must be > 0 and <= 100, got 0 — ')],
  ['alarms.ipUtilization.thresholdPercent', 'NaN', () => ({ alarms: { ipUtilization: { thresholdPercent: NaN } } }), says('alarms.ipUtilization.thresholdPercent', 'must be > 0 and <= 100, got NaN')],
  ['alarms.ipUtilization.evaluationPeriods', '1.5', () => ({ alarms: { ipUtilization: { evaluationPeriods: 1.5 } } }), says('alarms.ipUtilization.evaluationPeriods', 'must be a whole number >= 1, got 1.5')],
  ['alarms.ipUtilization.evaluationPeriods', '300 (over a day)', () => ({ alarms: { ipUtilization: { evaluationPeriods: 300 } } }), says('alarms.ipUtilization.evaluationPeriods', 'is 300, .* — use at most 288 periods of 5 minutes')],
  ['alarms.ipamdErrors.threshold', 'Infinity', () => ({ alarms: { ipamdErrors: { enabled: true, threshold: Infinity } } }), says('alarms.ipamdErrors.threshold', 'must be a whole number >= 1 .*, got Infinity')],
  ['alarms.collectorSilent.periods', '0', () => ({ alarms: { collectorSilent: { periods: 0 } } }), says('alarms.collectorSilent.periods', 'must be a whole number >= 1, got 0')],
  ['alarms.alarmNamePrefix', '" "', () => ({ alarms: { alarmNamePrefix: ' ' } }), says('alarms.alarmNamePrefix', 'must not be empty, got " " — leave it out')],
  ['alarms.alarmNamePrefix', '250 characters', () => ({ alarms: { alarmNamePrefix: 'p'.repeat(250) } }), says('alarms.alarmNamePrefix', 'makes the alarm name "p+-CNI-IpUtilization", which must be .* — shorten or clean alarms\\.alarmNamePrefix')],
  ['alarms.ipUtilization.alarmNameOverride', '""', () => ({ alarms: { ipUtilization: { alarmNameOverride: '' } } }), says('alarms.ipUtilization.alarmNameOverride', 'must be a CloudWatch alarm name \\(1-255 characters, not blank, no control characters\\), got "" — fix it or leave it out')],
  ['alarms.ipamdErrors.alarmNameOverride', 'with a newline', () => ({ alarms: { ipamdErrors: { enabled: true, alarmNameOverride: 'cni\nerrors' } } }), says('alarms.ipamdErrors.alarmNameOverride', 'must be a CloudWatch alarm name .*, got "cni\\\\nerrors"')],
  ['alarms.collectorSilent.alarmNameOverride', '256 characters', () => ({ alarms: { collectorSilent: { alarmNameOverride: 'a'.repeat(256) } } }), says('alarms.collectorSilent.alarmNameOverride', 'must be a CloudWatch alarm name')],
  ['alarms.alarmNamePrefix', 'with a tab', () => ({ alarms: { alarmNamePrefix: 'prod\teks' } }), says('alarms.alarmNamePrefix', 'makes the alarm name "prod\\\\teks-CNI-IpUtilization", which must be a CloudWatch alarm name')],
  ['collector.region', '"us-east-1" (alarms on, stack in us-west-2)', () => ({ collector: { region: 'us-east-1' } }), says('collector.region', 'is us-east-1, but the alarms are created in us-west-2')],
  ['collector.image', 'fromRegistry(" ")', () => ({ collector: { image: CollectorImage.fromRegistry(' ') } }), /^CollectorImage\.fromRegistry\(\): 'imageUri' must be an image reference/],
  ['collector.image', 'fromRegistry with a blank inside', () => ({ collector: { image: CollectorImage.fromRegistry('my image:1') } }), /'imageUri' must be an image reference .*got "my image:1"/],
  ['collector.image', 'fromBundle({ nodeImage: "" })', () => ({ collector: { image: CollectorImage.fromBundle({ nodeImage: '' }) } }), /^CollectorImage\.fromBundle\(\): 'nodeImage' must be a Node\.js image reference/],
  ['collector.image', 'fromAsset({ platform: "linux/s390x" })', () => ({ collector: { image: CollectorImage.fromAsset({ platform: 'linux/s390x' as never }) } }), /^CollectorImage\.fromAsset\(\): 'platform' must be CollectorImagePlatform\.LINUX_AMD64 or CollectorImagePlatform\.LINUX_ARM64, got "linux\/s390x"/],
  ['collector.image', 'fromBundle({ bundlePath: missing file })', () => ({ collector: { image: CollectorImage.fromBundle({ bundlePath: MISSING_BUNDLE }) } }), /^CollectorImage\.fromBundle\(\): 'bundlePath' ".*no-such-collector\.js" is not a file — build the collector bundle with `npm run build:collector`/],
  ['collector.image', 'fromAsset({ bundlePath: a directory })', () => ({ collector: { image: CollectorImage.fromAsset({ bundlePath: os.tmpdir() }) } }), /^CollectorImage\.fromAsset\(\): 'bundlePath' ".*" is not a file/],
  ['collector.manifestFileName', '"k8s/helper.yaml"', () => ({ collector: { manifestFileName: 'k8s/helper.yaml' } }), says('collector.manifestFileName', 'must be a plain file name, without a directory, got "k8s/helper.yaml" — e.g. cni-metrics-helper.yaml')],
  ['collector.manifestFileName', '".."', () => ({ collector: { manifestFileName: '..' } }), says('collector.manifestFileName', 'must be a plain file name')],
  ['collector.manifestFileName', 'the default, for a second helper in the stack', (stack) => {
    new CniMetricsHelper(stack, 'First', { clusterName: 'first', awsAuth: SAMPLE_AWS_AUTH, managedPolicyName: 'First', dashboard: { dashboardName: 'First' }, collector: { image: REGISTRY_IMAGE } });
    return {};
  }, says('collector.manifestFileName', 'another construct already writes Stack\\.cni-metrics-helper\\.k8s\\.yaml into this cloud assembly — choose another file name')],
  ['collector.namespace', '"Kube_System"', () => ({ collector: { namespace: 'Kube_System' } }), says('collector.namespace', 'must be a Kubernetes namespace name .*, got "Kube_System" — ')],
  ['collector.namespace', '"Kube_System", with Pod Identity', (stack) => ({ awsAuth: undefined, cluster: v2Cluster(stack), identity: CollectorIdentity.podIdentity(), collector: { namespace: 'Kube_System' } }), says('collector.namespace', 'must be a Kubernetes namespace name')],
  ['collector.serviceAccountName', '"cni_metrics", with IRSA', (stack) => ({ awsAuth: undefined, cluster: v2Cluster(stack), identity: CollectorIdentity.irsa(), collector: { serviceAccountName: 'cni_metrics' } }), says('collector.serviceAccountName', 'must be a Kubernetes object name .*, got "cni_metrics"')],
  ['collector.serviceAccountName', '"Has Spaces"', () => ({ collector: { serviceAccountName: 'Has Spaces' } }), says('collector.serviceAccountName', 'must be a Kubernetes object name \\(a DNS subdomain')],
  ['collector.scrapeMode', '"ssh"', () => ({ collector: { scrapeMode: 'ssh' as never } }), says('collector.scrapeMode', 'must be one of proxy, direct, got "ssh" — use ScrapeMode\\.PROXY or ScrapeMode\\.DIRECT')],
  ['collector.intervalSeconds', 'NaN', () => ({ collector: { intervalSeconds: NaN } }), says('collector.intervalSeconds', 'must be a whole number from 1 to 86400 \\(whole seconds\\), got NaN')],
  ['collector.intervalSeconds', '86401', () => ({ collector: { intervalSeconds: 86_401 } }), says('collector.intervalSeconds', 'must be a whole number from 1 to 86400 \\(whole seconds\\), got 86401 — leave it out for the default, 30')],
  ['collector.region', '"Oregon"', () => ({ collector: { region: 'Oregon' } }), says('collector.region', 'must be an AWS region, got "Oregon" — e\\.g\\. eu-west-1')],
  ['collector.logLevel', '"TRACE"', () => ({ collector: { logLevel: 'TRACE' as never } }), says('collector.logLevel', 'must be one of DEBUG, INFO, WARN, ERROR, got "TRACE"')],
  ['collector.scrapeConcurrency', '-1', () => ({ collector: { scrapeConcurrency: -1 } }), says('collector.scrapeConcurrency', 'must be a whole number from 1 to 10000 \\(parallel scrapes\\), got -1')],
  ['collector.scrapeTimeoutMs', '600001', () => ({ collector: { scrapeTimeoutMs: 600_001 } }), says('collector.scrapeTimeoutMs', 'must be a whole number from 10 to 600000')],
  ['collector.awsNodeNamespace', '64 characters', () => ({ collector: { awsNodeNamespace: 'n'.repeat(64) } }), says('collector.awsNodeNamespace', 'must be a Kubernetes namespace name')],
  ['collector.awsNodeLabelSelector', '" "', () => ({ collector: { awsNodeLabelSelector: ' ' } }), says('collector.awsNodeLabelSelector', 'must be a Kubernetes label selector')],
  ['collector.awsNodeLabelSelector', 'a blank inside a value', () => ({ collector: { awsNodeLabelSelector: 'k8s-app=aws node' } }), says('collector.awsNodeLabelSelector', 'must be a Kubernetes label selector: .*joined by commas, got "k8s-app=aws node" — ')],
  ['collector.awsNodeLabelSelector', 'a trailing comma', () => ({ collector: { awsNodeLabelSelector: 'k8s-app=aws-node,' } }), says('collector.awsNodeLabelSelector', 'must be a Kubernetes label selector')],
  ['collector.awsNodeLabelSelector', 'an unclosed set', () => ({ collector: { awsNodeLabelSelector: 'k8s-app in (aws-node' } }), says('collector.awsNodeLabelSelector', 'must be a Kubernetes label selector')],
  ['collector.awsNodeLabelSelector', 'a 64-character value', () => ({ collector: { awsNodeLabelSelector: `k8s-app=${'v'.repeat(64)}` } }), says('collector.awsNodeLabelSelector', 'must be a Kubernetes label selector')],
  ['collector.resources', 'a CPU request above its limit', () => ({ collector: { resources: { cpu: { request: kplus.Cpu.units(1), limit: kplus.Cpu.millis(500) } } } }), says('collector.resources', 'cpu request must not be above its limit, got "request 1, limit 500m" — lower the cpu request or raise its limit$')],
  ['collector.resources', 'a memory request above its limit', () => ({ collector: { resources: { memory: { request: Size.gibibytes(1), limit: Size.mebibytes(256) } } } }), says('collector.resources', 'memory request must not be above its limit, got "request 1048576Ki, limit 262144Ki"')],
  ['collector.extraEnv', 'setting AWS_REGION', () => ({ collector: { extraEnv: { AWS_REGION: 'eu-west-1' } } }), says('collector.extraEnv', 'may not set AWS_REGION, which the chart sets itself, got "AWS_REGION" — set the prop collector\\.region instead$')],
  ['collector.expectedNodeCount', '0', () => ({ collector: { expectedNodeCount: 0 } }), says('collector.expectedNodeCount', 'must be a whole number from 1 to 110000 \\(nodes\\), got 0 — give the number of nodes')],
  ['collector.expectedNodeCount', '1.5', () => ({ collector: { expectedNodeCount: 1.5 } }), says('collector.expectedNodeCount', 'must be a whole number from 1 to 110000 \\(nodes\\), got 1.5')],
  ['collector.extraEnv', 'setting NODE_OPTIONS', () => ({ collector: { extraEnv: { NODE_OPTIONS: '--max-old-space-size=100' } } }), says('collector.extraEnv', 'may not set NODE_OPTIONS, .* set the prop collector\\.expectedNodeCount or collector\\.resources instead$')],
  ['collector.extraEnv', 'a key "1X"', () => ({ collector: { extraEnv: { '1X': 'x' } } }), says('collector.extraEnv', 'keys must be environment variable names')],
  ['collector.priorityClassName', '"High"', () => ({ collector: { priorityClassName: 'High' } }), says('collector.priorityClassName', 'must be the name of a PriorityClass')],
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
  ['CollectorChart.scrapeMode', '"ssh"', chart({ scrapeMode: 'ssh' as never }), says('scrapeMode', 'must be one of proxy, direct, got "ssh"')],
  ['CollectorChart.image', 'with a blank inside', chart({ image: 'example.com/cni metrics:1' }), says('image', 'must be an image reference, got "example\\.com/cni metrics:1" — use CollectorImage\\.bind\\(scope\\)\\.imageUri$')],
  ['CollectorChart.labels', 'a key with a blank', chart({ labels: { 'team name': 'platform' } }), says('labels', 'keys must be \\[prefix/\\]name \\(a name is up to 63 letters.*\\), got "team name" — ')],
  ['CollectorChart.labels', 'a key with an upper-case prefix', chart({ labels: { 'Example.com/team': 'platform' } }), says('labels', 'keys must be \\[prefix/\\]name')],
  ['CollectorChart.labels', 'a value with a slash', chart({ labels: { team: 'platform/network' } }), says('labels', 'values must be empty or a name \\(a name is up to 63 letters.*\\), got "platform/network" — ')],
  ['CollectorChart.labels', 'a 64-character value', chart({ labels: { team: 't'.repeat(64) } }), says('labels', 'values must be empty or a name')],
  ['CollectorChart.serviceAccountAnnotations', 'a key with a blank', chart({ serviceAccountAnnotations: { 'role arn': 'x' } }), says('serviceAccountAnnotations', 'keys must be \\[prefix/\\]name .*, got "role arn" — ')],
  ['CollectorChart.resources', 'an ephemeral storage request above its limit', chart({ resources: { ephemeralStorage: { request: Size.gibibytes(2), limit: Size.gibibytes(1) } } }), says('resources', 'ephemeralStorage request must not be above its limit')],
  ['CniMetricsPolicy.roles', 'a role of another account', (scope) => new CniMetricsPolicy(scope, 'Policy', { roles: [iam.Role.fromRoleArn(scope, 'Other', 'arn:aws-cn:iam::999999999999:role/Nodes')] }), says('roles', 'role arn:aws-cn:iam::999999999999:role/Nodes is in account 999999999999, but the policy deploys to account 111122223333')],
  ['CniMetricsPolicy.attachToRole', 'a role of another stack\'s account', (scope) => {
    const otherAccount = new Stack(Stack.of(scope).node.scope as App, 'Other', { env: { account: '999999999999', region: 'us-west-2' } });
    new CniMetricsPolicy(scope, 'Policy').attachToRole(new iam.Role(otherAccount, 'Nodes', { assumedBy: new iam.ServicePrincipal('ec2.amazonaws.com') }));
  }, says('roles', 'role Other/Nodes is in account 999999999999, but the policy deploys to account 111122223333')],
  ['CniMetricsAlarms.period', '25 hours', (scope) => new CniMetricsAlarms(scope, 'Alarms', { clusterName: 'c1', period: Duration.hours(25) }), says('period', 'is 1 day 1 hour, but CloudWatch alarms look back at most one day')],
  ['CniMetricsAlarms.region', '"us-east-1" in a us-west-2 stack', (scope) => new CniMetricsAlarms(scope, 'Alarms', { clusterName: 'c1', region: 'us-east-1' }), says('region', 'is us-east-1, but the alarms are created in us-west-2')],
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

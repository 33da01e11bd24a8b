/**
 * cdk-nag 3 AwsSolutions checks on the example stack and on a stack with an in-app aws-eks cluster.
 *
 * Our constructs carry one acknowledgment, in lib/cni-metrics-policy.ts: AwsSolutions-IAM5 on the
 * policy's Resource '*', because cloudwatch:PutMetricData has no resource-level permissions (the
 * cloudwatch:namespace condition narrows it instead). It lives with the construct because every
 * user would otherwise write the same suppression against our internals. Findings on the aws-eks
 * Cluster (its roles, VPC, providers) are not ours: this test acknowledges them, each with a
 * reason, on the cluster and its provider stacks only.
 */
import { App, PolicyViolation, Stack, Validations } from 'aws-cdk-lib';
import * as eks from 'aws-cdk-lib/aws-eks';
import * as iam from 'aws-cdk-lib/aws-iam';
import { AwsSolutionsChecks } from 'cdk-nag';
import { IConstruct } from 'constructs';
import { ExampleStack } from '../../bin/example-stack';
import { CniMetricsHelper, CollectorIdentity } from '../../lib';
import { inAppCluster, newApp } from './util';

const ENV = { account: '111122223333', region: 'us-west-2' };


/** Synthesizes the app (aspects attach the policy to node roles then) and runs the AwsSolutions pack on it. */
function awsSolutionsFindings(app: App): PolicyViolation[] {
  app.synth({ force: true });
  return new AwsSolutionsChecks(app).validateScope(app).violations;
}

/** One finding per violating resource, as `rule at path`, for readable failures. */
function findingsAt(violations: readonly PolicyViolation[]): string[] {
  return violations.flatMap((v) => v.violatingResources.map((r) => `${v.ruleName} at ${r.constructPath}`));
}

interface Acknowledgment {
  readonly path: string;
  readonly id: string;
  readonly reason: string;
}

/** Every acknowledgment recorded under `scope`, with the construct it is recorded on. */
function acknowledgmentsUnder(scope: IConstruct): Acknowledgment[] {
  return scope.node.findAll().flatMap((construct) => construct.node.metadata
    .filter((entry) => entry.type === Validations.ACKNOWLEDGED_RULES_METADATA_KEY)
    .flatMap((entry) => Object.entries(entry.data as Record<string, string>)
      .map(([id, reason]) => ({ path: construct.node.path, id: id.replace(/^annotation::/i, ''), reason }))));
}

const PUT_METRIC_DATA_REASON = /^cloudwatch:PutMetricData supports no resource-level permissions, so its Resource can only be "\*"; the cloudwatch:namespace condition narrows/;

describe('cdk-nag AwsSolutions on the example stack', () => {
  test('with subnet metrics on, the DescribeSubnets statement is covered by the same acknowledgment, which says why', () => {
    // GIVEN a helper for a cluster managed elsewhere, with subnet metrics
    const app = newApp();
    const stack = new Stack(app, 'Subnets', { env: ENV });
    const role = iam.Role.fromRoleName(stack, 'NodeRole', 'node-role');
    new CniMetricsHelper(stack, 'Helper', { clusterName: 'prod', nodeRoles: [role], subnetMetrics: { enabled: true, subnetIds: ['subnet-0123456789abcdef0'] } });

    // THEN no finding is left, and the one acknowledgment names both actions
    expect(findingsAt(awsSolutionsFindings(app))).toEqual([]);
    expect(acknowledgmentsUnder(stack)).toEqual([{
      path: 'Subnets/Helper/Policy/Resource',
      id: 'AwsSolutions-IAM5[Resource::*]',
      reason: expect.stringMatching(/PutMetricData .* ec2:DescribeSubnets \(only when subnet metrics are on\) is a read-only List action/),
    }]);
  });

  test('finds nothing: the one finding on our policy is acknowledged, with its reason, on that policy only', () => {
    // GIVEN the example app, as `npx cdk synth` builds it
    const app = newApp();
    const stack = new ExampleStack(app, 'CniMetricsHelperExample', { env: ENV });

    // THEN no finding of any level is left
    expect(findingsAt(awsSolutionsFindings(app))).toEqual([]);
    // AND the only acknowledgment is the IAM5 Resource::* finding on the managed policy
    expect(acknowledgmentsUnder(stack)).toEqual([{
      path: 'CniMetricsHelperExample/CniMetricsHelper/Policy/Resource',
      id: 'AwsSolutions-IAM5[Resource::*]',
      reason: expect.stringMatching(PUT_METRIC_DATA_REASON),
    }]);
  });

  test('the acknowledged finding is real: the same statement on a policy of its own is flagged', () => {
    // GIVEN the helper's statement, copied onto a managed policy without the acknowledgment
    const app = newApp();
    const stack = new Stack(app, 'Bare', { env: ENV });
    new iam.ManagedPolicy(stack, 'Bare', {
      statements: [new iam.PolicyStatement({
        actions: ['cloudwatch:PutMetricData'],
        resources: ['*'],
        conditions: { StringEquals: { 'cloudwatch:namespace': 'Kubernetes' } },
      })],
    });

    // THEN cdk-nag reports exactly that finding
    expect(findingsAt(awsSolutionsFindings(app))).toEqual(['AwsSolutions-IAM5[Resource::*] at Bare/Bare/Resource']);
  });
});

/**
 * Why each AwsSolutions rule may fire on what aws-eks makes for a cluster. A finding of a rule not
 * listed here fails the test: decide whether it is the cluster's, and write its reason.
 */
const CLUSTER_FINDING_REASONS: Readonly<Record<string, string>> = {
  'AwsSolutions-VPC7': 'The VPC is the one aws-eks creates for the test cluster; VPC flow logs are the VPC owner\'s choice, not the CNI metrics helper\'s.',
  'AwsSolutions-IAM4': 'AWS managed policies that aws-eks attaches to the roles of the cluster, its node group and its provider functions; set by aws-cdk-lib.',
  'AwsSolutions-IAM5': 'Wildcards aws-eks writes into the policies of its cluster creation role and provider functions (to invoke versions of its own handlers); set by aws-cdk-lib.',
  'AwsSolutions-EKS1': 'The test cluster keeps the aws-eks default endpoint access; endpoint access is the cluster owner\'s choice.',
  'AwsSolutions-EKS2': 'Control plane log types are the cluster owner\'s choice; the test cluster keeps the aws-eks default.',
  'AwsSolutions-SF1': 'The waiter state machine of the aws-eks cluster resource provider; its logging is set by aws-cdk-lib.',
  'AwsSolutions-SF2': 'The waiter state machine of the aws-eks cluster resource provider; its tracing is set by aws-cdk-lib.',
  'AwsSolutions-L1': 'The Lambda runtime of the aws-eks kubectl provider is chosen by aws-cdk-lib.',
};

/** The cluster, and the provider stacks aws-eks adds beside it (`@aws-cdk--aws-eks.ClusterResourceProvider`, `...KubectlProvider`). */
function clusterOwnedRoots(cluster: eks.Cluster): IConstruct[] {
  const stack = Stack.of(cluster);
  return [cluster, ...stack.node.children.filter((child) => child.node.id.startsWith('@aws-cdk--aws-eks.'))];
}

/** The cluster-owned construct a path is under, or undefined for anything else (ours, or a finding without a path). */
function ownerOf(path: string | undefined, roots: readonly IConstruct[], ours: readonly IConstruct[]): IConstruct | undefined {
  if (path === undefined) return undefined;
  const isUnder = (root: IConstruct) => path === root.node.path || path.startsWith(`${root.node.path}/`);
  if (ours.some(isUnder)) return undefined;
  return roots.find(isUnder);
}

describe('cdk-nag AwsSolutions on a stack with an in-app aws-eks cluster and the helper', () => {
  test('finds nothing on our constructs, and nothing at all once the cluster\'s own findings are acknowledged', () => {
    // GIVEN a cluster with its default node group, the helper with the node-role identity (and the
    // collector image built as an asset), and a second helper with Pod Identity
    const app = newApp();
    const stack = new Stack(app, 'InApp', { env: ENV });
    const cluster = inAppCluster(stack, { defaultCapacity: undefined });
    const helper = new CniMetricsHelper(stack, 'Helper', { cluster });
    const podIdentityHelper = new CniMetricsHelper(stack, 'PodIdentityHelper', {
      cluster,
      identity: CollectorIdentity.podIdentity(),
      managedPolicyName: 'CNIMetricsHelperPolicy-pod-identity',
      dashboard: { dashboardName: 'EKS-CNI-metrics-pod-identity' },
      alarms: { alarmNamePrefix: 'pod-identity' },
      collector: { namespace: 'monitoring' },
    });
    // The collector manifests and the Pod Identity agent add-on go into the cluster's scope: ours too.
    const addedToCluster = ['cni-metrics-helper-Helper', 'cni-metrics-helper-PodIdentityHelper', 'EksPodIdentityAgentAddon'];
    const ours: IConstruct[] = [helper, podIdentityHelper, ...addedToCluster.map((id) => cluster.node.findChild(id))];

    // WHEN the checks run
    const roots = clusterOwnedRoots(cluster);
    const findings = awsSolutionsFindings(app);

    // THEN the checks found something (the cluster's), and every finding is on the cluster or its providers, none on ours
    expect(findings.length).toBeGreaterThan(0);
    const notTheClusters = findings.filter((v) => v.violatingResources.some((r) => ownerOf(r.constructPath, roots, ours) === undefined));
    expect(findingsAt(notTheClusters)).toEqual([]);

    // AND acknowledging the cluster's findings, each with its rule's reason, on the cluster or its
    // providers, leaves nothing
    for (const violation of findings) {
      const rule = violation.ruleName.replace(/\[.*\]$/, '');
      const reason = CLUSTER_FINDING_REASONS[rule];
      expect([rule, reason]).toEqual([rule, expect.any(String)]);
      for (const resource of violation.violatingResources) {
        Validations.of(ownerOf(resource.constructPath, roots, ours)!).acknowledge({ id: violation.ruleName, reason });
      }
    }
    expect(findingsAt(new AwsSolutionsChecks(app).validateScope(app).violations)).toEqual([]);
    // AND the only acknowledgments on our constructs are the policies' own
    expect(ours.flatMap(acknowledgmentsUnder).map((a) => `${a.id} at ${a.path}`)).toEqual([
      'AwsSolutions-IAM5[Resource::*] at InApp/Helper/Policy/Resource',
      'AwsSolutions-IAM5[Resource::*] at InApp/PodIdentityHelper/Policy/Resource',
    ]);
  });
});

import { KubectlV33Layer } from '@aws-cdk/lambda-layer-kubectl-v33';
import { Stack } from 'aws-cdk-lib';
import { Match, Template } from 'aws-cdk-lib/assertions';
import * as ec2 from 'aws-cdk-lib/aws-ec2';
import * as eks from 'aws-cdk-lib/aws-eks';
import * as eksv2 from 'aws-cdk-lib/aws-eks-v2';
import * as iam from 'aws-cdk-lib/aws-iam';
import { CollectorIdentity, CollectorIdentityType } from '../../lib/collector-identity';
import { importedCluster, inAppCluster, inAppV2Cluster, newStack as newAppStack } from './util';

/** The annotation the EKS pod identity webhook reads. */
const IRSA_ROLE_ANNOTATION = 'eks.amazonaws.com/role-arn';
import { CniMetricsPolicy } from '../../lib/cni-metrics-policy';

const SERVICE_ACCOUNT = { serviceAccountNamespace: 'kube-system', serviceAccountName: 'cni-metrics-helper' };

/** A fresh app and stack. Asset staging is off: copying the kubectl layer is slow and not under test. */
function newStack(): Stack {
  return newAppStack().stack;
}

function v2Cluster(stack: Stack): eksv2.Cluster {
  return inAppV2Cluster(stack, { defaultCapacity: 1 });
}

function logicalId(construct: { node: { defaultChild?: unknown } }): string {
  const resource = construct.node.defaultChild as iam.CfnRole;
  return Stack.of(resource).getLogicalId(resource);
}

describe('CollectorIdentity.nodeRole', () => {
  test('makes nothing and asks for no annotation: the node roles carry the policy', () => {
    const stack = newStack();
    const policy = new CniMetricsPolicy(stack, 'Policy');

    const binding = CollectorIdentity.nodeRole().bind(stack, 'Identity', { ...SERVICE_ACCOUNT, policy });

    expect(binding).toEqual({ type: CollectorIdentityType.NODE_ROLE, serviceAccountAnnotations: {} });
    expect(stack.node.tryFindChild('Identity')).toBeUndefined();
    Template.fromStack(stack).resourceCountIs('AWS::IAM::Role', 0);
  });
});

describe('CollectorIdentity.irsa', () => {
  test('makes a role only the collector ServiceAccount can assume through the OIDC provider, with the policy', () => {
    // GIVEN
    const stack = newStack();
    const cluster = inAppCluster(stack);
    const policy = new CniMetricsPolicy(stack, 'Policy');

    // WHEN
    const binding = CollectorIdentity.irsa().bind(stack, 'Identity', { ...SERVICE_ACCOUNT, cluster, policy });

    // THEN the trust: web identity from the cluster's provider, on conditions computed at deploy time
    const template = Template.fromStack(stack);
    const roleId = logicalId(binding.role!);
    const conditions = template.findResources('Custom::AWSCDKCfnJson');
    const [conditionsId] = Object.keys(conditions);
    expect(Object.keys(conditions)).toHaveLength(1);
    template.hasResource('AWS::IAM::Role', {
      Properties: {
        AssumeRolePolicyDocument: {
          Statement: [
            {
              Effect: 'Allow',
              Action: 'sts:AssumeRoleWithWebIdentity',
              Principal: { Federated: stack.resolve(cluster.openIdConnectProvider.openIdConnectProviderArn) },
              Condition: { StringEquals: { 'Fn::GetAtt': [conditionsId, 'Value'] } },
            },
          ],
        },
      },
    });
    // ... which are exactly sub = the ServiceAccount and aud = STS, keyed by the issuer
    const issuer = stack.resolve(cluster.openIdConnectProvider.openIdConnectProviderIssuer);
    expect(conditions[conditionsId].Properties.Value).toEqual({
      'Fn::Join': ['', ['{"', issuer, ':sub":"system:serviceaccount:kube-system:cni-metrics-helper","', issuer, ':aud":"sts.amazonaws.com"}']],
    });

    // AND the policy is attached, the annotation names the role
    template.hasResourceProperties('AWS::IAM::ManagedPolicy', { Roles: [{ Ref: roleId }] });
    expect(binding.type).toBe(CollectorIdentityType.IRSA);
    expect(Object.keys(binding.serviceAccountAnnotations)).toEqual([IRSA_ROLE_ANNOTATION]);
    expect(stack.resolve(binding.serviceAccountAnnotations[IRSA_ROLE_ANNOTATION])).toEqual({ 'Fn::GetAtt': [roleId, 'Arn'] });
  });

  test('needs an in-app cluster', () => {
    const stack = newStack();
    const policy = new CniMetricsPolicy(stack, 'Policy');

    expect(() => CollectorIdentity.irsa().bind(stack, 'Identity', { ...SERVICE_ACCOUNT, policy })).toThrow(
      /^cni-metrics-helper: identity: IRSA needs `cluster` \(an aws-eks or aws-eks-v2 cluster, in this app or imported\) to trust the cluster's OIDC provider — pass `cluster`, or .*CollectorIdentity.nodeRole\(\)/,
    );
  });

  test.each([
    ['a namespace with upper case', { serviceAccountNamespace: 'Kube-System' }, /^cni-metrics-helper: serviceAccountNamespace: must be a Kubernetes namespace name .*, got "Kube-System"/],
    ['a namespace longer than 63 characters', { serviceAccountNamespace: 'n'.repeat(64) }, /^cni-metrics-helper: serviceAccountNamespace: must be a Kubernetes namespace name .*, got "n+"/],
    ['a name with an underscore', { serviceAccountName: 'cni_metrics' }, /^cni-metrics-helper: serviceAccountName: must be a Kubernetes object name .*, got "cni_metrics" — e.g. 'cni-metrics-helper'$/],
  ])('rejects %s', (_what, override, message) => {
    const stack = newStack();
    const cluster = v2Cluster(stack);
    const policy = new CniMetricsPolicy(stack, 'Policy');

    expect(() => CollectorIdentity.irsa().bind(stack, 'Identity', { ...SERVICE_ACCOUNT, ...override, cluster, policy })).toThrow(message);
  });
});

describe('CollectorIdentity.podIdentity', () => {
  test('makes a role for pods.eks.amazonaws.com, associates it with the ServiceAccount and adds the agent', () => {
    // GIVEN
    const stack = newStack();
    const cluster = v2Cluster(stack);
    const policy = new CniMetricsPolicy(stack, 'Policy');

    // WHEN
    const binding = CollectorIdentity.podIdentity().bind(stack, 'Identity', { ...SERVICE_ACCOUNT, cluster, policy });

    // THEN
    const template = Template.fromStack(stack);
    const roleId = logicalId(binding.role!);
    template.hasResourceProperties('AWS::IAM::Role', {
      AssumeRolePolicyDocument: {
        Statement: [{
          Effect: 'Allow',
          Principal: { Service: 'pods.eks.amazonaws.com' },
          Action: ['sts:AssumeRole', 'sts:TagSession'],
          // Only for clusters of the stack's own account.
          Condition: { StringEquals: { 'aws:SourceAccount': '111122223333' } },
        }],
      },
    });
    template.hasResourceProperties('AWS::IAM::ManagedPolicy', { Roles: [{ Ref: roleId }] });
    template.resourceCountIs('AWS::EKS::PodIdentityAssociation', 1);
    const agentId = logicalId(cluster.eksPodIdentityAgent!);
    template.hasResource('AWS::EKS::PodIdentityAssociation', {
      Properties: {
        ClusterName: stack.resolve(cluster.clusterName),
        Namespace: 'kube-system',
        ServiceAccount: 'cni-metrics-helper',
        RoleArn: { 'Fn::GetAtt': [roleId, 'Arn'] },
      },
      DependsOn: Match.arrayWith([agentId]),
    });
    template.resourcePropertiesCountIs('AWS::EKS::Addon', { AddonName: 'eks-pod-identity-agent' }, 1);
    expect(binding.serviceAccountAnnotations).toEqual({});
    expect(binding.resources?.node.path).toBe('Stack/Identity');
  });

  test('uses the agent add-on the app already has instead of adding another', () => {
    // GIVEN the agent added by hand, not through cluster.eksPodIdentityAgent
    const stack = newStack();
    const cluster = v2Cluster(stack);
    const agent = new eksv2.Addon(stack, 'Agent', { cluster, addonName: 'eks-pod-identity-agent' });
    const policy = new CniMetricsPolicy(stack, 'Policy');

    // WHEN
    CollectorIdentity.podIdentity().bind(stack, 'Identity', { ...SERVICE_ACCOUNT, cluster, policy });

    // THEN
    const template = Template.fromStack(stack);
    template.resourcePropertiesCountIs('AWS::EKS::Addon', { AddonName: 'eks-pod-identity-agent' }, 1);
    template.hasResource('AWS::EKS::PodIdentityAssociation', { DependsOn: Match.arrayWith([logicalId(agent)]) });
  });

  test('adds no agent when told it is installed elsewhere', () => {
    const stack = newStack();
    const cluster = v2Cluster(stack);
    const policy = new CniMetricsPolicy(stack, 'Policy');

    CollectorIdentity.podIdentity({ addAgent: false }).bind(stack, 'Identity', { ...SERVICE_ACCOUNT, cluster, policy });

    const template = Template.fromStack(stack);
    template.resourceCountIs('AWS::EKS::PodIdentityAssociation', 1);
    template.resourcePropertiesCountIs('AWS::EKS::Addon', { AddonName: 'eks-pod-identity-agent' }, 0);
  });

  test('needs an in-app cluster', () => {
    const stack = newStack();
    const policy = new CniMetricsPolicy(stack, 'Policy');

    expect(() => CollectorIdentity.podIdentity().bind(stack, 'Identity', { ...SERVICE_ACCOUNT, policy })).toThrow(
      /^cni-metrics-helper: identity: Pod Identity needs `cluster` \(an aws-eks or aws-eks-v2 cluster, in this app or imported\) to associate the role with the ServiceAccount — pass `cluster`/,
    );
  });

  test('is refused on Fargate, pointing to IRSA', () => {
    const stack = newStack();
    const cluster = new eks.FargateCluster(stack, 'Cluster', {
      version: eks.KubernetesVersion.V1_33,
      kubectlLayer: new KubectlV33Layer(stack, 'kubectl'),
    });
    const policy = new CniMetricsPolicy(stack, 'Policy');

    expect(() => CollectorIdentity.podIdentity().bind(stack, 'Identity', { ...SERVICE_ACCOUNT, cluster, policy })).toThrow(
      /^cni-metrics-helper: identity: Pod Identity is not available on Fargate .* — use CollectorIdentity.irsa\(\) on a Fargate cluster$/,
    );
  });

  test('works with an aws-eks cluster too', () => {
    const stack = newStack();
    const cluster = inAppCluster(stack, { defaultCapacity: 1, defaultCapacityInstance: new ec2.InstanceType('m5.large') });
    const policy = new CniMetricsPolicy(stack, 'Policy');

    const binding = CollectorIdentity.podIdentity().bind(stack, 'Identity', { ...SERVICE_ACCOUNT, cluster, policy });

    const template = Template.fromStack(stack);
    template.hasResourceProperties('AWS::EKS::PodIdentityAssociation', {
      ClusterName: stack.resolve(cluster.clusterName),
      RoleArn: { 'Fn::GetAtt': [logicalId(binding.role!), 'Arn'] },
    });
    template.resourcePropertiesCountIs('AWS::EKS::Addon', { AddonName: 'eks-pod-identity-agent' }, 1);
  });
});

describe('CollectorIdentity with an imported cluster', () => {
  test('IRSA trusts the OIDC provider given to fromClusterAttributes', () => {
    // GIVEN an existing cluster imported with its OIDC provider
    const stack = newStack();
    const provider = iam.OpenIdConnectProvider.fromOpenIdConnectProviderArn(stack, 'Oidc',
      'arn:aws:iam::111122223333:oidc-provider/oidc.eks.us-west-2.amazonaws.com/id/EXAMPLED539D4633E53DE1B71EXAMPLE');
    const cluster = importedCluster(stack, { openIdConnectProvider: provider });
    const policy = new CniMetricsPolicy(stack, 'Policy');
    // WHEN
    const binding = CollectorIdentity.irsa().bind(stack, 'Identity', { ...SERVICE_ACCOUNT, cluster, policy });
    // THEN the collector's role trusts that provider with web identity
    const trust = stack.resolve((binding.role!.node.defaultChild as iam.CfnRole).assumeRolePolicyDocument);
    expect(trust.Statement).toEqual([expect.objectContaining({
      Action: 'sts:AssumeRoleWithWebIdentity',
      Principal: { Federated: provider.openIdConnectProviderArn },
    })]);
    expect(binding.type).toBe(CollectorIdentityType.IRSA);
  });

  test('IRSA without the OIDC provider fails naming the attribute that fixes it', () => {
    const stack = newStack();
    const cluster = importedCluster(stack);
    const policy = new CniMetricsPolicy(stack, 'Policy');
    expect(() => CollectorIdentity.irsa().bind(stack, 'Identity', { ...SERVICE_ACCOUNT, cluster, policy })).toThrow(
      /^cni-metrics-helper: identity: IRSA needs the OIDC provider of cluster Stack\/Imported, which has none .* — pass `openIdConnectProvider` to fromClusterAttributes/,
    );
  });

  test('Pod Identity associates the role with the imported cluster by name, adding no agent it cannot own', () => {
    const stack = newStack();
    const cluster = importedCluster(stack);
    const policy = new CniMetricsPolicy(stack, 'Policy');
    CollectorIdentity.podIdentity().bind(stack, 'Identity', { ...SERVICE_ACCOUNT, cluster, policy });
    const template = Template.fromStack(stack);
    template.hasResourceProperties('AWS::EKS::PodIdentityAssociation', { ClusterName: 'prod' });
    template.resourceCountIs('AWS::EKS::Addon', 0);
  });
});

import { App, Lazy, Stack } from 'aws-cdk-lib';
import { Template } from 'aws-cdk-lib/assertions';
import * as iam from 'aws-cdk-lib/aws-iam';
import { CniMetricsPolicy } from '../../lib/cni-metrics-policy';

function newStack(account?: string, id = 'Stack', app = new App()): Stack {
  return new Stack(app, id, account ? { env: { account, region: 'us-east-1' } } : undefined);
}

describe('CniMetricsPolicy', () => {
  test('allows only cloudwatch:PutMetricData into the namespace Kubernetes, named CNIMetricsHelperPolicy', () => {
    // GIVEN
    const stack = newStack();

    // WHEN
    new CniMetricsPolicy(stack, 'Policy');

    // THEN the whole document, exactly
    const policies = Template.fromStack(stack).findResources('AWS::IAM::ManagedPolicy');
    expect(Object.values(policies)).toEqual([
      {
        Type: 'AWS::IAM::ManagedPolicy',
        Properties: {
          ManagedPolicyName: 'CNIMetricsHelperPolicy',
          Description: 'Lets the CNI metrics helper publish metrics to the CloudWatch namespace Kubernetes',
          Path: '/',
          PolicyDocument: {
            Version: '2012-10-17',
            Statement: [
              {
                Effect: 'Allow',
                Action: 'cloudwatch:PutMetricData',
                Resource: '*',
                Condition: { StringEquals: { 'cloudwatch:namespace': 'Kubernetes' } },
              },
            ],
          },
        },
      },
    ]);
  });

  test('describeSubnets: true adds ec2:DescribeSubnets on * as a statement of its own, without the namespace condition', () => {
    const stack = newStack();

    new CniMetricsPolicy(stack, 'Policy', { describeSubnets: true });

    const [policy] = Object.values(Template.fromStack(stack).findResources('AWS::IAM::ManagedPolicy')) as any[];
    expect(policy.Properties.PolicyDocument.Statement).toEqual([
      { Effect: 'Allow', Action: 'cloudwatch:PutMetricData', Resource: '*', Condition: { StringEquals: { 'cloudwatch:namespace': 'Kubernetes' } } },
      { Effect: 'Allow', Action: 'ec2:DescribeSubnets', Resource: '*' },
    ]);
  });

  test('no ec2 action unless describeSubnets is on', () => {
    const stack = newStack();
    new CniMetricsPolicy(stack, 'Policy', { describeSubnets: false });
    expect(JSON.stringify(Template.fromStack(stack).toJSON())).not.toContain('ec2:');
  });

  test('narrows to the namespace and name it is given', () => {
    const stack = newStack();

    const policy = new CniMetricsPolicy(stack, 'Policy', { namespace: 'Platform/EKS-CNI', managedPolicyName: 'prod-cni-metrics' });

    expect(policy.namespace).toBe('Platform/EKS-CNI');
    Template.fromStack(stack).hasResourceProperties('AWS::IAM::ManagedPolicy', {
      ManagedPolicyName: 'prod-cni-metrics',
      PolicyDocument: { Statement: [{ Condition: { StringEquals: { 'cloudwatch:namespace': 'Platform/EKS-CNI' } } }] },
    });
  });

  test('attaches to the roles it is given and to roles attached later, each once', () => {
    // GIVEN
    const stack = newStack();
    const given = new iam.Role(stack, 'Given', { assumedBy: new iam.ServicePrincipal('ec2.amazonaws.com') });
    const later = iam.Role.fromRoleArn(stack, 'Later', 'arn:aws:iam::111122223333:role/platform/NodeRole');

    // WHEN
    const policy = new CniMetricsPolicy(stack, 'Policy', { roles: [given] });
    policy.attachToRole(later);
    policy.attachToRole(later);
    policy.attachToRole(given);

    // THEN the path ARN gives the bare role name
    Template.fromStack(stack).hasResourceProperties('AWS::IAM::ManagedPolicy', {
      Roles: [{ Ref: stack.getLogicalId(given.node.defaultChild as iam.CfnRole) }, 'NodeRole'],
    });
  });

  test('skips validation of values that are tokens', () => {
    const stack = newStack();

    new CniMetricsPolicy(stack, 'Policy', {
      namespace: Lazy.string({ produce: () => 'Kubernetes' }),
      managedPolicyName: Lazy.string({ produce: () => 'CNIMetricsHelperPolicy' }),
    });

    Template.fromStack(stack).resourceCountIs('AWS::IAM::ManagedPolicy', 1);
  });

  describe('validation', () => {
    test.each([
      ['that is empty', '', /^cni-metrics-helper: namespace: must be 1 to 255 characters long, got 0: "" — choose another CloudWatch namespace, e.g. 'Kubernetes'/],
      ['longer than 255 characters', 'x'.repeat(256), /^cni-metrics-helper: namespace: must be 1 to 255 characters long, got 256: "x+…/],
      ["starting with ':'", ':Kubernetes', /^cni-metrics-helper: namespace: must not start with ':', got ":Kubernetes"/],
      ["starting with 'AWS/'", 'AWS/EKS', /^cni-metrics-helper: namespace: must not start with 'AWS\/', which CloudWatch reserves for AWS services, got "AWS\/EKS" — choose another/],
      ['with a control character', 'Kube\nrnetes', /must be printable ASCII/],
      ['with a non-ASCII character', 'Kubernetés', /must be printable ASCII/],
    ])('rejects a namespace %s', (_what, namespace, message) => {
      expect(() => new CniMetricsPolicy(newStack(), 'Policy', { namespace })).toThrow(message);
    });

    test('accepts a 255-character namespace and one that merely contains AWS/', () => {
      const stack = newStack();

      new CniMetricsPolicy(stack, 'Long', { namespace: 'x'.repeat(255), managedPolicyName: 'a' });
      new CniMetricsPolicy(stack, 'Inner', { namespace: 'Platform/AWS/CNI', managedPolicyName: 'b' });

      Template.fromStack(stack).resourceCountIs('AWS::IAM::ManagedPolicy', 2);
    });

    test.each([
      ['that is empty', '', /^cni-metrics-helper: managedPolicyName: must be 1 to 128 characters long, got "" — use letters, digits and \+=,\.@_- only/],
      ['longer than 128 characters', 'p'.repeat(129), /^cni-metrics-helper: managedPolicyName: must be 1 to 128 characters long, got "p+…/],
      ['with a space', 'CNI metrics', /^cni-metrics-helper: managedPolicyName: has characters IAM does not allow in a policy name, got "CNI metrics"/],
      ['with a slash', 'cni/metrics', /^cni-metrics-helper: managedPolicyName: has characters IAM does not allow in a policy name, got "cni\/metrics"/],
    ])('rejects a policy name %s', (_what, managedPolicyName, message) => {
      expect(() => new CniMetricsPolicy(newStack(), 'Policy', { managedPolicyName })).toThrow(message);
    });

    test('fails synthesis when two policies of the same name go to the same account', () => {
      // GIVEN two clusters' helpers in two stacks of one account, both with the default name
      const app = new App();
      new CniMetricsPolicy(newStack('111122223333', 'ClusterA', app), 'Policy');
      const second = newStack('111122223333', 'ClusterB', app);
      new CniMetricsPolicy(second, 'Policy');

      // THEN
      expect(() => Template.fromStack(second)).toThrow(
        /cni-metrics-helper: managedPolicyName: 'CNIMetricsHelperPolicy' is also used by ClusterA\/Policy, in the same account; .* — give each helper its own `managedPolicyName`/,
      );
    });

    test('allows the same name in environment-agnostic stacks, which may go to different accounts', () => {
      const app = new App();
      new CniMetricsPolicy(newStack(undefined, 'ClusterA', app), 'Policy');
      const second = newStack(undefined, 'ClusterB', app);
      new CniMetricsPolicy(second, 'Policy');

      Template.fromStack(second).resourceCountIs('AWS::IAM::ManagedPolicy', 1);
    });

    test('allows the same name in different accounts', () => {
      const app = new App();
      new CniMetricsPolicy(newStack('111122223333', 'Prod', app), 'Policy');
      const staging = newStack('444455556666', 'Staging', app);
      new CniMetricsPolicy(staging, 'Policy');

      Template.fromStack(staging).resourceCountIs('AWS::IAM::ManagedPolicy', 1);
    });
  });
});

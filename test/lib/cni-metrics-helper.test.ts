import * as fs from 'node:fs';
import * as path from 'node:path';
import { KubectlV33Layer } from '@aws-cdk/lambda-layer-kubectl-v33';
import { App, Stack } from 'aws-cdk-lib';
import { Match, Template } from 'aws-cdk-lib/assertions';
import * as ec2 from 'aws-cdk-lib/aws-ec2';
import * as eks from 'aws-cdk-lib/aws-eks';
import * as eksv2 from 'aws-cdk-lib/aws-eks-v2';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as YAML from 'yaml';
import { CniMetricsHelper, CollectorIdentity, CollectorImage } from '../../lib';
import { SAMPLE_AWS_AUTH } from '../../bin/sample-aws-auth';
import { schemaErrors } from '../support/kubernetes-schema';

const GUIDE_ROLE = 'eksctl-my-cluster-nodegroup-my-node-NodeInstanceRole-1XLS7754U3ZPA';
const ENV = { account: '111122223333', region: 'us-west-2' };

function newStack(): { app: App; stack: Stack } {
  // Asset staging off: cluster syntheses stay fast, and nothing depends on the machine's paths.
  const app = new App({ context: { 'aws:cdk:disable-asset-staging': true }, analyticsReporting: false });
  return { app, stack: new Stack(app, 'Test', { env: ENV }) };
}

function inAppCluster(stack: Stack): eks.Cluster {
  return new eks.Cluster(stack, 'Cluster', {
    version: eks.KubernetesVersion.V1_33,
    kubectlLayer: new KubectlV33Layer(stack, 'kubectl'),
    defaultCapacity: 0,
  });
}

/**
 * The manifests of the cluster's Kubernetes resources as one string with quotes unescaped
 * (a manifest holding tokens is an Fn::Join of JSON fragments).
 */
function clusterManifestText(template: Template): string {
  const resources = template.findResources('Custom::AWSCDK-EKS-KubernetesResource');
  return Object.values(resources).map((r: any) => JSON.stringify(r.Properties.Manifest)).join('\n').replace(/\\"/g, '"');
}

describe('CniMetricsHelper', () => {
  describe('for a cluster managed elsewhere (awsAuth)', () => {
    test('attaches CNIMetricsHelperPolicy to the system:nodes role of the aws-auth text, once', () => {
      // GIVEN the AWS guide's aws-auth text
      const { stack } = newStack();
      // WHEN the helper is composed with it
      new CniMetricsHelper(stack, 'Helper', { clusterName: 'my-cluster', awsAuth: SAMPLE_AWS_AUTH });
      // THEN one managed policy allows PutMetricData in the Kubernetes namespace, on that role only
      const template = Template.fromStack(stack);
      template.resourceCountIs('AWS::IAM::ManagedPolicy', 1);
      template.hasResourceProperties('AWS::IAM::ManagedPolicy', {
        ManagedPolicyName: 'CNIMetricsHelperPolicy',
        Roles: [GUIDE_ROLE],
        PolicyDocument: {
          Statement: [{
            Effect: 'Allow',
            Action: 'cloudwatch:PutMetricData',
            Resource: '*',
            Condition: { StringEquals: { 'cloudwatch:namespace': 'Kubernetes' } },
          }],
        },
      });
    });

    test('creates the EKS-CNI-metrics dashboard and the default alarms for the cluster', () => {
      const { stack } = newStack();
      new CniMetricsHelper(stack, 'Helper', { clusterName: 'my-cluster', awsAuth: SAMPLE_AWS_AUTH });
      const template = Template.fromStack(stack);
      template.hasResourceProperties('AWS::CloudWatch::Dashboard', { DashboardName: 'EKS-CNI-metrics' });
      template.resourceCountIs('AWS::CloudWatch::Alarm', 2);
      template.hasResourceProperties('AWS::CloudWatch::Alarm', {
        AlarmName: 'my-cluster-CNI-CollectorSilent',
        TreatMissingData: 'breaching',
      });
    });

    test('writes the collector manifest as YAML into the cloud assembly: valid, token-free, with the cluster env', () => {
      // GIVEN a helper for a cluster managed elsewhere
      const { app, stack } = newStack();
      const helper = new CniMetricsHelper(stack, 'Helper', { clusterName: 'my-cluster', awsAuth: SAMPLE_AWS_AUTH });
      // WHEN the app synthesizes
      const assembly = app.synth();
      // THEN the YAML is beside the template, and every object passes the Kubernetes schema
      expect(helper.manifestFileName).toBe('Test.cni-metrics-helper.k8s.yaml');
      const text = fs.readFileSync(path.join(assembly.directory, helper.manifestFileName!), 'utf8');
      expect(text).not.toMatch(/\$\{Token\[|Fn::|Ref"/);
      const docs = YAML.parseAllDocuments(text).map((d) => d.toJS());
      expect(docs.map((d) => d.kind).sort()).toEqual(expect.arrayContaining(['ConfigMap', 'Deployment', 'Role', 'RoleBinding', 'ServiceAccount']));
      expect(schemaErrors(docs)).toEqual([]);
      const deployment = docs.find((d) => d.kind === 'Deployment');
      const env = Object.fromEntries(deployment.spec.template.spec.containers[0].env.map((e: any) => [e.name, e.value]));
      expect(env).toMatchObject({ AWS_CLUSTER_ID: 'my-cluster', AWS_REGION: 'us-west-2', CLOUDWATCH_NAMESPACE: 'Kubernetes' });
      // The default for a cluster elsewhere needs no Docker: the bundle runs on a public Node image.
      expect(deployment.spec.template.spec.containers[0].image).toBe(CollectorImage.DEFAULT_NODE_IMAGE);
    });

    test('a custom namespace narrows the policy and reaches the collector', () => {
      const { app, stack } = newStack();
      const helper = new CniMetricsHelper(stack, 'Helper', {
        clusterName: 'my-cluster', awsAuth: SAMPLE_AWS_AUTH, namespace: 'Platform/CNI', managedPolicyName: 'CniMetricsProd',
      });
      Template.fromStack(stack).hasResourceProperties('AWS::IAM::ManagedPolicy', {
        ManagedPolicyName: 'CniMetricsProd',
        PolicyDocument: { Statement: [Match.objectLike({ Condition: { StringEquals: { 'cloudwatch:namespace': 'Platform/CNI' } } })] },
      });
      const text = fs.readFileSync(path.join(app.synth().directory, helper.manifestFileName!), 'utf8');
      expect(text).toMatch(/name: CLOUDWATCH_NAMESPACE\n\s+value: Platform\/CNI/);
    });
  });

  describe('with an in-app cluster', () => {
    test('attaches the policy to node group roles (including ones added later), explicit roles and the aws-auth roles, once each', () => {
      // GIVEN a cluster, an explicit role that is also a node group's role, and the aws-auth text
      const { stack } = newStack();
      const cluster = inAppCluster(stack);
      const early = cluster.addNodegroupCapacity('Early', { instanceTypes: [new ec2.InstanceType('m5.large')] });
      new CniMetricsHelper(stack, 'Helper', { cluster, nodeRoles: [early.role], awsAuth: SAMPLE_AWS_AUTH });
      // WHEN another node group is added after the helper
      cluster.addNodegroupCapacity('Late', { instanceTypes: [new ec2.InstanceType('m5.large')] });
      // THEN the policy lists each role once: both node groups and the aws-auth role
      const policy = Object.values(Template.fromStack(stack).findResources('AWS::IAM::ManagedPolicy'))[0] as any;
      const roles = policy.Properties.Roles as unknown[];
      expect(roles).toHaveLength(3);
      expect(roles).toContain(GUIDE_ROLE);
      expect(new Set(roles.map((r) => JSON.stringify(r))).size).toBe(3);
    });

    test('adds the collector chart to the cluster through its cdk8s support, with the image asset and the cluster name', () => {
      const { stack } = newStack();
      const cluster = inAppCluster(stack);
      cluster.addNodegroupCapacity('Nodes');
      new CniMetricsHelper(stack, 'Helper', { cluster });
      const template = Template.fromStack(stack);
      const manifest = clusterManifestText(template);
      expect(manifest).toContain('"kind":"Deployment"');
      expect(manifest).toContain('"name":"AWS_CLUSTER_ID"');
      // The image is the Docker asset, pushed to the bootstrap repository.
      expect(manifest).toMatch(/cdk-hnb659fds-container-assets-111122223333-us-west-2:[0-9a-f]{64}/);
    });

    test('with Pod Identity the policy goes to the collector role only, never to a node role', () => {
      const { stack } = newStack();
      const cluster = inAppCluster(stack);
      cluster.addNodegroupCapacity('Nodes');
      const helper = new CniMetricsHelper(stack, 'Helper', {
        cluster,
        identity: CollectorIdentity.podIdentity(),
        collector: { image: CollectorImage.fromRegistry('111122223333.dkr.ecr.us-west-2.amazonaws.com/cni-metrics-helper:1.0.0') },
      });
      const template = Template.fromStack(stack);
      template.hasResourceProperties('AWS::EKS::PodIdentityAssociation', {
        Namespace: 'kube-system',
        ServiceAccount: 'cni-metrics-helper',
      });
      const policy = Object.values(template.findResources('AWS::IAM::ManagedPolicy'))[0] as any;
      expect(policy.Properties.Roles).toEqual([stack.resolve(helper.collectorRole!.roleName)]);
    });

    test('works with an aws-eks-v2 cluster: node group roles get the policy, the chart goes through its kubectl provider', () => {
      const { stack } = newStack();
      const cluster = new eksv2.Cluster(stack, 'Cluster', {
        version: eksv2.KubernetesVersion.V1_33,
        defaultCapacityType: eksv2.DefaultCapacityType.NODEGROUP,
        defaultCapacity: 0,
        kubectlProviderOptions: { kubectlLayer: new KubectlV33Layer(stack, 'kubectl') },
      });
      const nodes = cluster.addNodegroupCapacity('Nodes');
      new CniMetricsHelper(stack, 'Helper', { cluster });
      const template = Template.fromStack(stack);
      template.hasResourceProperties('AWS::IAM::ManagedPolicy', { Roles: [stack.resolve(nodes.role.roleName)] });
      expect(clusterManifestText(template)).toContain('"kind":"Deployment"');
    });

    test('takes its cluster name from the cluster when none is given', () => {
      const { stack } = newStack();
      const cluster = inAppCluster(stack);
      cluster.addNodegroupCapacity('Nodes');
      const helper = new CniMetricsHelper(stack, 'Helper', { cluster, collector: false });
      expect(stack.resolve(helper.clusterName)).toEqual(stack.resolve(cluster.clusterName));
    });
  });

  describe('explicit roles only', () => {
    test('an imported role with a path gets the policy by its bare name', () => {
      const { stack } = newStack();
      const role = iam.Role.fromRoleArn(stack, 'Karpenter', 'arn:aws:iam::111122223333:role/platform/karpenter/KarpenterNode');
      new CniMetricsHelper(stack, 'Helper', { clusterName: 'c1', nodeRoles: [role], dashboard: false, alarms: false });
      const template = Template.fromStack(stack);
      template.hasResourceProperties('AWS::IAM::ManagedPolicy', { Roles: ['KarpenterNode'] });
      template.resourceCountIs('AWS::CloudWatch::Dashboard', 0);
      template.resourceCountIs('AWS::CloudWatch::Alarm', 0);
    });
  });

  describe('bad props fail synthesis with the prop and the fix', () => {
    test('no role source at all', () => {
      const { stack } = newStack();
      expect(() => new CniMetricsHelper(stack, 'Helper', { clusterName: 'c1' }))
        .toThrow(/no node role to attach CNIMetricsHelperPolicy to: give `cluster`.*`awsAuth`.*`nodeRoles`/);
    });

    test('an empty or malformed cluster name', () => {
      const { stack } = newStack();
      expect(() => new CniMetricsHelper(stack, 'A', { clusterName: '', awsAuth: SAMPLE_AWS_AUTH })).toThrow(/'clusterName' must be an EKS cluster name.*got ""/);
      expect(() => new CniMetricsHelper(stack, 'B', { clusterName: 'my cluster!', awsAuth: SAMPLE_AWS_AUTH })).toThrow(/'clusterName'.*got "my cluster!"/);
    });

    test('no cluster name and no cluster', () => {
      const { stack } = newStack();
      expect(() => new CniMetricsHelper(stack, 'Helper', { awsAuth: SAMPLE_AWS_AUTH })).toThrow(/`clusterName` is required when no `cluster` is given/);
    });

    test('malformed aws-auth text', () => {
      const { stack } = newStack();
      expect(() => new CniMetricsHelper(stack, 'Helper', { clusterName: 'c1', awsAuth: 'mapRoles: |\n  - rolearn: [unclosed\n' }))
        .toThrow(/^awsAuth: /);
    });

    test('aws-auth text without a system:nodes role', () => {
      const { stack } = newStack();
      const text = '- rolearn: arn:aws:iam::111122223333:role/Admin\n  username: admin\n  groups:\n    - system:masters\n';
      expect(() => new CniMetricsHelper(stack, 'Helper', { clusterName: 'c1', awsAuth: text })).toThrow(/system:nodes/);
    });

    test('node-role sources together with IRSA', () => {
      const { stack } = newStack();
      const cluster = inAppCluster(stack);
      expect(() => new CniMetricsHelper(stack, 'Helper', { cluster, identity: CollectorIdentity.irsa(), awsAuth: SAMPLE_AWS_AUTH }))
        .toThrow(/'awsAuth' and 'nodeRoles' are not used with identity IRSA/);
    });
  });
});

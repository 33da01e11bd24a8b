import * as fs from 'node:fs';
import * as path from 'node:path';
import { KubectlV33Layer } from '@aws-cdk/lambda-layer-kubectl-v33';
import { App, Stack } from 'aws-cdk-lib';
import { Annotations, Match, Template } from 'aws-cdk-lib/assertions';
import * as ec2 from 'aws-cdk-lib/aws-ec2';
import * as eks from 'aws-cdk-lib/aws-eks';
import * as eksv2 from 'aws-cdk-lib/aws-eks-v2';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as YAML from 'yaml';
import { CniMetricsHelper, CollectorIdentity, CollectorImage } from '../../lib';
import { SAMPLE_AWS_AUTH } from '../../bin/sample-aws-auth';
import { schemaErrors } from '../support/kubernetes-schema';
import { importedCluster, inAppCluster, inAppV2Cluster, inAppV2ClusterWithKubectl, newStack as sharedNewStack } from './util';

const GUIDE_ROLE = 'eksctl-my-cluster-nodegroup-my-node-NodeInstanceRole-1XLS7754U3ZPA';
function newStack(): { app: App; stack: Stack } {
  return sharedNewStack({ id: 'Test' });
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
        clusterName: 'my-cluster', awsAuth: SAMPLE_AWS_AUTH, cloudWatchNamespace: 'Platform/CNI', managedPolicyName: 'CniMetricsProd',
      });
      Template.fromStack(stack).hasResourceProperties('AWS::IAM::ManagedPolicy', {
        ManagedPolicyName: 'CniMetricsProd',
        PolicyDocument: { Statement: [Match.objectLike({ Condition: { StringEquals: { 'cloudwatch:namespace': 'Platform/CNI' } } })] },
      });
      const text = fs.readFileSync(path.join(app.synth().directory, helper.manifestFileName!), 'utf8');
      expect(text).toMatch(/name: CLOUDWATCH_NAMESPACE\n\s+value: Platform\/CNI/);
    });

    test('collector.expectedNodeCount reaches the manifest: concurrency, resources and heap cap for that size', () => {
      // GIVEN a helper for a 20,000-node cluster
      const { app, stack } = newStack();
      const helper = new CniMetricsHelper(stack, 'Helper', {
        clusterName: 'my-cluster', awsAuth: SAMPLE_AWS_AUTH, collector: { expectedNodeCount: 20_000, image: CollectorImage.fromRegistry('example.com/cni:1') },
      });
      // WHEN the app synthesizes
      const text = fs.readFileSync(path.join(app.synth().directory, helper.manifestFileName!), 'utf8');
      const container = YAML.parseAllDocuments(text).map((d) => d.toJS()).find((d) => d.kind === 'Deployment').spec.template.spec.containers[0];
      const env = Object.fromEntries(container.env.map((e: any) => [e.name, e.value]));
      // THEN common/sizing.ts at 20,000 nodes, proxy, 30 s: (400 s + 200 × 3 s) / 15 s = 66.7 → 67 scrapes;
      // CPU 7 s / 30 s = 233.3 → 240m, / 15 s = 466.7m → 1000m; memory 117.2 + 13.4 = 130.6 → 144Mi, + 140 → 512Mi; heap 332.
      expect(env).toMatchObject({ SCRAPE_CONCURRENCY: '67', NODE_OPTIONS: '--max-old-space-size=332 --max-semi-space-size=32' });
      expect(container.resources).toEqual({ requests: { cpu: '240m', memory: '144Mi' }, limits: { cpu: '1000m', memory: '512Mi' } });
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
      const cluster = inAppV2ClusterWithKubectl(stack);
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
      const helper = new CniMetricsHelper(stack, 'Helper', { cluster, collector: { enabled: false } });
      expect(stack.resolve(helper.clusterName)).toEqual(stack.resolve(cluster.clusterName));
    });
  });

  describe('explicit roles only', () => {
    test('an imported role with a path gets the policy by its bare name', () => {
      const { stack } = newStack();
      const role = iam.Role.fromRoleArn(stack, 'Karpenter', 'arn:aws:iam::111122223333:role/platform/karpenter/KarpenterNode');
      new CniMetricsHelper(stack, 'Helper', { clusterName: 'c1', nodeRoles: [role], dashboard: { enabled: false }, alarms: { enabled: false } });
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
        .toThrow(/^cni-metrics-helper: nodeRoles: no node role to attach CNIMetricsHelperPolicy to — give `cluster`.*`awsAuth`.*`nodeRoles`/);
    });

    test('an empty or malformed cluster name', () => {
      const { stack } = newStack();
      expect(() => new CniMetricsHelper(stack, 'A', { clusterName: '', awsAuth: SAMPLE_AWS_AUTH })).toThrow(/^cni-metrics-helper: clusterName: must be an EKS cluster name.*got "" — /);
      expect(() => new CniMetricsHelper(stack, 'B', { clusterName: 'my cluster!', awsAuth: SAMPLE_AWS_AUTH })).toThrow(/^cni-metrics-helper: clusterName: .*got "my cluster!"/);
    });

    test('no cluster name and no cluster', () => {
      const { stack } = newStack();
      expect(() => new CniMetricsHelper(stack, 'Helper', { awsAuth: SAMPLE_AWS_AUTH })).toThrow(/^cni-metrics-helper: clusterName: is required when no `cluster` is given — /);
    });

    test('malformed aws-auth text', () => {
      const { stack } = newStack();
      expect(() => new CniMetricsHelper(stack, 'Helper', { clusterName: 'c1', awsAuth: 'mapRoles: |\n  - rolearn: [unclosed\n' }))
        .toThrow(/^cni-metrics-helper: awsAuth: /);
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
        .toThrow(/^cni-metrics-helper: identity: awsAuth and nodeRoles are not used with identity IRSA/);
    });

    test('a bad collector option names its path through the helper', () => {
      const { stack } = newStack();
      expect(() => new CniMetricsHelper(stack, 'Helper', { clusterName: 'c1', awsAuth: SAMPLE_AWS_AUTH, collector: { scrapeMode: 'ssh' as any } }))
        .toThrow(/^cni-metrics-helper: collector\.scrapeMode: must be one of proxy, direct, got "ssh" — use ScrapeMode\.PROXY or ScrapeMode\.DIRECT$/);
      expect(() => new CniMetricsHelper(stack, 'Helper2', { clusterName: 'c1', awsAuth: SAMPLE_AWS_AUTH, collector: { extraEnv: { AWS_REGION: 'x' } } }))
        .toThrow(/collector\.extraEnv: may not set AWS_REGION.* — set the prop collector\.region instead$/);
      expect(() => new CniMetricsHelper(stack, 'Helper3', { clusterName: 'c1', awsAuth: SAMPLE_AWS_AUTH, alarms: { ipUtilization: { thresholdPercent: 0 } } }))
        .toThrow(/^cni-metrics-helper: alarms\.ipUtilization\.thresholdPercent: must be > 0 and <= 100, got 0/);
      expect(() => new CniMetricsHelper(stack, 'Helper4', { clusterName: 'c1', awsAuth: SAMPLE_AWS_AUTH, dashboard: { dashboardName: 'a b' } }))
        .toThrow(/^cni-metrics-helper: dashboard\.dashboardName: must be a CloudWatch dashboard name/);
      expect(() => new CniMetricsHelper(stack, 'Helper5', { clusterName: 'c1', awsAuth: SAMPLE_AWS_AUTH, cloudWatchNamespace: 'AWS/EKS' }))
        .toThrow(/^cni-metrics-helper: cloudWatchNamespace: must not start with 'AWS\/'/);
    });
  });

  describe('with an imported cluster (fromClusterAttributes)', () => {
    test('applies the chart through its kubectl provider and attaches the policy to the aws-auth node roles', () => {
      // GIVEN an existing cluster imported with a kubectl role, and its aws-auth text
      const { stack } = newStack();
      const cluster = importedCluster(stack);
      // WHEN
      const helper = new CniMetricsHelper(stack, 'Helper', {
        cluster,
        awsAuth: SAMPLE_AWS_AUTH,
        collector: { image: CollectorImage.fromRegistry('111122223333.dkr.ecr.us-west-2.amazonaws.com/cni-metrics-helper:1.0.0') },
      });
      // THEN the chart is a Kubernetes resource of the imported cluster, with its name, and no YAML file is written
      const template = Template.fromStack(stack);
      const manifest = clusterManifestText(template);
      expect(manifest).toContain('"kind":"Deployment"');
      expect(manifest).toContain('"name":"AWS_CLUSTER_ID","value":"prod"');
      template.hasResourceProperties('Custom::AWSCDK-EKS-KubernetesResource', { ClusterName: 'prod', RoleArn: 'arn:aws:iam::111122223333:role/eks-kubectl' });
      template.hasResourceProperties('AWS::IAM::ManagedPolicy', { Roles: [GUIDE_ROLE] });
      expect(helper.manifestFileName).toBeUndefined();
    });

    test('an imported aws-eks-v2 cluster with an existing kubectl provider gets the chart through it', () => {
      const { stack } = newStack();
      const kubectlProvider = eksv2.KubectlProvider.fromKubectlProviderAttributes(stack, 'Provider', {
        serviceToken: 'arn:aws:lambda:us-west-2:111122223333:function:prod-kubectl-provider',
      });
      const cluster = eksv2.Cluster.fromClusterAttributes(stack, 'ProdV2', { clusterName: 'prod-v2', kubectlProvider });
      new CniMetricsHelper(stack, 'Helper', {
        cluster, awsAuth: SAMPLE_AWS_AUTH, collector: { image: CollectorImage.fromRegistry('example.com/cni:1') },
      });
      const template = Template.fromStack(stack);
      template.hasResource('Custom::AWSCDK-EKS-KubernetesResource', {
        Properties: Match.objectLike({ ServiceToken: 'arn:aws:lambda:us-west-2:111122223333:function:prod-kubectl-provider', ClusterName: 'prod-v2' }),
      });
      expect(clusterManifestText(template)).toContain('"name":"AWS_CLUSTER_ID","value":"prod-v2"');
    });

    test('an imported aws-eks-v2 cluster without a kubectl provider fails naming kubectlProvider', () => {
      const { stack } = newStack();
      const cluster = eksv2.Cluster.fromClusterAttributes(stack, 'ProdV2', { clusterName: 'prod-v2' });
      expect(() => new CniMetricsHelper(stack, 'Helper', { cluster, awsAuth: SAMPLE_AWS_AUTH })).toThrow(
        /^cni-metrics-helper: cluster: cluster Test\/ProdV2 has no kubectl provider.* — give the aws-eks-v2 Cluster `kubectlProviderOptions`.*or import it with `kubectlProvider`/,
      );
    });

    test('without a node role source, synthesis fails naming awsAuth and nodeRoles', () => {
      const { stack } = newStack();
      new CniMetricsHelper(stack, 'Helper', { cluster: importedCluster(stack), collector: { enabled: false } });
      expect(() => Template.fromStack(stack)).toThrow(/cni-metrics-helper: nodeRoles: found no EC2 node role of cluster Test\/Imported .* — pass `awsAuth` .* or `nodeRoles`/);
    });

    test('without a kubectl provider, construction fails naming kubectlRoleArn', () => {
      const { stack } = newStack();
      const cluster = eks.Cluster.fromClusterAttributes(stack, 'Bare', { clusterName: 'prod' });
      expect(() => new CniMetricsHelper(stack, 'Helper', { cluster, awsAuth: SAMPLE_AWS_AUTH })).toThrow(
        /^cni-metrics-helper: cluster: cluster Test\/Bare has no kubectl provider, so the collector's chart cannot be applied to it — import the cluster with `kubectlRoleArn`.*collector: \{ enabled: false \}/,
      );
      // AND with the collector off, nothing needs kubectl
      new CniMetricsHelper(stack, 'NoCollector', { cluster, awsAuth: SAMPLE_AWS_AUTH, collector: { enabled: false } });
      Template.fromStack(stack).resourceCountIs('Custom::AWSCDK-EKS-KubernetesResource', 0);
    });

    test('an aws-eks-v2 cluster without kubectlProviderOptions fails naming it', () => {
      const { stack } = newStack();
      const cluster = inAppV2Cluster(stack);
      cluster.addNodegroupCapacity('Nodes');
      expect(() => new CniMetricsHelper(stack, 'Helper', { cluster })).toThrow(/— give the aws-eks-v2 Cluster `kubectlProviderOptions`/);
    });
  });

  describe('Auto Mode', () => {
    test('an aws-eks-v2 cluster with Auto Mode compute gets a warning naming Auto Mode and what to do', () => {
      const { stack } = newStack();
      const cluster = new eksv2.Cluster(stack, 'Cluster', {
        version: eksv2.KubernetesVersion.V1_33,
        kubectlProviderOptions: { kubectlLayer: new KubectlV33Layer(stack, 'kubectl') },
      });
      cluster.addNodegroupCapacity('Ec2Nodes');
      new CniMetricsHelper(stack, 'Helper', { cluster, collector: { image: CollectorImage.fromRegistry('example.com/cni:1') } });
      const warnings = Annotations.fromStack(stack).findWarning('/Test/Helper', Match.stringLikeRegexp('EKS Auto Mode'));
      expect(warnings).toHaveLength(1);
      expect(JSON.stringify(warnings[0].entry.data)).toMatch(/run no VPC CNI \(aws-node\).*EC2 node groups you add/);
    });

    test('a cluster with node groups only gets no such warning', () => {
      const { stack } = newStack();
      const cluster = inAppV2ClusterWithKubectl(stack);
      cluster.addNodegroupCapacity('Ec2Nodes');
      new CniMetricsHelper(stack, 'Helper', { cluster, collector: { image: CollectorImage.fromRegistry('example.com/cni:1') } });
      expect(Annotations.fromStack(stack).findWarning('*', Match.stringLikeRegexp('Auto Mode'))).toEqual([]);
    });
  });

  describe('parts off', () => {
    test('collector off: no chart, no manifest file, no CollectorSilent alarm; the policy and IP alarm stay', () => {
      const { app, stack } = newStack();
      const helper = new CniMetricsHelper(stack, 'Helper', { clusterName: 'c1', awsAuth: SAMPLE_AWS_AUTH, collector: { enabled: false } });
      const assembly = app.synth();
      expect(helper.chart).toBeUndefined();
      expect(helper.manifestFileName).toBeUndefined();
      expect(fs.readdirSync(assembly.directory).filter((f) => f.endsWith('.k8s.yaml'))).toEqual([]);
      const template = Template.fromStack(stack);
      expect(Object.values(template.findResources('AWS::CloudWatch::Alarm')).map((a: any) => a.Properties.AlarmName)).toEqual(['c1-CNI-IpUtilization']);
      template.resourceCountIs('AWS::IAM::ManagedPolicy', 1);
    });

    test('collector off but its alarm asked for (a collector deployed elsewhere): the alarm is made', () => {
      const { stack } = newStack();
      new CniMetricsHelper(stack, 'Helper', {
        clusterName: 'c1', awsAuth: SAMPLE_AWS_AUTH, collector: { enabled: false }, alarms: { collectorSilent: { enabled: true } },
      });
      Template.fromStack(stack).hasResourceProperties('AWS::CloudWatch::Alarm', { AlarmName: 'c1-CNI-CollectorSilent' });
    });
  });

  describe('one region', () => {
    test('the collector, the dashboard and the alarms use the stack region by default', () => {
      const { app, stack } = newStack();
      const helper = new CniMetricsHelper(stack, 'Helper', { clusterName: 'c1', awsAuth: SAMPLE_AWS_AUTH });
      const text = fs.readFileSync(path.join(app.synth().directory, helper.manifestFileName!), 'utf8');
      expect(text).toMatch(/name: AWS_REGION\n\s+value: us-west-2/);
      expect(helper.metricsRegion).toBe('us-west-2');
    });

    test('a collector region other than the stack\'s fails while alarms are on, naming collector.region', () => {
      const { stack } = newStack();
      expect(() => new CniMetricsHelper(stack, 'Helper', { clusterName: 'c1', awsAuth: SAMPLE_AWS_AUTH, collector: { region: 'us-east-1' } })).toThrow(
        /^cni-metrics-helper: collector\.region: is us-east-1, but the alarms are created in us-west-2 .* — put the helper in a stack of region us-east-1, leave collector\.region out, or set alarms: \{ enabled: false \}/,
      );
    });

    test('in an environment-agnostic stack, a collector region with alarms on is a warning: the stack region is unknown', () => {
      const { stack } = sharedNewStack({ id: 'Agnostic', env: false });
      new CniMetricsHelper(stack, 'Helper', {
        clusterName: 'c1',
        nodeRoles: [iam.Role.fromRoleName(stack, 'Nodes', 'nodes')],
        collector: { region: 'us-east-1', image: CollectorImage.fromRegistry('example.com/cni:1') },
      });
      const warnings = Annotations.fromStack(stack).findWarning('/Agnostic/Helper', Match.stringLikeRegexp('collector.region is us-east-1'));
      expect(warnings).toHaveLength(1);
      expect(JSON.stringify(warnings[0].entry.data)).toMatch(/known only at deploy time.* — put the helper in a stack of region us-east-1/);
    });

    test('with alarms off, the dashboard reads the region the collector publishes to', () => {
      const { stack } = newStack();
      new CniMetricsHelper(stack, 'Helper', {
        clusterName: 'c1', awsAuth: SAMPLE_AWS_AUTH, collector: { region: 'us-east-1' }, alarms: { enabled: false },
      });
      const body = JSON.stringify(Object.values(Template.fromStack(stack).findResources('AWS::CloudWatch::Dashboard'))[0]);
      expect(body).toContain('\\"region\\":\\"us-east-1\\"');
      expect(body).not.toContain('\\"region\\":\\"us-west-2\\"');
    });
  });

  describe('a cluster managed elsewhere', () => {
    test('synthesis reports, as an info annotation, where the manifest is and the kubectl command that applies it', () => {
      const { stack } = newStack();
      new CniMetricsHelper(stack, 'Helper', { clusterName: 'c1', awsAuth: SAMPLE_AWS_AUTH });
      const infos = Annotations.fromStack(stack).findInfo('/Test/Helper', Match.stringLikeRegexp('kubectl apply --server-side -f'));
      expect(infos).toHaveLength(1);
      expect(String(infos[0].entry.data)).toMatch(/is written to .*Test\.cni-metrics-helper\.k8s\.yaml at synthesis; apply it with: kubectl apply --server-side -f .*Test\.cni-metrics-helper\.k8s\.yaml$/);
    });
  });
});

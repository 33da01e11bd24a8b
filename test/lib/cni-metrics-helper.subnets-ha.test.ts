/**
 * The helper's subnet exhaustion and high availability props, end to end through synthesis: the
 * policy, the manifest (applied through the cluster, or written as YAML), the dashboard and alarms.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { App, Duration, Lazy, Stack } from 'aws-cdk-lib';
import { Template } from 'aws-cdk-lib/assertions';
import * as ec2 from 'aws-cdk-lib/aws-ec2';
import * as YAML from 'yaml';
import { CniMetricsHelper, CniMetricsHelperProps } from '../../lib';
import { SAMPLE_AWS_AUTH } from '../../bin/sample-aws-auth';
import { ENV } from '../../common/settings';
import { schemaErrors } from '../support/kubernetes-schema';
import { importedCluster, inAppCluster, newStack } from './util';

const SUBNETS = ['subnet-0123456789abcdef0', 'subnet-0fedcba9876543210'];
const ELSEWHERE: CniMetricsHelperProps = { clusterName: 'my-cluster', awsAuth: SAMPLE_AWS_AUTH };

function policyStatements(template: Template): any[] {
  const [policy] = Object.values(template.findResources('AWS::IAM::ManagedPolicy')) as any[];
  return policy.Properties.PolicyDocument.Statement;
}

/** The YAML written for a cluster managed elsewhere, parsed. */
function writtenManifest(app: App, helper: CniMetricsHelper): any[] {
  const text = fs.readFileSync(path.join(app.synth().directory, helper.manifestFileName!), 'utf8');
  return YAML.parseAllDocuments(text).map((d) => d.toJS());
}

function collectorEnv(docs: any[]): any[] {
  return docs.find((d) => d.kind === 'Deployment').spec.template.spec.containers.find((c: any) => c.name === 'collector').env;
}

function envValues(docs: any[]): Record<string, string> {
  return Object.fromEntries(collectorEnv(docs).map((e: any) => [e.name, e.value]));
}

function alarmNames(template: Template): string[] {
  return Object.values(template.findResources('AWS::CloudWatch::Alarm')).map((r: any) => r.Properties.AlarmName).sort();
}

describe('CniMetricsHelper subnet metrics', () => {
  test('off by default: no ec2 action, no SUBNET_IDS, no subnet widget or alarm', () => {
    const { app, stack } = newStack();
    const helper = new CniMetricsHelper(stack, 'Helper', ELSEWHERE);
    const template = Template.fromStack(stack);
    expect(policyStatements(template)).toHaveLength(1);
    expect(JSON.stringify(template.toJSON())).not.toMatch(/ec2:|SEARCH|SubnetId|subnetAvailableIPs|minSubnetAvailableIPs|subnetRefreshErrors/);
    expect(envValues(writtenManifest(app, helper))).not.toHaveProperty(ENV.subnetIds);
  });

  test('for a cluster managed elsewhere: the ids given go into the YAML, the policy gains DescribeSubnets in its own statement', () => {
    // GIVEN subnet metrics with explicit ids and a 10-minute refresh
    const { app, stack } = newStack();
    const helper = new CniMetricsHelper(stack, 'Helper', { ...ELSEWHERE, subnetMetrics: { enabled: true, subnetIds: SUBNETS, refreshInterval: Duration.minutes(10) } });
    const template = Template.fromStack(stack);

    // THEN the namespace condition stays on PutMetricData; DescribeSubnets has none
    expect(policyStatements(template)).toEqual([
      { Effect: 'Allow', Action: 'cloudwatch:PutMetricData', Resource: '*', Condition: { StringEquals: { 'cloudwatch:namespace': 'Kubernetes' } } },
      { Effect: 'Allow', Action: 'ec2:DescribeSubnets', Resource: '*' },
    ]);
    // AND the collector is told which subnets, and how often
    const docs = writtenManifest(app, helper);
    expect(envValues(docs)).toMatchObject({ [ENV.subnetIds]: SUBNETS.join(','), [ENV.subnetRefreshSeconds]: '600' });
    expect(schemaErrors(docs)).toEqual([]);
    // AND the subnet alarm is on by default, below 100 IPs
    expect(alarmNames(template)).toContain('my-cluster-CNI-MinSubnetAvailableIps');
    template.hasResourceProperties('AWS::CloudWatch::Alarm', { MetricName: 'minSubnetAvailableIPs', Threshold: 100, ComparisonOperator: 'LessThanThreshold' });
    // AND the dashboard has the per-subnet SEARCH row
    const body = JSON.stringify(template.findResources('AWS::CloudWatch::Dashboard'));
    expect(body).toContain('SEARCH(');
    expect(body).toContain('MetricName=\\\\\\"subnetAvailableIPs\\\\\\" CLUSTER_ID=\\\\\\"my-cluster\\\\\\"');
  });

  test('the subnet alarm can be turned off, or given its own threshold', () => {
    const off = newStack();
    new CniMetricsHelper(off.stack, 'Helper', { ...ELSEWHERE, subnetMetrics: { enabled: true, subnetIds: SUBNETS }, alarms: { minSubnetAvailableIps: { enabled: false } } });
    expect(alarmNames(Template.fromStack(off.stack))).not.toContain('my-cluster-CNI-MinSubnetAvailableIps');

    const custom = newStack();
    new CniMetricsHelper(custom.stack, 'Helper', { ...ELSEWHERE, subnetMetrics: { enabled: true, subnetIds: SUBNETS }, alarms: { minSubnetAvailableIps: { thresholdIps: 500 } } });
    Template.fromStack(custom.stack).hasResourceProperties('AWS::CloudWatch::Alarm', { MetricName: 'minSubnetAvailableIPs', Threshold: 500 });
  });

  test('for an in-app cluster: SUBNET_IDS defaults to the VPC private subnets, as CloudFormation references in the applied manifest', () => {
    // GIVEN an in-app cluster (with its own VPC) and subnet metrics on without ids
    const { stack } = newStack();
    const cluster = inAppCluster(stack);
    cluster.addNodegroupCapacity('Nodes');
    new CniMetricsHelper(stack, 'Helper', { cluster, subnetMetrics: { enabled: true } });
    const template = Template.fromStack(stack);

    // THEN the manifest's SUBNET_IDS is the private subnets' Refs joined by commas, resolved at deploy
    const privateRefs = stack.resolve(cluster.vpc.privateSubnets.map((s) => s.subnetId)) as Array<{ Ref: string }>;
    expect(privateRefs.length).toBeGreaterThan(0);
    const manifests = Object.values(template.findResources('Custom::AWSCDK-EKS-KubernetesResource')) as any[];
    const chart = manifests.find((m) => JSON.stringify(m.Properties.Manifest).includes(ENV.subnetIds));
    const [, parts] = chart.Properties.Manifest['Fn::Join'];
    const start = parts.findIndex((p: unknown) => typeof p === 'string' && p.includes(`"name":"${ENV.subnetIds}","value":"`));
    const joined = parts.slice(start + 1, start + 2 * privateRefs.length);
    expect(joined).toEqual(privateRefs.flatMap((ref, i) => (i === 0 ? [ref] : [',', ref])));
    // AND no public subnet is listed
    for (const ref of stack.resolve(cluster.vpc.publicSubnets.map((s) => s.subnetId))) {
      expect(JSON.stringify(chart.Properties.Manifest)).not.toContain(JSON.stringify(ref));
    }
  });

  test('for an imported cluster with a VPC of known subnets: their ids, as plain strings', () => {
    const { stack } = newStack();
    const vpc = ec2.Vpc.fromVpcAttributes(stack, 'Vpc', { vpcId: 'vpc-0123456789abcdef0', availabilityZones: ['us-west-2a', 'us-west-2b'], privateSubnetIds: SUBNETS });
    new CniMetricsHelper(stack, 'Helper', { cluster: importedCluster(stack, { vpc }), awsAuth: SAMPLE_AWS_AUTH, subnetMetrics: { enabled: true } });
    const manifests = JSON.stringify(Template.fromStack(stack).findResources('Custom::AWSCDK-EKS-KubernetesResource'));
    expect(manifests).toContain(`\\"name\\":\\"${ENV.subnetIds}\\",\\"value\\":\\"${SUBNETS.join(',')}\\"`);
  });

  test('with the collector off, the policy and dashboard still follow subnetMetrics (a collector run elsewhere), and no ids are needed', () => {
    const { stack } = newStack();
    new CniMetricsHelper(stack, 'Helper', { ...ELSEWHERE, collector: { enabled: false }, subnetMetrics: { enabled: true } });
    const template = Template.fromStack(stack);
    expect(policyStatements(template).map((s) => s.Action)).toEqual(['cloudwatch:PutMetricData', 'ec2:DescribeSubnets']);
    expect(JSON.stringify(template.findResources('AWS::CloudWatch::Dashboard'))).toContain('SEARCH(');
  });

  describe('bad props fail synthesis naming the prop', () => {
    test.each<[string, Partial<CniMetricsHelperProps>, RegExp]>([
      ['no ids for a cluster managed elsewhere', { subnetMetrics: { enabled: true } },
        /^cni-metrics-helper: subnetMetrics.subnetIds: is required when subnet metrics are on and no `cluster` is given — /],
      ['a malformed id', { subnetMetrics: { enabled: true, subnetIds: ['subnet-12'] } },
        /^cni-metrics-helper: subnetMetrics.subnetIds: holds something that is not a subnet id .*, got "subnet-12"/],
      ['an empty list', { subnetMetrics: { enabled: true, subnetIds: [] } }, /^cni-metrics-helper: subnetMetrics.subnetIds: must list at least one subnet id/],
      ['a token for a cluster managed elsewhere', { subnetMetrics: { enabled: true, subnetIds: [Lazy.string({ produce: () => SUBNETS[0] })] } },
        /^cni-metrics-helper: subnetMetrics.subnetIds: holds a CDK token, but without `cluster` the manifest is YAML written at synthesis/],
      ['a refresh under 30 s', { subnetMetrics: { enabled: true, subnetIds: SUBNETS, refreshInterval: Duration.seconds(10) } },
        /^cni-metrics-helper: subnetMetrics.refreshInterval: must be whole seconds from 30 s to 86400 s, got 10 seconds — /],
      ['a fractional refresh', { subnetMetrics: { enabled: true, subnetIds: SUBNETS, refreshInterval: Duration.millis(45_500) } },
        /^cni-metrics-helper: subnetMetrics.refreshInterval: must be whole seconds/],
      ['SUBNET_IDS through extraEnv', { collector: { extraEnv: { SUBNET_IDS: SUBNETS[0] } } },
        /^cni-metrics-helper: collector.extraEnv: may not set SUBNET_IDS.* — set the prop subnetMetrics instead$/],
      ['a bad subnet alarm threshold', { subnetMetrics: { enabled: true, subnetIds: SUBNETS }, alarms: { minSubnetAvailableIps: { thresholdIps: 0 } } },
        /^cni-metrics-helper: alarms.minSubnetAvailableIps.thresholdIps: must be a whole number >= 1/],
    ])('%s', (_case, props, message) => {
      const { stack } = newStack();
      expect(() => new CniMetricsHelper(stack, 'Helper', { ...ELSEWHERE, ...props })).toThrow(message);
    });

    test('an imported cluster without a VPC needs explicit ids', () => {
      const { stack } = newStack();
      expect(() => new CniMetricsHelper(stack, 'Helper', { cluster: importedCluster(stack), awsAuth: SAMPLE_AWS_AUTH, subnetMetrics: { enabled: true } })).toThrow(
        /^cni-metrics-helper: subnetMetrics.subnetIds: is required: cluster Stack\/Imported has no VPC it can tell .* — .*or import the cluster with `vpc`$/,
      );
    });
  });
});

describe('CniMetricsHelper high availability', () => {
  test('collector.replicas: 2 writes leader election, Lease RBAC, a PDB and anti-affinity into the YAML, schema-valid', () => {
    const { app, stack } = newStack();
    const helper = new CniMetricsHelper(stack, 'Helper', { ...ELSEWHERE, collector: { replicas: 2, leaderElection: { leaseDurationSeconds: 30 } } });
    const docs = writtenManifest(app, helper);

    const deployment = docs.find((d) => d.kind === 'Deployment');
    expect(deployment.spec.replicas).toBe(2);
    expect(deployment.spec.strategy.type).toBe('RollingUpdate');
    expect(collectorEnv(docs)).toEqual(expect.arrayContaining([
      { name: ENV.leaderElection, value: 'true' },
      { name: ENV.leaseDurationSeconds, value: '30' },
      { name: ENV.podName, valueFrom: { fieldRef: { fieldPath: 'metadata.name' } } },
      { name: ENV.podNamespace, valueFrom: { fieldRef: { fieldPath: 'metadata.namespace' } } },
    ]));
    expect(docs.filter((d) => d.kind === 'PodDisruptionBudget').map((d) => d.spec.minAvailable)).toEqual([1]);
    const leaseRole = docs.find((d) => d.kind === 'Role' && JSON.stringify(d.rules).includes('leases'));
    expect(leaseRole.metadata.namespace).toBe('kube-system');
    expect(deployment.spec.template.spec.affinity.podAntiAffinity.preferredDuringSchedulingIgnoredDuringExecution[0].podAffinityTerm.topologyKey).toBe('kubernetes.io/hostname');
    expect(schemaErrors(docs)).toEqual([]);
  });

  test('the default single replica has no Lease RBAC and no PDB', () => {
    const { app, stack } = newStack();
    const docs = writtenManifest(app, new CniMetricsHelper(stack, 'Helper', ELSEWHERE));
    expect(docs.filter((d) => d.kind === 'PodDisruptionBudget')).toEqual([]);
    expect(JSON.stringify(docs)).not.toContain('coordination.k8s.io');
    expect(docs.find((d) => d.kind === 'Deployment').spec.strategy).toEqual({ type: 'Recreate' });
  });

  test.each<[string, Partial<CniMetricsHelperProps>, RegExp]>([
    ['zero replicas', { collector: { replicas: 0 } }, /^cni-metrics-helper: collector.replicas: must be a whole number from 1 to 5, got 0 — /],
    ['lease timings out of order', { collector: { replicas: 2, leaderElection: { leaseDurationSeconds: 8 } } },
      /^cni-metrics-helper: collector.leaderElection.leaseDurationSeconds: is 8, not more than the renew deadline, 10; /],
    ['leaderElection with one replica', { collector: { leaderElection: { leaseName: 'x' } } },
      /^cni-metrics-helper: collector.leaderElection: is set but replicas is 1, .* — set collector.replicas to 2 or more/],
  ])('%s fails naming the prop', (_case, props, message) => {
    const { stack } = newStack();
    expect(() => new CniMetricsHelper(stack as Stack, 'Helper', { ...ELSEWHERE, ...props })).toThrow(message);
  });
});

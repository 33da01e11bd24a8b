import * as fs from 'fs';
import * as path from 'path';
import { App, Fn, Stack } from 'aws-cdk-lib';
import { Annotations, Match, Template } from 'aws-cdk-lib/assertions';
import * as autoscaling from 'aws-cdk-lib/aws-autoscaling';
import * as ec2 from 'aws-cdk-lib/aws-ec2';
import * as eks from 'aws-cdk-lib/aws-eks';
import * as eksv2 from 'aws-cdk-lib/aws-eks-v2';
import * as iam from 'aws-cdk-lib/aws-iam';
import { CniMetricsPolicy } from '../../lib/cni-metrics-policy';
import { NodeRoles } from '../../lib/node-roles';
import { collectNodeRoles } from '../../lib/private/node-role-discovery';
import { ACCOUNT, importedCluster, inAppCluster, inAppV2Cluster, newStack as newAppStack } from './util';

const GUIDE_SAMPLE = fs.readFileSync(path.join(__dirname, '..', 'fixtures', 'aws-auth', 'guide-describe.txt'), 'utf8');
const GUIDE_ROLE_NAME = 'eksctl-my-cluster-nodegroup-my-node-NodeInstanceRole-1XLS7754U3ZPA';

function newStack(id = 'Stack', app?: App): Stack {
  return newAppStack({ id, app }).stack;
}

const v1Cluster = inAppCluster;
const v2Cluster = inAppV2Cluster;

function nodeRole(stack: Stack, id: string, roleName?: string): iam.Role {
  return new iam.Role(stack, id, { roleName, assumedBy: new iam.ServicePrincipal('ec2.amazonaws.com') });
}

/** How the managed policy's `Roles` names an in-app role. */
function ref(role: iam.IRole): unknown {
  const stack = Stack.of(role);
  return { Ref: stack.getLogicalId(role.node.defaultChild as iam.CfnRole) };
}

/** The `Roles` of the one CNI metrics policy in the stack. */
function attachedRoles(stack: Stack): unknown[] {
  const policies = Object.values(Template.fromStack(stack).findResources('AWS::IAM::ManagedPolicy'));
  expect(policies).toHaveLength(1);
  return policies[0].Properties.Roles ?? [];
}

function attachPolicy(stack: Stack, sources: ConstructorParameters<typeof NodeRoles>[2]): NodeRoles {
  const nodeRoles = new NodeRoles(stack, 'NodeRoles', sources);
  nodeRoles.attachPolicy(new CniMetricsPolicy(stack, 'Policy'));
  return nodeRoles;
}

describe('NodeRoles without a cluster', () => {
  test('attaches the policy to the node role of the AWS guide sample, by name', () => {
    const stack = newStack();

    attachPolicy(stack, { awsAuth: GUIDE_SAMPLE });

    expect(attachedRoles(stack)).toEqual([GUIDE_ROLE_NAME]);
  });

  test('attaches to a role with a path by its bare name', () => {
    const stack = newStack();
    const awsAuth = `- rolearn: arn:aws:iam::${ACCOUNT}:role/platform/karpenter/KarpenterNodeRole-prod\n  groups: [system:nodes]\n`;

    attachPolicy(stack, { awsAuth });

    expect(attachedRoles(stack)).toEqual(['KarpenterNodeRole-prod']);
  });

  test('attaches once to a role given both by hand and in aws-auth, preferring the app\'s own definition', () => {
    // GIVEN the guide's role by name and by ARN, and a role of this app also listed in aws-auth
    const stack = newStack();
    const byHand = iam.Role.fromRoleName(stack, 'ByHand', GUIDE_ROLE_NAME);
    const defined = nodeRole(stack, 'General', 'eks-node-group-general');
    const awsAuth = `${GUIDE_SAMPLE.trimEnd().replace(/\n\nEvents:.*$/s, '')}
- groups:
  - system:nodes
  rolearn: arn:aws:iam::${ACCOUNT}:role/eks-node-group-general
`;

    // WHEN
    attachPolicy(stack, { awsAuth, nodeRoles: [byHand, byHand] });
    const withDefinition = collectNodeRoles(stack, { awsAuth, nodeRoles: [defined] });

    // THEN
    expect(attachedRoles(stack)).toEqual([GUIDE_ROLE_NAME, 'eks-node-group-general']);
    expect(withDefinition).toHaveLength(2);
    expect(withDefinition[0]).toBe(defined);
  });

  test('fails where awsAuth is passed when it cannot be read', () => {
    const stack = newStack();

    expect(() => new NodeRoles(stack, 'NodeRoles', { awsAuth: 'kind: ConfigMap\ndata: {}\n' })).toThrow(/^cni-metrics-helper: awsAuth: no mapRoles found/);
    expect(() => new NodeRoles(stack, 'Other', { awsAuth: '- rolearn: arn:aws:iam::111122223333:role/Admin\n  groups: [system:masters]\n' })).toThrow(
      /^cni-metrics-helper: awsAuth: no role in mapRoles is an EC2 node role/,
    );
  });

  test('refuses an aws-auth role of another account than the stack', () => {
    const stack = newStack();
    const awsAuth = '- rolearn: arn:aws:iam::444455556666:role/Nodes\n  groups: [system:nodes]\n';

    expect(() => new NodeRoles(stack, 'NodeRoles', { awsAuth })).toThrow(
      /^cni-metrics-helper: awsAuth: node role 'arn:aws:iam::444455556666:role\/Nodes' is in account 444455556666, but stack 'Stack' deploys to account 111122223333; .* — deploy the helper's stack to the nodes' account$/,
    );
  });

  test('fails synthesis when no source gives a node role', () => {
    const stack = newStack();

    attachPolicy(stack, { nodeRoles: [] });

    expect(() => Template.fromStack(stack)).toThrow(/cni-metrics-helper: nodeRoles: found no node role to attach the CNI metrics policy to — pass `awsAuth`/);
  });

  test('needs no node role while no policy is attached', () => {
    const stack = newStack();
    new CniMetricsPolicy(stack, 'Policy');

    new NodeRoles(stack, 'NodeRoles', {});

    expect(attachedRoles(stack)).toEqual([]);
  });
});

describe('NodeRoles with an aws-eks cluster', () => {
  test('attaches once to node groups, self-managed capacity and aws-auth node roles, whatever the source', () => {
    // GIVEN a cluster with every kind of node role
    const stack = newStack();
    const cluster = v1Cluster(stack);
    const nodegroup = cluster.addNodegroupCapacity('Managed', { minSize: 1 });
    const capacity = cluster.addAutoScalingGroupCapacity('SelfManaged', { instanceType: new ec2.InstanceType('m5.large'), minCapacity: 1 });
    const connected = new autoscaling.AutoScalingGroup(stack, 'Connected', {
      vpc: cluster.vpc,
      instanceType: new ec2.InstanceType('m5.large'),
      machineImage: new eks.EksOptimizedImage({ kubernetesVersion: '1.33' }),
    });
    cluster.connectAutoScalingGroupCapacity(connected, { mapRole: false });
    const karpenter = nodeRole(stack, 'KarpenterNodeRole', 'KarpenterNodeRole-prod');
    cluster.awsAuth.addRoleMapping(karpenter, { username: 'system:node:{{EC2PrivateDNSName}}', groups: ['system:bootstrappers', 'system:nodes'] });
    const admin = nodeRole(stack, 'Admin');
    cluster.awsAuth.addMastersRole(admin);
    const unrelated = new autoscaling.AutoScalingGroup(stack, 'Unrelated', {
      vpc: cluster.vpc,
      instanceType: new ec2.InstanceType('t3.micro'),
      machineImage: ec2.MachineImage.latestAmazonLinux2023(),
    });

    // WHEN the same roles also come by hand and in aws-auth text (by path ARN)
    attachPolicy(stack, {
      cluster,
      nodeRoles: [nodegroup.role],
      awsAuth: `- rolearn: arn:aws:iam::${ACCOUNT}:role/platform/KarpenterNodeRole-prod\n  groups: [system:nodes]\n`,
    });

    // THEN each node role once; the masters role and the unrelated ASG's role not at all
    const roles = attachedRoles(stack);
    expect(roles).toEqual([ref(nodegroup.role), ref(capacity.role), ref(connected.role), ref(karpenter)]);
    expect(roles).not.toContainEqual(ref(admin));
    expect(roles).not.toContainEqual(ref(unrelated.role));
  });

  test('includes node groups and capacity added after the helper', () => {
    // GIVEN the helper first
    const stack = newStack();
    const cluster = v1Cluster(stack);
    const early = cluster.addNodegroupCapacity('Early', { minSize: 1 });
    const nodeRoles = attachPolicy(stack, { cluster });
    const rolesBefore = nodeRoles.roles;

    // WHEN
    const late = cluster.addNodegroupCapacity('Late', { minSize: 1 });
    const lateCapacity = cluster.addAutoScalingGroupCapacity('LateCapacity', { instanceType: new ec2.InstanceType('m5.large') });

    // THEN `roles` was a snapshot, but synthesis sees them all
    expect(rolesBefore).toEqual([early.role]);
    expect(attachedRoles(stack)).toEqual([ref(early.role), ref(late.role), ref(lateCapacity.role)]);
  });

  test('leaves aws-auth alone in API authentication mode', () => {
    // GIVEN a cluster that has no aws-auth ConfigMap (cluster.awsAuth would throw)
    const stack = newStack();
    const cluster = v1Cluster(stack, { authenticationMode: eks.AuthenticationMode.API });
    const nodegroup = cluster.addNodegroupCapacity('Managed', { minSize: 1 });

    attachPolicy(stack, { cluster });

    expect(attachedRoles(stack)).toEqual([ref(nodegroup.role)]);
    expect(cluster.node.tryFindChild('AwsAuth')).toBeUndefined();
  });
});

describe('NodeRoles with an aws-eks-v2 cluster', () => {
  test('attaches to the default node group and to roles of EC2 access entries, not of standard ones', () => {
    // GIVEN
    const stack = newStack();
    const cluster = v2Cluster(stack, { defaultCapacity: 2 });
    const karpenter = nodeRole(stack, 'KarpenterNodeRole');
    new eksv2.AccessEntry(stack, 'KarpenterNodes', {
      cluster,
      principal: karpenter.roleArn,
      accessPolicies: [],
      accessEntryType: eksv2.AccessEntryType.EC2_LINUX,
    });
    new eksv2.AccessEntry(stack, 'WindowsNodes', {
      cluster,
      principal: `arn:aws:iam::${ACCOUNT}:role/nodes/windows-nodes`,
      accessPolicies: [],
      accessEntryType: eksv2.AccessEntryType.EC2_WINDOWS,
    });
    const developer = nodeRole(stack, 'Developer');
    cluster.grantAccess('Developers', developer.roleArn, []);

    // WHEN
    attachPolicy(stack, { cluster });

    // THEN
    expect(attachedRoles(stack)).toEqual([ref(cluster.defaultNodegroup!.role), ref(karpenter), 'windows-nodes']);
  });

  test('leaves out the Auto Mode node pool role, whose nodes run no aws-node, and says so when nothing is left', () => {
    // GIVEN an aws-eks-v2 cluster with its default compute, Auto Mode, and nothing else
    const stack = newStack();
    const cluster = new eksv2.Cluster(stack, 'Cluster', { version: eksv2.KubernetesVersion.V1_33 });

    // WHEN
    attachPolicy(stack, { cluster });

    // THEN the cluster is in Auto Mode, and its node pool role is no node role for the policy
    const autoModeRole = cluster.node.findChild('ClusternodePoolRole') as iam.Role;
    expect(stack.resolve((cluster.node.findChild('Resource') as eksv2.CfnCluster).computeConfig)).toMatchObject({
      enabled: true, nodeRoleArn: stack.resolve(autoModeRole.roleArn),
    });
    expect(() => Template.fromStack(stack)).toThrow(/nodeRoles: found no EC2 node role of cluster Stack\/Cluster .*Auto Mode nodes run no aws-node/);
  });

  test('with Auto Mode and a node group, attaches to the node group role only', () => {
    const stack = newStack();
    const cluster = new eksv2.Cluster(stack, 'Cluster', { version: eksv2.KubernetesVersion.V1_33 });
    const nodegroup = cluster.addNodegroupCapacity('Workers', { minSize: 1 });

    attachPolicy(stack, { cluster });

    expect(attachedRoles(stack)).toEqual([ref(nodegroup.role)]);
  });

  test('leaves out roles of Auto Mode (EC2) and Fargate access entries', () => {
    const stack = newStack();
    const cluster = v2Cluster(stack, { defaultCapacity: 1 });
    for (const [id, type] of [['AutoNodes', eksv2.AccessEntryType.EC2], ['FargatePods', eksv2.AccessEntryType.FARGATE_LINUX]] as const) {
      new eksv2.AccessEntry(stack, id, { cluster, principal: nodeRole(stack, `${id}Role`).roleArn, accessPolicies: [], accessEntryType: type });
    }

    attachPolicy(stack, { cluster });

    expect(attachedRoles(stack)).toEqual([ref(cluster.defaultNodegroup!.role)]);
  });

  test('attaches to node roles of a cluster in another stack through a cross-stack reference', () => {
    // GIVEN
    const app = new App();
    const clusterStack = newStack('ClusterStack', app);
    const cluster = v2Cluster(clusterStack);
    cluster.addNodegroupCapacity('Managed', { minSize: 1 });
    const helperStack = newStack('HelperStack', app);

    // WHEN
    attachPolicy(helperStack, { cluster });

    // THEN
    expect(attachedRoles(helperStack)).toEqual([{ 'Fn::ImportValue': expect.stringMatching(/^ClusterStack:ExportsOutputRef.*NodeGroupRole/) }]);
  });

  test('warns about an access entry whose role it cannot name', () => {
    const stack = newStack();
    const cluster = v2Cluster(stack, { defaultCapacity: 1 });
    new eksv2.AccessEntry(stack, 'Imported', {
      cluster,
      principal: Fn.importValue('SharedNodeRoleArn'),
      accessPolicies: [],
      accessEntryType: eksv2.AccessEntryType.EC2_LINUX,
    });

    attachPolicy(stack, { cluster });

    expect(attachedRoles(stack)).toEqual([ref(cluster.defaultNodegroup!.role)]);
    Annotations.fromStack(stack).hasWarning(
      '/Stack/NodeRoles',
      Match.stringLikeRegexp('Access entry Stack/Imported/Resource names a node role by an ARN .* pass that role in `nodeRoles`'),
    );
  });
});

describe('NodeRoles and Fargate', () => {
  test('an aws-eks cluster\'s Fargate profile role is left out: Fargate pods run no aws-node', () => {
    // GIVEN a cluster with a node group and a Fargate profile (aws-eks maps both roles in aws-auth)
    const stack = newStack();
    const cluster = v1Cluster(stack);
    const nodegroup = cluster.addNodegroupCapacity('Managed', { minSize: 1 });
    const profile = cluster.addFargateProfile('Jobs', { selectors: [{ namespace: 'jobs' }] });

    // WHEN
    attachPolicy(stack, { cluster });

    // THEN only the node group's role has the policy
    expect(attachedRoles(stack)).toEqual([ref(nodegroup.role)]);
    expect(attachedRoles(stack)).not.toContainEqual(ref(profile.podExecutionRole));
  });
});

describe('NodeRoles with an imported cluster', () => {
  test('without awsAuth or nodeRoles, synthesis fails naming them', () => {
    const stack = newStack();
    attachPolicy(stack, { cluster: importedCluster(stack) });
    expect(() => Template.fromStack(stack)).toThrow(
      /cni-metrics-helper: nodeRoles: found no EC2 node role of cluster Stack\/Imported .*an imported cluster has no node groups in this app.* — pass `awsAuth` .* or `nodeRoles`/,
    );
  });

  test('takes the roles of its aws-auth text, and of node groups the app adds to it', () => {
    const stack = newStack();
    const vpc = ec2.Vpc.fromVpcAttributes(stack, 'Vpc', { vpcId: 'vpc-0123456789abcdef0', availabilityZones: ['us-west-2a'], privateSubnetIds: ['subnet-0123456789abcdef0'] });
    const cluster = importedCluster(stack, { vpc });
    const nodegroup = new eks.Nodegroup(stack, 'Added', { cluster, minSize: 1 });

    attachPolicy(stack, { cluster, awsAuth: GUIDE_SAMPLE });

    expect(attachedRoles(stack)).toEqual([ref(nodegroup.role), GUIDE_ROLE_NAME]);
  });
});

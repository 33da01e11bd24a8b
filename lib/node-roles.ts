/**
 * The node roles the CNI metrics policy goes on, from every source a user has: an EKS cluster in
 * the same app, the text of its aws-auth ConfigMap, and roles passed by hand. Each role once.
 *
 * With the node-role identity (the AWS guide's way) the collector's pod publishes with the
 * instance role of whatever node it lands on, so every node role of the cluster needs the policy.
 */
import { Annotations, Aspects, CfnResource, IAspect, Stack, Tag, Token } from 'aws-cdk-lib';
import * as autoscaling from 'aws-cdk-lib/aws-autoscaling';
import * as eks from 'aws-cdk-lib/aws-eks';
import * as eksv2 from 'aws-cdk-lib/aws-eks-v2';
import * as iam from 'aws-cdk-lib/aws-iam';
import { Construct, IConstruct } from 'constructs';
import { NODES_GROUP, nodeRoleArnsFromAwsAuth } from './aws-auth';
import { IRoleAttachable } from './cni-metrics-policy';

/** An EKS cluster defined in this app, with either the aws-eks or the aws-eks-v2 module. */
export type InAppCluster = eks.Cluster | eksv2.Cluster;

/** Where node roles come from. Every source given is used; a role found twice counts once. */
export interface NodeRoleSources {
  /**
   * An EKS cluster defined in this app. Its node roles are: the roles of its managed node groups,
   * of its self-managed capacity (`addAutoScalingGroupCapacity`, `connectAutoScalingGroupCapacity`),
   * the roles its aws-auth maps to group `system:nodes` (aws-eks), the roles of its EC2 access
   * entries, and its Auto Mode node role (aws-eks-v2). Read at synthesis, so node groups added
   * after the helper count too.
   *
   * @default - no in-app cluster
   */
  readonly cluster?: InAppCluster;

  /**
   * The aws-auth ConfigMap as text, for a cluster managed elsewhere: the output of
   * `kubectl -n kube-system get configmap aws-auth -o yaml`, of
   * `kubectl describe configmap -n kube-system aws-auth`, or the bare mapRoles YAML. The roles
   * mapped to group `system:nodes` are the node roles.
   *
   * @default - none
   */
  readonly awsAuth?: string;

  /**
   * Node roles given by hand, e.g. `iam.Role.fromRoleName(this, 'Nodes', 'my-node-role')`.
   *
   * @default - none
   */
  readonly nodeRoles?: iam.IRole[];
}

/** aws-eks's AwsAuth construct id on its cluster (`cluster.awsAuth` creates it under this id). */
const AWS_AUTH_CHILD_ID = 'AwsAuth';

/** Access entry types of EC2 nodes, which run aws-node and can run the collector. */
const NODE_ACCESS_ENTRY_TYPES: ReadonlySet<string> = new Set(['EC2_LINUX', 'EC2_WINDOWS', 'EC2']);

const ROLE_ARN_PARTS = /^arn:[^:]+:iam::(\d{12}):role\/(?:.*\/)?([^/]+)$/;

/**
 * The node roles from all sources as of now, each role once (the same role by ARN, by name, or
 * as the same construct). Roles known only by ARN are imported into `scope`.
 *
 * Snapshot: node groups added to the cluster later are missed. `NodeRoles.attachPolicy` reads
 * the sources at synthesis instead.
 */
export function collectNodeRoles(scope: Construct, sources: NodeRoleSources): iam.IRole[] {
  return combineNodeRoles(scope, sources, importAwsAuthRoles(scope, sources.awsAuth));
}

/** The node roles of the aws-auth text, imported into `scope`; none without a text. */
function importAwsAuthRoles(scope: Construct, awsAuth: string | undefined): iam.IRole[] {
  if (awsAuth === undefined) return [];
  return nodeRoleArnsFromAwsAuth(awsAuth).map((arn) => importRole(scope, arn, 'awsAuth'));
}

/** The roles given by hand, the cluster's and the aws-auth ones, in that order, each once. */
function combineNodeRoles(scope: Construct, sources: NodeRoleSources, awsAuthRoles: readonly iam.IRole[]): iam.IRole[] {
  return uniqueRoles([
    ...(sources.nodeRoles ?? []),
    ...(sources.cluster ? clusterNodeRoles(scope, sources.cluster) : []),
    ...awsAuthRoles,
  ]);
}

/**
 * The node roles of one EKS cluster defined in this app (see `NodeRoleSources.cluster`).
 * Roles known only by a literal ARN are imported into `scope`.
 */
export function clusterNodeRoles(scope: Construct, cluster: InAppCluster): iam.IRole[] {
  const everything = cluster.node.root.node.findAll();
  const rolesByArn = new Map<string, iam.IRole>();
  for (const construct of everything) {
    if (iam.Role.isRole(construct) && !rolesByArn.has(construct.roleArn)) rolesByArn.set(construct.roleArn, construct);
  }
  const roleForArn = (arn: string, where: string): iam.IRole | undefined => {
    const inApp = rolesByArn.get(arn);
    if (inApp) return inApp;
    if (!Token.isUnresolved(arn)) return importRole(scope, arn, 'nodeRoles');
    Annotations.of(scope).addWarningV2(
      'cni-metrics-helper:nodeRoleUnknown',
      `${where} names a node role by an ARN that is neither a role of this app nor a literal; ` +
        'its nodes will not get the CNI metrics policy — pass that role in `nodeRoles`',
    );
    return undefined;
  };

  const roles: iam.IRole[] = [];
  const capacityTag = `kubernetes.io/cluster/${cluster.clusterName}`;
  for (const construct of everything) {
    if ((construct instanceof eks.Nodegroup || construct instanceof eksv2.Nodegroup) && construct.cluster === cluster) {
      roles.push(construct.role);
    } else if (construct instanceof autoscaling.AutoScalingGroup && isCapacityOf(construct, cluster, capacityTag)) {
      const role = autoScalingGroupRole(scope, construct);
      if (role) roles.push(role);
    } else if (isNodeAccessEntryOf(construct, cluster)) {
      const role = roleForArn(construct.principalArn, `Access entry ${construct.node.path}`);
      if (role) roles.push(role);
    }
  }
  roles.push(...awsAuthNodeRoles(scope, cluster));
  const autoModeArn = autoModeNodeRoleArn(cluster);
  if (autoModeArn !== undefined) {
    const role = roleForArn(autoModeArn, `The Auto Mode compute config of ${cluster.node.path}`);
    if (role) roles.push(role);
  }
  return uniqueRoles(roles);
}

/**
 * The node roles of a set of sources, with a CNI metrics policy attached to each of them at
 * synthesis: node groups and capacity added to the cluster after this construct are included.
 * Synthesis fails if a policy is attached and no node role is found.
 */
export class NodeRoles extends Construct {
  private readonly sources: NodeRoleSources;
  /** The roles of `sources.awsAuth`: fixed text, so parsed and imported once. */
  private readonly awsAuthRoles: iam.IRole[];
  private readonly policies: IRoleAttachable[] = [];
  private attachedRoles: iam.IRole[] | undefined;

  constructor(scope: Construct, id: string, sources: NodeRoleSources) {
    super(scope, id);
    this.sources = sources;
    // Now rather than at synthesis, so a bad awsAuth fails where it is passed.
    this.awsAuthRoles = importAwsAuthRoles(this, sources.awsAuth);

    // Aspects run at synthesis, after the app's code has added all its node groups.
    const attachAtSynthesis: IAspect = {
      visit: (node: IConstruct) => {
        if (node === this) this.attachAll();
      },
    };
    Aspects.of(this).add(attachAtSynthesis);
    this.node.addValidation({ validate: () => this.validateAttached() });
  }

  /** The node roles as of now (node groups added later are not in it yet). */
  public get roles(): iam.IRole[] {
    return combineNodeRoles(this, this.sources, this.awsAuthRoles);
  }

  /** Attaches the policy to every node role, at synthesis. */
  public attachPolicy(policy: IRoleAttachable): void {
    this.policies.push(policy);
  }

  private attachAll(): void {
    if (this.policies.length === 0) return;
    this.attachedRoles = this.roles;
    for (const policy of this.policies) {
      for (const role of this.attachedRoles) policy.attachToRole(role);
    }
  }

  private validateAttached(): string[] {
    if (this.policies.length === 0 || (this.attachedRoles?.length ?? 0) > 0) return [];
    return [
      'nodeRoles: found no node role to attach the CNI metrics policy to — pass `cluster` (an EKS cluster ' +
        'of this app with node groups or capacity), `awsAuth` (the aws-auth ConfigMap text) or `nodeRoles`; ' +
        'or give the collector its own identity with CollectorIdentity.podIdentity() or CollectorIdentity.irsa()',
    ];
  }
}

/**
 * The same role once: by construct, by name (unique per account), or by resolved reference.
 * Of an imported role and the app's own definition of it, the definition wins: referencing it
 * makes CloudFormation create the role before attaching the policy to it.
 */
function uniqueRoles(roles: readonly iam.IRole[]): iam.IRole[] {
  const positions = new Map<string, number>();
  const unique: iam.IRole[] = [];
  for (const role of roles) {
    const key = roleKey(role);
    const position = positions.get(key);
    if (position === undefined) {
      positions.set(key, unique.length);
      unique.push(role);
    } else if (isDefinedInApp(role) && !isDefinedInApp(unique[position])) {
      unique[position] = role;
    }
  }
  return unique;
}

function roleKey(role: iam.IRole): string {
  const stack = Stack.of(role);
  const name: unknown = stack.resolve(role.roleName);
  if (typeof name === 'string') return `name:${name}`;
  // A role of this app with a physical name: its roleName resolves to a { Ref }, its L1 has the name.
  const definition = role.node.defaultChild;
  if (definition instanceof iam.CfnRole && typeof definition.roleName === 'string' && !Token.isUnresolved(definition.roleName)) {
    return `name:${definition.roleName}`;
  }
  // A generated name ({ Ref }, { Fn::Select ... }) is only comparable within its stack.
  return `ref:${stack.node.path}:${JSON.stringify(name)}`;
}

function isDefinedInApp(role: iam.IRole): boolean {
  return role.node.defaultChild instanceof iam.CfnRole;
}

/**
 * Imports a role by literal ARN into `scope`, once per name. A role of another account cannot be
 * given a managed policy of this stack's account, so that is an error.
 */
function importRole(scope: Construct, arn: string, source: string): iam.IRole {
  const parts = ROLE_ARN_PARTS.exec(arn);
  if (!parts) {
    throw new Error(
      `${source}: '${arn}' is not an IAM role ARN — expected arn:<partition>:iam::<account>:role/[<path>/]<name>`,
    );
  }
  const [, account, name] = parts;
  const stack = Stack.of(scope);
  if (!Token.isUnresolved(stack.account) && stack.account !== account) {
    throw new Error(
      `${source}: node role '${arn}' is in account ${account}, but stack '${stack.stackName}' deploys to account ` +
        `${stack.account}; a managed policy can only be attached to roles of its own account — deploy the ` +
        "helper's stack to the nodes' account",
    );
  }
  const id = `NodeRole-${name}`;
  const existing = scope.node.tryFindChild(id);
  if (existing) return existing as iam.IRole; // imported by an earlier call, under the same id
  // Imported mutable (the default): the policy's `Roles` names the role, which is the attachment.
  return iam.Role.fromRoleArn(scope, id, arn);
}

/** An ASG is capacity of the cluster when the cluster made it or connected it (which tags it). */
function isCapacityOf(asg: autoscaling.AutoScalingGroup, cluster: InAppCluster, capacityTag: string): boolean {
  if (asg.node.scope === cluster) return true;
  return Aspects.of(asg).all.some((aspect) => aspect instanceof Tag && aspect.key === capacityTag);
}

function autoScalingGroupRole(scope: Construct, asg: autoscaling.AutoScalingGroup): iam.IRole | undefined {
  try {
    return asg.role;
  } catch {
    // An ASG from a launch template without a role exposes none.
    Annotations.of(scope).addWarningV2(
      'cni-metrics-helper:capacityRoleUnknown',
      `Capacity ${asg.node.path} exposes no role (launch template); pass its instance role in \`nodeRoles\``,
    );
    return undefined;
  }
}

interface NodeAccessEntry extends CfnResource {
  readonly principalArn: string;
  readonly clusterName: string;
  readonly type?: string;
}

/** An EC2 access entry of this cluster (aws-eks and aws-eks-v2 each have their own L1 class). */
function isNodeAccessEntryOf(construct: IConstruct, cluster: InAppCluster): construct is NodeAccessEntry {
  if (!CfnResource.isCfnResource(construct) || construct.cfnResourceType !== 'AWS::EKS::AccessEntry') return false;
  const entry = construct as NodeAccessEntry;
  return entry.clusterName === cluster.clusterName && NODE_ACCESS_ENTRY_TYPES.has(entry.type ?? '');
}

/**
 * Roles that aws-eks's aws-auth maps to `system:nodes`: node groups' and capacity's roles (also
 * found above) and roles users map themselves, e.g. Karpenter's node role.
 */
function awsAuthNodeRoles(scope: Construct, cluster: InAppCluster): iam.IRole[] {
  if (!(cluster instanceof eks.Cluster)) return [];
  // `cluster.awsAuth` would create the ConfigMap (and throws in API authentication mode): look it up.
  const awsAuth = cluster.node.tryFindChild(AWS_AUTH_CHILD_ID);
  if (!(awsAuth instanceof eks.AwsAuth)) return [];
  // Last resort: AwsAuth has no public reader for its mappings, so its private `roleMappings`
  // (an iterable of { role, mapping }) is read, checking the shape and warning if it changed.
  const mappings: unknown = (awsAuth as unknown as { roleMappings?: unknown }).roleMappings;
  const roles: iam.IRole[] = [];
  let readable = mappings !== null && typeof mappings === 'object' && Symbol.iterator in mappings;
  if (readable) {
    for (const entry of mappings as Iterable<unknown>) {
      const { role, mapping } = (entry ?? {}) as { role?: iam.IRole; mapping?: eks.AwsAuthMapping };
      if (!role || typeof role.roleArn !== 'string' || !Array.isArray(mapping?.groups)) {
        readable = false;
        break;
      }
      if (mapping.groups.includes(NODES_GROUP)) roles.push(role);
    }
  }
  if (!readable) {
    Annotations.of(scope).addWarningV2(
      'cni-metrics-helper:awsAuthUnreadable',
      `Could not read the role mappings of ${awsAuth.node.path} (aws-cdk-lib changed); roles mapped to ` +
        `'${NODES_GROUP}' by hand will not get the CNI metrics policy — pass them in \`nodeRoles\``,
    );
  }
  return roles;
}

/** The node role ARN of an aws-eks-v2 cluster in Auto Mode, from its CfnCluster. */
function autoModeNodeRoleArn(cluster: InAppCluster): string | undefined {
  const resource = cluster.node.tryFindChild('Resource');
  if (!(resource instanceof eks.CfnCluster || resource instanceof eksv2.CfnCluster)) return undefined;
  const compute = resource.computeConfig;
  if (!compute || Token.isUnresolved(compute)) return undefined;
  const config = compute as eksv2.CfnCluster.ComputeConfigProperty;
  return config.enabled === true && typeof config.nodeRoleArn === 'string' ? config.nodeRoleArn : undefined;
}

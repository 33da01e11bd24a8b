/**
 * Finds the node roles of each source: the EC2 capacity of an EKS cluster in this app (node groups,
 * self-managed capacity, aws-auth role mappings, EC2 access entries), the aws-auth text of a
 * cluster managed elsewhere, and roles passed by hand. Each role once. Fargate pod execution roles
 * and Auto Mode node pool roles are left out: no aws-node runs on those nodes.
 */
import { Annotations, Aspects, CfnResource, Stack, Token } from 'aws-cdk-lib';
import * as iam from 'aws-cdk-lib/aws-iam';
import { Construct, IConstruct } from 'constructs';
import type { NodeRoleSources } from '../node-roles';
import { isEc2NodeMapping, nodeRoleArnsFromAwsAuth } from './aws-auth-parser';
import { AnyCluster, WARNING_IDS, isNodegroupOf } from './cluster';
import { ValidationError } from './errors';

/** aws-eks's AwsAuth construct id on its cluster (`cluster.awsAuth` creates it under this id). */
const AWS_AUTH_CHILD_ID = 'AwsAuth';

/** Access entry types of EC2 nodes, which run aws-node. Not 'EC2' (Auto Mode node pools) nor 'FARGATE_LINUX'. */
const NODE_ACCESS_ENTRY_TYPES: ReadonlySet<string> = new Set(['EC2_LINUX', 'EC2_WINDOWS']);

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
export function importAwsAuthRoles(scope: Construct, awsAuth: string | undefined): iam.IRole[] {
  if (awsAuth === undefined) return [];
  return nodeRoleArnsFromAwsAuth(awsAuth).map((arn) => importRole(scope, arn, 'awsAuth'));
}

/** The roles given by hand, the cluster's and the aws-auth ones, in that order, each once. */
export function combineNodeRoles(scope: Construct, sources: NodeRoleSources, awsAuthRoles: readonly iam.IRole[]): iam.IRole[] {
  return uniqueRoles([
    ...(sources.nodeRoles ?? []),
    ...(sources.cluster ? clusterNodeRoles(scope, sources.cluster) : []),
    ...awsAuthRoles,
  ]);
}

/**
 * The EC2 node roles of one EKS cluster found in this app (see `NodeRoleSources.cluster`): none for
 * an imported cluster unless the app adds node groups or capacity to it. Roles known only by a
 * literal ARN are imported into `scope`.
 */
function clusterNodeRoles(scope: Construct, cluster: AnyCluster): iam.IRole[] {
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
      WARNING_IDS.nodeRoleUnknown,
      `${where} names a node role by an ARN that is neither a role of this app nor a literal; ` +
        'its nodes will not get the CNI metrics policy — pass that role in `nodeRoles`',
    );
    return undefined;
  };

  const roles: iam.IRole[] = [];
  const capacityTag = `kubernetes.io/cluster/${cluster.clusterName}`;
  for (const construct of everything) {
    if (isNodegroupOf(construct, cluster)) {
      roles.push(construct.role);
    } else if (isAutoScalingGroup(construct) && isCapacityOf(construct, cluster, capacityTag)) {
      const role = autoScalingGroupRole(scope, construct);
      if (role) roles.push(role);
    } else if (isNodeAccessEntryOf(construct, cluster)) {
      const role = roleForArn(construct.principalArn, `Access entry ${construct.node.path}`);
      if (role) roles.push(role);
    }
  }
  roles.push(...awsAuthNodeRoles(scope, cluster));
  // No Auto Mode node role: Auto Mode nodes run no aws-node (the helper warns about Auto Mode).
  return uniqueRoles(roles);
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
  const definedName = isRoleDefinition(definition) ? definition.roleName : undefined;
  if (typeof definedName === 'string' && !Token.isUnresolved(definedName)) return `name:${definedName}`;
  // A generated name ({ Ref }, { Fn::Select ... }) is only comparable within its stack.
  return `ref:${stack.node.path}:${JSON.stringify(name)}`;
}

/** An AWS::IAM::Role resource (checked by type, not by class: see lib/private/cluster.ts). */
function isRoleDefinition(construct: IConstruct | undefined): construct is CfnResource & { roleName?: unknown } {
  return construct !== undefined && CfnResource.isCfnResource(construct) && construct.cfnResourceType === 'AWS::IAM::Role';
}

function isDefinedInApp(role: iam.IRole): boolean {
  return isRoleDefinition(role.node.defaultChild);
}

/**
 * Imports a role by literal ARN into `scope`, once per name. A role of another account cannot be
 * given a managed policy of this stack's account, so that is an error naming `source`, the prop.
 */
function importRole(scope: Construct, arn: string, source: string): iam.IRole {
  const parts = ROLE_ARN_PARTS.exec(arn);
  if (!parts) {
    throw new ValidationError(source, `'${arn}' is not an IAM role ARN`, 'expected arn:<partition>:iam::<account>:role/[<path>/]<name>');
  }
  const [, account, name] = parts;
  const stack = Stack.of(scope);
  if (!Token.isUnresolved(stack.account) && stack.account !== account) {
    throw new ValidationError(
      source,
      `node role '${arn}' is in account ${account}, but stack '${stack.stackName}' deploys to account ${stack.account}; ` +
        'a managed policy can only be attached to roles of its own account',
      "deploy the helper's stack to the nodes' account",
    );
  }
  const id = `NodeRole-${name}`;
  const existing = scope.node.tryFindChild(id);
  if (existing) return existing as iam.IRole; // imported by an earlier call, under the same id
  // Imported mutable (the default): the policy's `Roles` names the role, which is the attachment.
  return iam.Role.fromRoleArn(scope, id, arn);
}

/** What the helper reads of an AutoScalingGroup (aws-autoscaling), recognised by shape. */
interface AutoScalingGroupLike extends IConstruct {
  readonly autoScalingGroupName: string;
  readonly role: iam.IRole;
}

function isAutoScalingGroup(construct: IConstruct): construct is AutoScalingGroupLike {
  const defaultChild = construct.node.defaultChild;
  return 'autoScalingGroupName' in construct && 'role' in construct && defaultChild !== undefined &&
    CfnResource.isCfnResource(defaultChild) && defaultChild.cfnResourceType === 'AWS::AutoScaling::AutoScalingGroup';
}

/** An ASG is capacity of the cluster when the cluster made it or connected it (which tags it). */
function isCapacityOf(asg: AutoScalingGroupLike, cluster: AnyCluster, capacityTag: string): boolean {
  if (asg.node.scope === cluster) return true;
  return Aspects.of(asg).all.some((aspect) => (aspect as { key?: unknown }).key === capacityTag);
}

function autoScalingGroupRole(scope: Construct, asg: AutoScalingGroupLike): iam.IRole | undefined {
  try {
    return asg.role;
  } catch {
    // An ASG from a launch template without a role exposes none.
    Annotations.of(scope).addWarningV2(
      WARNING_IDS.capacityRoleUnknown,
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
function isNodeAccessEntryOf(construct: IConstruct, cluster: AnyCluster): construct is NodeAccessEntry {
  if (!CfnResource.isCfnResource(construct) || construct.cfnResourceType !== 'AWS::EKS::AccessEntry') return false;
  const entry = construct as NodeAccessEntry;
  return entry.clusterName === cluster.clusterName && NODE_ACCESS_ENTRY_TYPES.has(entry.type ?? '');
}

/**
 * Roles that aws-eks's aws-auth maps to `system:nodes` (not Fargate's `system:node-proxier`): node
 * groups' and capacity's roles (also found above) and roles users map themselves, e.g. Karpenter's.
 */
function awsAuthNodeRoles(scope: Construct, cluster: AnyCluster): iam.IRole[] {
  // `cluster.awsAuth` would create the ConfigMap (and throws in API authentication mode): look it up.
  const awsAuth = cluster.node.tryFindChild(AWS_AUTH_CHILD_ID);
  if (awsAuth === undefined || !('addRoleMapping' in awsAuth)) return [];
  // Last resort: AwsAuth has no public reader for its mappings, so its private `roleMappings`
  // (an iterable of { role, mapping }) is read, checking the shape and warning if it changed.
  const mappings: unknown = (awsAuth as unknown as { roleMappings?: unknown }).roleMappings;
  const roles: iam.IRole[] = [];
  let readable = mappings !== null && typeof mappings === 'object' && Symbol.iterator in mappings;
  if (readable) {
    for (const entry of mappings as Iterable<unknown>) {
      const { role, mapping } = (entry ?? {}) as { role?: iam.IRole; mapping?: { groups?: unknown } };
      if (!role || typeof role.roleArn !== 'string' || !Array.isArray(mapping?.groups)) {
        readable = false;
        break;
      }
      if (isEc2NodeMapping(mapping.groups as string[])) roles.push(role);
    }
  }
  if (!readable) {
    Annotations.of(scope).addWarningV2(
      WARNING_IDS.awsAuthUnreadable,
      `Could not read the role mappings of ${awsAuth.node.path} (aws-cdk-lib changed); roles mapped to ` +
        "'system:nodes' by hand will not get the CNI metrics policy — pass them in `nodeRoles`",
    );
  }
  return roles;
}

/**
 * The node roles the CNI metrics policy goes on, from every source a user has: an EKS cluster in
 * or imported into the app, the text of its aws-auth ConfigMap, and roles passed by hand. Each role
 * once. Only roles of EC2 nodes, which run aws-node: not Fargate pod execution roles, not Auto Mode
 * node pool roles.
 *
 * With the node-role identity (the AWS guide's way) the collector's pod publishes with the
 * instance role of whatever node it lands on, so every node role of the cluster needs the policy.
 */
import { Aspects, IAspect } from 'aws-cdk-lib';
import type * as eks from 'aws-cdk-lib/aws-eks';
import type * as eksv2 from 'aws-cdk-lib/aws-eks-v2';
import * as iam from 'aws-cdk-lib/aws-iam';
import { Construct, IConstruct } from 'constructs';
import { IRoleAttachable } from './cni-metrics-policy';
import { formatProblem } from './private/errors';
import { combineNodeRoles, importAwsAuthRoles } from './private/node-role-discovery';

/** Where node roles come from. Every source given is used; a role found twice counts once. */
export interface NodeRoleSources {
  /**
   * An EKS cluster (aws-eks or aws-eks-v2), defined in this app or imported. Its EC2 node roles
   * are: the roles of its managed node groups, of its self-managed capacity
   * (`addAutoScalingGroupCapacity`, `connectAutoScalingGroupCapacity`), the roles its aws-auth maps
   * to group `system:nodes` (aws-eks), and the roles of its EC2 access entries. Read at synthesis,
   * so node groups added after this construct count too. An imported cluster has none of these in
   * the app: give `awsAuth` or `nodeRoles` with it.
   *
   * @default - no cluster
   */
  readonly cluster?: eks.ICluster | eksv2.ICluster;

  /**
   * The aws-auth ConfigMap as text, for a cluster managed elsewhere: the output of
   * `kubectl -n kube-system get configmap aws-auth -o yaml`, of
   * `kubectl describe configmap -n kube-system aws-auth`, or the bare mapRoles YAML. The roles
   * mapped to group `system:nodes` (and not to Fargate's `system:node-proxier`) are the node roles.
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
    const cluster = this.sources.cluster;
    const problem = cluster
      ? `found no EC2 node role of cluster ${cluster.node.path} to attach the CNI metrics policy to (an imported ` +
        'cluster has no node groups in this app; Fargate and Auto Mode nodes run no aws-node)'
      : 'found no node role to attach the CNI metrics policy to';
    return [
      formatProblem(
        'nodeRoles',
        problem,
        'pass `awsAuth` (the aws-auth ConfigMap text) or `nodeRoles` (the EC2 node roles), or a `cluster` of this app ' +
          'with node groups or capacity; or give the collector its own identity with CollectorIdentity.podIdentity() ' +
          'or CollectorIdentity.irsa()',
      ),
    ];
  }
}

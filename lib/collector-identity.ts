/**
 * Whose AWS credentials the collector publishes with.
 *
 * - `CollectorIdentity.nodeRole()` (default): the node's instance role, as in the AWS guide. No
 *   extra AWS resources and it works on any cluster, but every pod on every node can then publish
 *   to the metrics namespace.
 * - `CollectorIdentity.podIdentity()`: EKS Pod Identity, preferred on current EKS: a role only the
 *   collector's ServiceAccount gets, no OIDC provider and no ServiceAccount annotation. Needs the
 *   eks-pod-identity-agent add-on on EC2 nodes (not available on Fargate).
 * - `CollectorIdentity.irsa()`: IAM roles for service accounts, for where the Pod Identity agent
 *   cannot run (Fargate, older clusters): a role only the collector's ServiceAccount can assume
 *   through the cluster's OIDC provider, named in a ServiceAccount annotation.
 *
 * The chart owns the ServiceAccount manifest; this module makes the role and returns the
 * annotations that manifest needs.
 */
import { CfnJson, CfnResource, Stack, Token } from 'aws-cdk-lib';
import * as eks from 'aws-cdk-lib/aws-eks';
import * as eksv2 from 'aws-cdk-lib/aws-eks-v2';
import * as iam from 'aws-cdk-lib/aws-iam';
import { Construct, IConstruct } from 'constructs';
import { IRoleAttachable } from './cni-metrics-policy';
import { InAppCluster } from './node-roles';

/** The kinds of collector identity. */
export enum CollectorIdentityType {
  /** The instance role of the node the collector runs on. */
  NODE_ROLE = 'NodeRole',
  /** IAM roles for service accounts (web identity through the cluster's OIDC provider). */
  IRSA = 'IRSA',
  /** EKS Pod Identity (association of a role with the ServiceAccount). */
  POD_IDENTITY = 'PodIdentity',
}

export interface PodIdentityOptions {
  /**
   * Add the eks-pod-identity-agent add-on to the cluster (through `cluster.eksPodIdentityAgent`,
   * as aws-eks's own ServiceAccount does) when this app has not added it already. Set to false
   * when the add-on is installed outside this app: adding it twice fails the deployment.
   *
   * @default true
   */
  readonly addAgent?: boolean;
}

export interface CollectorIdentityBindOptions {
  /**
   * The EKS cluster the collector runs in, defined in this app. Required for IRSA (its OIDC
   * provider) and Pod Identity (the association); not used by the node-role identity.
   *
   * @default - none
   */
  readonly cluster?: InAppCluster;

  /** Namespace of the collector's ServiceAccount. */
  readonly serviceAccountNamespace: string;

  /** Name of the collector's ServiceAccount. */
  readonly serviceAccountName: string;

  /** The CNI metrics policy, attached to the role made for the collector. */
  readonly policy: IRoleAttachable;
}

/** What binding an identity made, for the chart and the construct that composes them. */
export interface CollectorIdentityBinding {
  /** The identity's type. */
  readonly type: CollectorIdentityType;

  /**
   * The role the collector's pods get.
   *
   * @default - none: the node-role identity uses the nodes' roles
   */
  readonly role?: iam.IRole;

  /** Annotations the collector's ServiceAccount must carry (IRSA: the role ARN). */
  readonly serviceAccountAnnotations: Record<string, string>;

  /**
   * The construct holding what the binding made (role, trust, association). Make the collector's
   * manifest depend on it so its pods start once their credentials exist.
   *
   * @default - none: nothing was made
   */
  readonly resources?: Construct;
}

/** The IRSA annotation that tells the EKS pod identity webhook which role to inject. */
export const IRSA_ROLE_ANNOTATION = 'eks.amazonaws.com/role-arn';

const POD_IDENTITY_AGENT_ADDON = 'eks-pod-identity-agent';
const POD_IDENTITY_PRINCIPAL = 'pods.eks.amazonaws.com';

/** The collector's identity: the node's role (default), IRSA, or EKS Pod Identity. */
export class CollectorIdentity {
  /** The instance role of the node the collector runs on, as in the AWS guide. */
  public static nodeRole(): CollectorIdentity {
    return new CollectorIdentity(CollectorIdentityType.NODE_ROLE, {});
  }

  /** IAM roles for service accounts, through the cluster's OIDC provider. */
  public static irsa(): CollectorIdentity {
    return new CollectorIdentity(CollectorIdentityType.IRSA, {});
  }

  /** EKS Pod Identity: preferred on current EKS with EC2 nodes. */
  public static podIdentity(options: PodIdentityOptions = {}): CollectorIdentity {
    return new CollectorIdentity(CollectorIdentityType.POD_IDENTITY, options);
  }

  private constructor(
    public readonly type: CollectorIdentityType,
    private readonly podIdentityOptions: PodIdentityOptions,
  ) {}

  /**
   * Makes what this identity needs under `scope`/`id`: for IRSA and Pod Identity a role only the
   * collector's ServiceAccount can use, with the policy attached. The node-role identity makes
   * nothing here: attach the policy to the node roles (`NodeRoles`).
   */
  public bind(scope: Construct, id: string, options: CollectorIdentityBindOptions): CollectorIdentityBinding {
    if (this.type === CollectorIdentityType.NODE_ROLE) {
      return { type: this.type, serviceAccountAnnotations: {} };
    }
    const cluster = requireCluster(this.type, options.cluster);
    validateServiceAccount(options.serviceAccountNamespace, options.serviceAccountName);
    const resources = new Construct(scope, id);
    if (this.type === CollectorIdentityType.IRSA) {
      const role = irsaRole(resources, cluster, options);
      options.policy.attachToRole(role);
      return { type: this.type, role, serviceAccountAnnotations: { [IRSA_ROLE_ANNOTATION]: role.roleArn }, resources };
    }
    const role = podIdentityRole(resources, cluster, options, this.podIdentityOptions.addAgent ?? true);
    options.policy.attachToRole(role);
    return { type: this.type, role, serviceAccountAnnotations: {}, resources };
  }
}

function requireCluster(type: CollectorIdentityType, cluster: InAppCluster | undefined): InAppCluster {
  if (cluster) return cluster;
  const [label, why] =
    type === CollectorIdentityType.IRSA
      ? ['IRSA', "to trust the cluster's OIDC provider"]
      : ['Pod Identity', 'to associate the role with the ServiceAccount'];
  throw new Error(
    `identity: ${label} needs \`cluster\` (an aws-eks or aws-eks-v2 Cluster defined in this app) ${why} — ` +
      'pass `cluster`, or for a cluster managed elsewhere use CollectorIdentity.nodeRole() with `awsAuth` or `nodeRoles`',
  );
}

/** A role that only system:serviceaccount:<namespace>:<name> can assume, through the OIDC provider. */
function irsaRole(scope: Construct, cluster: InAppCluster, options: CollectorIdentityBindOptions): iam.Role {
  const provider = cluster.openIdConnectProvider;
  const issuer = provider.openIdConnectProviderIssuer;
  // The condition keys hold the issuer, a token at synthesis: CfnJson lets a token be a JSON key.
  const conditions = new CfnJson(scope, 'TrustConditions', {
    value: {
      [`${issuer}:sub`]: `system:serviceaccount:${options.serviceAccountNamespace}:${options.serviceAccountName}`,
      [`${issuer}:aud`]: 'sts.amazonaws.com',
    },
  });
  return new iam.Role(scope, 'Role', {
    description: `CNI metrics helper collector (IRSA, ServiceAccount ${serviceAccountPath(options)})`,
    assumedBy: new iam.OpenIdConnectPrincipal(provider, { StringEquals: conditions }),
  });
}

/** A role for pods.eks.amazonaws.com, associated with the collector's ServiceAccount. */
function podIdentityRole(
  scope: Construct,
  cluster: InAppCluster,
  options: CollectorIdentityBindOptions,
  addAgent: boolean,
): iam.Role {
  if (cluster instanceof eks.FargateCluster || cluster instanceof eksv2.FargateCluster) {
    throw new Error(
      'identity: Pod Identity is not available on Fargate (the agent runs as a DaemonSet on EC2 nodes) — ' +
        'use CollectorIdentity.irsa() on a Fargate cluster',
    );
  }
  const role = new iam.Role(scope, 'Role', {
    description: `CNI metrics helper collector (Pod Identity, ServiceAccount ${serviceAccountPath(options)})`,
    // Pod Identity assumes with session tags: the trust needs sts:TagSession besides sts:AssumeRole.
    assumedBy: new iam.ServicePrincipal(POD_IDENTITY_PRINCIPAL).withSessionTags(),
  });
  const association = new eks.CfnPodIdentityAssociation(scope, 'Association', {
    clusterName: cluster.clusterName,
    namespace: options.serviceAccountNamespace,
    serviceAccount: options.serviceAccountName,
    roleArn: role.roleArn,
  });
  const agent = findPodIdentityAgent(cluster) ?? (addAgent ? cluster.eksPodIdentityAgent : undefined);
  // So that whatever depends on this binding (the collector's manifest) also waits for the agent.
  if (agent) association.node.addDependency(agent);
  return role;
}

/** An eks-pod-identity-agent add-on this app already adds to the cluster, if any. */
function findPodIdentityAgent(cluster: InAppCluster): IConstruct | undefined {
  const stack = Stack.of(cluster);
  return stack.node.findAll().find((construct) => {
    if (!CfnResource.isCfnResource(construct) || construct.cfnResourceType !== 'AWS::EKS::Addon') return false;
    const addon = construct as CfnResource & { addonName?: string; clusterName?: string };
    return addon.addonName === POD_IDENTITY_AGENT_ADDON && addon.clusterName === cluster.clusterName;
  });
}

function serviceAccountPath(options: CollectorIdentityBindOptions): string {
  return `${options.serviceAccountNamespace}/${options.serviceAccountName}`;
}

/** Kubernetes names: the namespace a DNS label, the ServiceAccount a DNS subdomain. */
function validateServiceAccount(namespace: string, name: string): void {
  if (!Token.isUnresolved(namespace) && !(namespace.length <= 63 && /^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/.test(namespace))) {
    throw new Error(
      `identity: serviceAccountNamespace '${namespace}' is not a Kubernetes namespace name (a DNS label: ` +
        'lower-case letters, digits and "-", at most 63 characters; set as `collector.namespace` of CniMetricsHelper) ' +
        '— e.g. \'kube-system\'',
    );
  }
  const subdomain = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$/;
  if (!Token.isUnresolved(name) && !(name.length <= 253 && subdomain.test(name))) {
    throw new Error(
      `identity: serviceAccountName '${name}' is not a Kubernetes object name (a DNS subdomain: lower-case ` +
        'letters, digits, "-" and ".", at most 253 characters; set as `collector.serviceAccountName` of ' +
        'CniMetricsHelper) — e.g. \'cni-metrics-helper\'',
    );
  }
}

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
import type * as eksv2 from 'aws-cdk-lib/aws-eks-v2';
import * as iam from 'aws-cdk-lib/aws-iam';
import { Construct, IConstruct } from 'constructs';
import { IRoleAttachable } from './cni-metrics-policy';
import { AnyCluster, isFargateCluster } from './private/cluster';
import { ValidationError, got } from './private/errors';
import { DNS_LABEL_RULE, DNS_SUBDOMAIN_RULE, isDnsLabel, isDnsSubdomain } from './private/kubernetes-names';

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
   * The EKS cluster the collector runs in (aws-eks or aws-eks-v2, in this app or imported). Required
   * for IRSA (its OIDC provider) and Pod Identity (the association); not used by the node-role identity.
   *
   * @default - none
   */
  readonly cluster?: eks.ICluster | eksv2.ICluster;

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
const IRSA_ROLE_ANNOTATION = 'eks.amazonaws.com/role-arn';

const POD_IDENTITY_AGENT_ADDON = 'eks-pod-identity-agent';
const POD_IDENTITY_PRINCIPAL = 'pods.eks.amazonaws.com';

/**
 * The collector's identity: the node's role (default), IRSA, or EKS Pod Identity. Choose one with a
 * static factory; each kind binds itself (makes its role) when the helper asks.
 */
export abstract class CollectorIdentity {
  /** The instance role of the node the collector runs on, as in the AWS guide. */
  public static nodeRole(): CollectorIdentity {
    return new NodeRoleIdentity();
  }

  /** IAM roles for service accounts, through the cluster's OIDC provider. */
  public static irsa(): CollectorIdentity {
    return new IrsaIdentity();
  }

  /** EKS Pod Identity: preferred on current EKS with EC2 nodes. */
  public static podIdentity(options: PodIdentityOptions = {}): CollectorIdentity {
    return new PodIdentityIdentity(options);
  }

  /** The kind of identity. */
  public abstract readonly type: CollectorIdentityType;

  /**
   * Makes what this identity needs under `scope`/`id`: for IRSA and Pod Identity a role only the
   * collector's ServiceAccount can use, with the policy attached. The node-role identity makes
   * nothing here: attach the policy to the node roles (`NodeRoles`).
   */
  public abstract bind(scope: Construct, id: string, options: CollectorIdentityBindOptions): CollectorIdentityBinding;
}

class NodeRoleIdentity extends CollectorIdentity {
  public readonly type = CollectorIdentityType.NODE_ROLE;

  public bind(_scope: Construct, _id: string, _options: CollectorIdentityBindOptions): CollectorIdentityBinding {
    return { type: this.type, serviceAccountAnnotations: {} };
  }
}

class IrsaIdentity extends CollectorIdentity {
  public readonly type = CollectorIdentityType.IRSA;

  public bind(scope: Construct, id: string, options: CollectorIdentityBindOptions): CollectorIdentityBinding {
    const cluster = requireCluster('IRSA', "to trust the cluster's OIDC provider", options.cluster);
    validateServiceAccount(options.serviceAccountNamespace, options.serviceAccountName);
    const resources = new Construct(scope, id);
    const role = irsaRole(resources, cluster, options);
    options.policy.attachToRole(role);
    return { type: this.type, role, serviceAccountAnnotations: { [IRSA_ROLE_ANNOTATION]: role.roleArn }, resources };
  }
}

class PodIdentityIdentity extends CollectorIdentity {
  public readonly type = CollectorIdentityType.POD_IDENTITY;

  constructor(private readonly options: PodIdentityOptions) {
    super();
  }

  public bind(scope: Construct, id: string, options: CollectorIdentityBindOptions): CollectorIdentityBinding {
    const cluster = requireCluster('Pod Identity', 'to associate the role with the ServiceAccount', options.cluster);
    validateServiceAccount(options.serviceAccountNamespace, options.serviceAccountName);
    const resources = new Construct(scope, id);
    const role = podIdentityRole(resources, cluster, options, this.options.addAgent ?? true);
    options.policy.attachToRole(role);
    return { type: this.type, role, serviceAccountAnnotations: {}, resources };
  }
}

function requireCluster(label: string, why: string, cluster: AnyCluster | undefined): AnyCluster {
  if (cluster) return cluster;
  throw new ValidationError(
    'identity',
    `${label} needs \`cluster\` (an aws-eks or aws-eks-v2 cluster, in this app or imported) ${why}`,
    'pass `cluster`, or for a cluster managed elsewhere use CollectorIdentity.nodeRole() with `awsAuth` or `nodeRoles`',
  );
}

/** A role that only system:serviceaccount:<namespace>:<name> can assume, through the OIDC provider. */
function irsaRole(scope: Construct, cluster: AnyCluster, options: CollectorIdentityBindOptions): iam.Role {
  let provider: iam.IOpenIdConnectProvider;
  try {
    provider = cluster.openIdConnectProvider;
  } catch (error) {
    // An imported cluster without the provider throws aws-cdk-lib's own error: name the fix here.
    throw new ValidationError(
      'identity',
      `IRSA needs the OIDC provider of cluster ${cluster.node.path}, which has none (${(error as Error).message})`,
      'pass `openIdConnectProvider` to fromClusterAttributes (iam.OpenIdConnectProvider.fromOpenIdConnectProviderArn), ' +
        'or use CollectorIdentity.podIdentity()',
    );
  }
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
  cluster: AnyCluster,
  options: CollectorIdentityBindOptions,
  addAgent: boolean,
): iam.Role {
  if (isFargateCluster(cluster)) {
    throw new ValidationError(
      'identity',
      'Pod Identity is not available on Fargate (the agent runs as a DaemonSet on EC2 nodes)',
      'use CollectorIdentity.irsa() on a Fargate cluster',
    );
  }
  const role = new iam.Role(scope, 'Role', {
    description: `CNI metrics helper collector (Pod Identity, ServiceAccount ${serviceAccountPath(options)})`,
    // Pod Identity assumes with session tags: the trust needs sts:TagSession besides sts:AssumeRole.
    // aws:SourceAccount keeps the EKS service from assuming it for a cluster of another account
    // (the confused-deputy guard).
    assumedBy: new iam.ServicePrincipal(POD_IDENTITY_PRINCIPAL, {
      conditions: { StringEquals: { 'aws:SourceAccount': Stack.of(scope).account } },
    }).withSessionTags(),
  });
  const association = new eks.CfnPodIdentityAssociation(scope, 'Association', {
    clusterName: cluster.clusterName,
    namespace: options.serviceAccountNamespace,
    serviceAccount: options.serviceAccountName,
    roleArn: role.roleArn,
  });
  // An imported cluster has no eksPodIdentityAgent to add: the add-on must be installed already.
  const agent = findPodIdentityAgent(cluster) ?? (addAgent ? cluster.eksPodIdentityAgent : undefined);
  // So that whatever depends on this binding (the collector's manifest) also waits for the agent.
  if (agent) association.node.addDependency(agent);
  return role;
}

/** An eks-pod-identity-agent add-on this app already adds to the cluster, if any. */
function findPodIdentityAgent(cluster: AnyCluster): IConstruct | undefined {
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
  if (!Token.isUnresolved(namespace) && !isDnsLabel(namespace)) {
    throw new ValidationError('serviceAccountNamespace', `must be ${DNS_LABEL_RULE}${got(namespace)}`, "e.g. 'kube-system'");
  }
  if (!Token.isUnresolved(name) && !isDnsSubdomain(name)) {
    throw new ValidationError('serviceAccountName', `must be ${DNS_SUBDOMAIN_RULE}${got(name)}`, "e.g. 'cni-metrics-helper'");
  }
}

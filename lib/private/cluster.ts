/**
 * What the helper needs to know about an EKS cluster, aws-eks or aws-eks-v2, defined in this app or
 * imported (`fromClusterAttributes`). Every check is structural or uses aws-cdk-lib's static `isXxx`
 * methods: an `instanceof` would fail when the app and this package load two copies of aws-cdk-lib.
 */
import { Annotations, CfnResource, Token } from 'aws-cdk-lib';
import type * as eks from 'aws-cdk-lib/aws-eks';
import type * as eksv2 from 'aws-cdk-lib/aws-eks-v2';
import type * as iam from 'aws-cdk-lib/aws-iam';
import { IConstruct } from 'constructs';

/** An EKS cluster of either module, in-app or imported. */
export type AnyCluster = eks.ICluster | eksv2.ICluster;

/**
 * Whether manifests can be applied to the cluster from CloudFormation: it has a kubectl provider,
 * or (aws-eks) a kubectl role one can be made with. aws-eks clusters of this app always have one;
 * aws-eks-v2 clusters only with `kubectlProviderOptions`; imported ones only when told
 * (aws-eks: `kubectlRoleArn` or `kubectlProvider`; aws-eks-v2: `kubectlProvider`).
 */
export function hasKubectl(cluster: AnyCluster): boolean {
  const fields = cluster as { kubectlProvider?: unknown; kubectlRole?: unknown };
  return fields.kubectlProvider !== undefined || fields.kubectlRole !== undefined;
}

/** Whether the cluster is aws-eks-v2's: aws-eks's clusters (in-app and imported) carry the kubectl Lambda's settings. */
export function isEksV2Cluster(cluster: AnyCluster): boolean {
  return !('kubectlLayer' in cluster) && !('kubectlLambdaRole' in cluster);
}

/** The CloudFormation resource of a cluster of this app (aws-eks-v2 CfnCluster), if it has one. */
function clusterResource(cluster: AnyCluster): (CfnResource & { computeConfig?: unknown }) | undefined {
  const resource = cluster.node.tryFindChild('Resource');
  if (resource === undefined || !CfnResource.isCfnResource(resource) || resource.cfnResourceType !== 'AWS::EKS::Cluster') return undefined;
  return resource as CfnResource & { computeConfig?: unknown };
}

/**
 * Whether the cluster runs EKS Auto Mode compute (aws-eks-v2's default): its nodes run no aws-node,
 * so they give the collector nothing to scrape and need no CNI metrics policy.
 */
function isAutoMode(cluster: AnyCluster): boolean {
  const compute = clusterResource(cluster)?.computeConfig;
  if (compute === undefined || compute === null || Token.isUnresolved(compute)) return false;
  return (compute as { enabled?: unknown }).enabled === true;
}

/** Whether the cluster is a FargateCluster (of either module): its pods run on Fargate, where no aws-node runs. */
export function isFargateCluster(cluster: AnyCluster): boolean {
  return 'defaultProfile' in cluster;
}

/** Whether a construct is an EC2 node group (aws-eks or aws-eks-v2 Nodegroup) of `cluster`. */
export function isNodegroupOf(construct: IConstruct, cluster: AnyCluster): construct is IConstruct & { role: iam.IRole } {
  const candidate = construct as { nodegroupArn?: unknown; role?: unknown; cluster?: unknown };
  return typeof candidate.nodegroupArn === 'string' && candidate.role !== undefined && candidate.cluster === cluster;
}

/** Annotation ids, so users can acknowledge a warning: `Annotations.of(scope).acknowledgeWarning(id)`. */
export const WARNING_IDS = {
  autoMode: 'cni-metrics-helper:autoMode',
  nodeRoleUnknown: 'cni-metrics-helper:nodeRoleUnknown',
  capacityRoleUnknown: 'cni-metrics-helper:capacityRoleUnknown',
  awsAuthUnreadable: 'cni-metrics-helper:awsAuthUnreadable',
  regionUnknown: 'cni-metrics-helper:regionUnknown',
} as const;

/** Warns at synth that Auto Mode nodes run no aws-node, and what to do about it. */
export function warnAboutAutoMode(scope: IConstruct, cluster: AnyCluster): void {
  if (!isAutoMode(cluster)) return;
  Annotations.of(scope).addWarningV2(
    WARNING_IDS.autoMode,
    `cluster ${cluster.node.path} uses EKS Auto Mode compute, whose nodes run no VPC CNI (aws-node): there are no ipamd ` +
      'metrics to collect from them and their node pool role gets no CNI metrics policy. The VPC CNI runs only on EC2 node ' +
      'groups you add (cluster.addNodegroupCapacity, or defaultCapacityType: DefaultCapacityType.NODEGROUP): add them, ' +
      'and prefer identity: CollectorIdentity.podIdentity() so the collector publishes wherever it runs; with Auto Mode ' +
      'compute alone, remove the helper (its CollectorSilent alarm would never clear).',
  );
}

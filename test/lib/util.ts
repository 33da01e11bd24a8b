/**
 * Shared CDK fixtures for the lib tests, as aws-eks's test/util.ts: one way to make a stack, one
 * in-app cluster of each module, and an imported one.
 */
import { KubectlV33Layer } from '@aws-cdk/lambda-layer-kubectl-v33';
import { App, Stack } from 'aws-cdk-lib';
import * as eks from 'aws-cdk-lib/aws-eks';
import * as eksv2 from 'aws-cdk-lib/aws-eks-v2';

export const ACCOUNT = '111122223333';
export const REGION = 'us-west-2';
export const ENV = { account: ACCOUNT, region: REGION };

export interface NewStackOptions {
  /** @default ENV */
  readonly env?: { account?: string; region?: string } | false;
  /** @default 'Stack' */
  readonly id?: string;
  /** @default a new App with asset staging off */
  readonly app?: App;
  /** The app's cloud assembly directory. @default - the App's default */
  readonly outdir?: string;
}

/** A fresh app with asset staging off (`outdir` for tests that read the cloud assembly). */
export function newApp(outdir?: string): App {
  return new App({ context: { 'aws:cdk:disable-asset-staging': true }, analyticsReporting: false, ...(outdir ? { outdir } : {}) });
}

/**
 * A fresh app and stack. Asset staging is off: cluster syntheses stay fast, and nothing depends on
 * the machine's paths. `env: false` gives an environment-agnostic stack.
 */
export function newStack(options: NewStackOptions = {}): { app: App; stack: Stack } {
  const app = options.app ?? newApp(options.outdir);
  const env = options.env === false ? undefined : options.env ?? ENV;
  return { app, stack: new Stack(app, options.id ?? 'Stack', env ? { env } : {}) };
}

/** An aws-eks cluster of this app with its kubectl layer, and no capacity unless `props` gives some. */
export function inAppCluster(stack: Stack, props: Partial<eks.ClusterProps> = {}): eks.Cluster {
  return new eks.Cluster(stack, 'Cluster', {
    version: eks.KubernetesVersion.V1_33,
    kubectlLayer: new KubectlV33Layer(stack, 'kubectl'),
    defaultCapacity: 0,
    ...props,
  });
}

/** An aws-eks-v2 cluster of this app: node group capacity (no Auto Mode) and no kubectl provider unless `props` gives one. */
export function inAppV2Cluster(stack: Stack, props: Partial<eksv2.ClusterProps> = {}): eksv2.Cluster {
  return new eksv2.Cluster(stack, 'Cluster', {
    version: eksv2.KubernetesVersion.V1_33,
    defaultCapacityType: eksv2.DefaultCapacityType.NODEGROUP,
    defaultCapacity: 0,
    ...props,
  });
}

/** An aws-eks-v2 cluster with a kubectl provider, so that charts can be applied to it. */
export function inAppV2ClusterWithKubectl(stack: Stack, props: Partial<eksv2.ClusterProps> = {}): eksv2.Cluster {
  return inAppV2Cluster(stack, { kubectlProviderOptions: { kubectlLayer: new KubectlV33Layer(stack, 'kubectl') }, ...props });
}

/** An existing aws-eks cluster imported by its attributes, with a kubectl role unless told otherwise. */
export function importedCluster(stack: Stack, attributes: Partial<eks.ClusterAttributes> = {}): eks.ICluster {
  return eks.Cluster.fromClusterAttributes(stack, 'Imported', {
    clusterName: 'prod',
    kubectlRoleArn: `arn:aws:iam::${ACCOUNT}:role/eks-kubectl`,
    kubectlLayer: new KubectlV33Layer(stack, 'kubectl'),
    ...attributes,
  });
}

#!/usr/bin/env node
/**
 * The example app `npx cdk synth` runs: the CNI metrics helper for a cluster managed elsewhere,
 * from the aws-auth text of the AWS guide. No AWS account or network is needed to synthesize it.
 *
 *   npx cdk synth                                   # the sample
 *   npx cdk synth -c account=123456789012 -c region=eu-west-1 -c clusterName=prod
 */
import { App } from 'aws-cdk-lib';
import { ExampleStack } from './example-stack';

const app = new App();
// The helper reports where the collector's manifest goes, and the kubectl command, as an info
// annotation: the CLI prints it.
new ExampleStack(app, 'CniMetricsHelperExample', {
  env: {
    account: app.node.tryGetContext('account') ?? '111122223333',
    region: app.node.tryGetContext('region') ?? 'us-west-2',
  },
  clusterName: app.node.tryGetContext('clusterName'),
  description: 'CNI metrics helper: CNIMetricsHelperPolicy on the node roles, the EKS-CNI-metrics dashboard and alarms',
});
app.synth();


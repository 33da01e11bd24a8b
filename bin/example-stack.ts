import { Stack, StackProps } from 'aws-cdk-lib';
import { Construct } from 'constructs';
import { CniMetricsHelper } from '../lib';
import { SAMPLE_AWS_AUTH } from './sample-aws-auth';

export interface ExampleStackProps extends StackProps {
  /** @default 'my-cluster' */
  readonly clusterName?: string;
  /** @default - the AWS guide's sample */
  readonly awsAuth?: string;
}

/** The README's example: the helper for a cluster managed elsewhere, from its aws-auth text. */
export class ExampleStack extends Stack {
  public readonly helper: CniMetricsHelper;

  constructor(scope: Construct, id: string, props: ExampleStackProps = {}) {
    super(scope, id, props);
    this.helper = new CniMetricsHelper(this, 'CniMetricsHelper', {
      clusterName: props.clusterName ?? 'my-cluster',
      awsAuth: props.awsAuth ?? SAMPLE_AWS_AUTH,
    });
  }
}

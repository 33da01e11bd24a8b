/**
 * The aws-auth ConfigMap of a cluster, read from the text a user has at hand: the output of
 * `kubectl -n kube-system get configmap aws-auth -o yaml` (or `-o json`), of
 * `kubectl describe configmap -n kube-system aws-auth` as the AWS guide shows it, or the bare
 * `mapRoles` YAML list. The parser lives in lib/private/aws-auth-parser.ts.
 */
import { nodeRoleArnsFromAwsAuth, parseAwsAuthMapRoles } from './private/aws-auth-parser';

/** One entry of the aws-auth `mapRoles` list. */
export interface AwsAuthRoleMapping {
  /** The IAM role ARN, as written (a path, if any, kept). */
  readonly roleArn: string;

  /**
   * The Kubernetes user name the role maps to.
   *
   * @default - the entry names none
   */
  readonly username?: string;

  /** The Kubernetes groups the role maps to; empty when the entry has none. */
  readonly groups: string[];
}

/** Reads the role mappings of aws-auth ConfigMap text. Errors name `awsAuth`, the problem and the fix. */
export class AwsAuthMapRoles {
  /** Every `mapRoles` entry of the text, in order. */
  public static parse(text: string): AwsAuthRoleMapping[] {
    return parseAwsAuthMapRoles(text);
  }

  /**
   * The ARNs of the EC2 node roles: mapped to group `system:nodes` and not to Fargate's
   * `system:node-proxier` (Fargate pods run no aws-node). Each once, in the order of the text.
   * Fails when there is none.
   */
  public static nodeRoleArns(text: string): string[] {
    return nodeRoleArnsFromAwsAuth(text);
  }

  private constructor() {}
}

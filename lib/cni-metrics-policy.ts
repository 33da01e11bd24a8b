/**
 * The IAM managed policy that lets the collector publish: cloudwatch:PutMetricData, narrowed by
 * the `cloudwatch:namespace` condition to the one namespace it writes; with subnet metrics,
 * ec2:DescribeSubnets in a statement of its own.
 */
import { Stack, Token, Validations } from 'aws-cdk-lib';
import * as iam from 'aws-cdk-lib/aws-iam';
import { Construct, IConstruct } from 'constructs';
import { DEFAULT_NAMESPACE } from '../common/catalog';
import { cloudWatchNamespaceProblem } from '../common/naming';
import { ValidationError, formatProblem, got, withValue } from './private/errors';

/** Anything a policy can be attached to a role through: this construct or an `iam.ManagedPolicy`. */
export interface IRoleAttachable {
  /** Attaches the policy to the role; attaching the same role twice is harmless. */
  attachToRole(role: iam.IRole): void;
}

export interface CniMetricsPolicyProps {
  /**
   * The CloudWatch namespace the collector may publish to; PutMetricData into any other namespace
   * is denied.
   *
   * @default 'Kubernetes' (upstream cni-metrics-helper's namespace)
   */
  readonly namespace?: string;

  /**
   * Name of the managed policy. IAM policy names are unique per account: a second helper in the
   * same account (another cluster, another stack) needs another name.
   *
   * @default 'CNIMetricsHelperPolicy'
   */
  readonly managedPolicyName?: string;

  /**
   * Roles to attach the policy to now; more can be attached with `attachToRole`.
   *
   * @default - none
   */
  readonly roles?: iam.IRole[];

  /**
   * Also allow `ec2:DescribeSubnets`, which the collector calls when it watches subnets
   * (`SUBNET_IDS`). A statement of its own: the namespace condition is PutMetricData's only.
   *
   * @default false
   */
  readonly describeSubnets?: boolean;
}

/** The managed policy's name, as the AWS guide names it. */
const DEFAULT_MANAGED_POLICY_NAME = 'CNIMetricsHelperPolicy';

/** Why the policy's only statement has Resource '*'. */
const WILDCARD_RESOURCE_REASON =
  'cloudwatch:PutMetricData supports no resource-level permissions, so its Resource can only be "*"; the ' +
  'cloudwatch:namespace condition narrows the statement to the one namespace the collector publishes to.';
/** Why the subnet statement (only with describeSubnets) has Resource '*' too. */
const DESCRIBE_SUBNETS_REASON =
  ' ec2:DescribeSubnets (only when subnet metrics are on) is a read-only List action that supports no ' +
  'resource-level permissions either, so its Resource can only be "*".';

/** Marks instances, so that `isCniMetricsPolicy` works across copies of this package (no instanceof). */
const POLICY_SYMBOL = Symbol.for('cdk-cni-metrics-helper.CniMetricsPolicy');

/** The managed policy allowing cloudwatch:PutMetricData into one namespace. */
export class CniMetricsPolicy extends Construct implements IRoleAttachable {
  /** Whether `x` is a CniMetricsPolicy, of this copy of the package or another. */
  public static isCniMetricsPolicy(x: any): x is CniMetricsPolicy {
    return x !== null && typeof x === 'object' && POLICY_SYMBOL in x;
  }

  /** The managed policy itself. */
  public readonly policy: iam.ManagedPolicy;

  /** The one CloudWatch namespace the policy allows. */
  public readonly namespace: string;

  /** The managed policy's name. */
  public readonly managedPolicyName: string;

  constructor(scope: Construct, id: string, props: CniMetricsPolicyProps = {}) {
    super(scope, id);
    Object.defineProperty(this, POLICY_SYMBOL, { value: true });
    this.namespace = props.namespace ?? DEFAULT_NAMESPACE;
    this.managedPolicyName = props.managedPolicyName ?? DEFAULT_MANAGED_POLICY_NAME;
    validateNamespace(this.namespace);
    validateManagedPolicyName(this.managedPolicyName);
    for (const role of props.roles ?? []) this.checkSameAccount(role);

    this.policy = new iam.ManagedPolicy(this, 'Resource', {
      managedPolicyName: this.managedPolicyName,
      description: `Lets the CNI metrics helper publish metrics to the CloudWatch namespace ${this.namespace}`,
      statements: [
        new iam.PolicyStatement({
          effect: iam.Effect.ALLOW,
          actions: ['cloudwatch:PutMetricData'],
          // PutMetricData has no resource-level permissions: the namespace condition is the narrowing.
          resources: ['*'],
          conditions: { StringEquals: { 'cloudwatch:namespace': this.namespace } },
        }),
        ...((props.describeSubnets ?? false) ? [
          // Read-only and without resource-level permissions: the subnet watcher's one EC2 call.
          new iam.PolicyStatement({ effect: iam.Effect.ALLOW, actions: ['ec2:DescribeSubnets'], resources: ['*'] }),
        ] : []),
      ],
      roles: props.roles,
    });
    // cdk-nag's AwsSolutions-IAM5 flags the '*' resource. It is the only resource PutMetricData
    // can have, so this one finding is acknowledged here, with the construct that cannot avoid it,
    // and users' cdk-nag runs need no suppression of ours. Any other finding still shows.
    Validations.of(this.policy).acknowledge({
      id: 'AwsSolutions-IAM5[Resource::*]',
      reason: WILDCARD_RESOURCE_REASON + ((props.describeSubnets ?? false) ? DESCRIBE_SUBNETS_REASON : ''),
    });

    this.node.addValidation({ validate: () => this.findNameClash() });
  }

  /** Attaches the policy to the role (the managed policy's `Roles`); duplicates are ignored. */
  public attachToRole(role: iam.IRole): void {
    this.checkSameAccount(role);
    this.policy.attachToRole(role);
  }

  /**
   * The managed policy's `Roles` names each role, and names mean roles of the policy's own account:
   * a role of another account would fail the deployment, or silently give the policy to a role of
   * the same name in this account. Only checked when both accounts are known at synthesis.
   */
  private checkSameAccount(role: iam.IRole): void {
    const account = Stack.of(this).account;
    const roleAccount = role.env.account;
    if (Token.isUnresolved(account) || Token.isUnresolved(roleAccount) || roleAccount === account) return;
    const name = Token.isUnresolved(role.roleArn) ? role.node.path : role.roleArn;
    throw new ValidationError(
      'roles',
      `role ${name} is in account ${roleAccount}, but the policy deploys to account ${account}; ` +
        'a managed policy can only be attached to roles of its own account',
      `pass roles of account ${account} (\`nodeRoles\`, \`roles\`), or deploy the stack to account ${roleAccount}`,
    );
  }

  /**
   * Another CniMetricsPolicy of the same name bound for the same account would fail the second
   * deployment with "already exists": caught at synthesis instead. Only for stacks with an
   * explicit account: environment-agnostic stacks may well go to different accounts.
   */
  private findNameClash(): string[] {
    const account = Stack.of(this).account;
    if (Token.isUnresolved(this.managedPolicyName) || Token.isUnresolved(account)) return [];
    const clash = this.node.root.node
      .findAll()
      .find(
        (other: IConstruct): other is CniMetricsPolicy =>
          CniMetricsPolicy.isCniMetricsPolicy(other) &&
          other !== this &&
          other.managedPolicyName === this.managedPolicyName &&
          Stack.of(other).account === account,
      );
    if (!clash) return [];
    return [
      formatProblem(
        'managedPolicyName',
        `'${this.managedPolicyName}' is also used by ${clash.node.path}, in the same account; IAM policy names are unique per account`,
        'give each helper its own `managedPolicyName`, e.g. one with the cluster name in it',
      ),
    ];
  }
}

function validateNamespace(namespace: string): void {
  if (Token.isUnresolved(namespace)) return;
  const problem = cloudWatchNamespaceProblem(namespace);
  if (problem) {
    throw new ValidationError(
      'namespace',
      withValue(problem, namespace),
      `choose another CloudWatch namespace, e.g. '${DEFAULT_NAMESPACE}' (the default, as upstream)`,
    );
  }
}

/** IAM's rules for a managed policy name: 1 to 128 characters of [A-Za-z0-9+=,.@_-]. */
function validateManagedPolicyName(name: string): void {
  if (Token.isUnresolved(name)) return;
  const fail = (rule: string): never => {
    throw new ValidationError(
      'managedPolicyName',
      rule + got(name),
      `use letters, digits and +=,.@_- only, e.g. '${DEFAULT_MANAGED_POLICY_NAME}' (the default)`,
    );
  };
  if (name.length < 1 || name.length > 128) fail('must be 1 to 128 characters long');
  if (!/^[\w+=,.@-]+$/.test(name)) fail('has characters IAM does not allow in a policy name');
}

/**
 * Turns a CloudFormation property value that may hold intrinsics (Fn::Join, Ref, Fn::GetAtt, Fn::Sub)
 * into a plain string, as CloudFormation would at deploy time, with placeholder values standing in for
 * what only a deployment knows (the region and account of an environment-agnostic stack, resource ARNs).
 */

export interface TemplatePlaceholders {
  /** Value of `AWS::Region`. */
  readonly region: string;
  /** Value of `AWS::AccountId`. */
  readonly account: string;
  /** Resources of the template, to name the ARN of an alarm by its AlarmName. */
  readonly resources: Readonly<Record<string, { Type?: string; Properties?: Record<string, unknown> }>>;
}

const PSEUDO_PARAMETERS = (p: TemplatePlaceholders): Record<string, string> => ({
  'AWS::Region': p.region,
  'AWS::AccountId': p.account,
  'AWS::Partition': 'aws',
  'AWS::URLSuffix': 'amazonaws.com',
  'AWS::StackName': 'preview-stack',
  'AWS::NoValue': '',
});

/** The string `value` resolves to; `where` names the property in errors. */
export function resolveTemplateString(value: unknown, placeholders: TemplatePlaceholders, where: string): string {
  if (typeof value === 'string') return value;
  if (typeof value === 'number' || typeof value === 'boolean') return String(value);
  if (value === null || typeof value !== 'object' || Array.isArray(value)) {
    throw new Error(`${where}: cannot read ${JSON.stringify(value)} as a string`);
  }
  const [intrinsic, argument] = Object.entries(value)[0] ?? [];
  switch (intrinsic) {
    case 'Fn::Join': {
      const [separator, parts] = argument as [string, unknown[]];
      return parts.map((part, i) => resolveTemplateString(part, placeholders, `${where}[${i}]`)).join(separator);
    }
    case 'Ref':
      return refValue(argument as string, placeholders);
    case 'Fn::GetAtt': {
      const [logicalId, attribute] = Array.isArray(argument) ? argument as string[] : String(argument).split('.');
      return getAttValue(logicalId, attribute, placeholders);
    }
    case 'Fn::Sub': {
      const template = Array.isArray(argument) ? argument[0] as string : argument as string;
      const variables = Array.isArray(argument) ? argument[1] as Record<string, unknown> : {};
      return template.replace(/\$\{([^}!]+)\}/g, (_, name: string) => {
        if (name in variables) return resolveTemplateString(variables[name], placeholders, `${where}.${name}`);
        return name.includes('.') ? getAttValue(name.split('.')[0], name.split('.')[1], placeholders) : refValue(name, placeholders);
      });
    }
    default:
      throw new Error(`${where}: the intrinsic ${intrinsic} is not one the preview resolves (Fn::Join, Ref, Fn::GetAtt, Fn::Sub)`);
  }
}

function refValue(name: string, placeholders: TemplatePlaceholders): string {
  const pseudo = PSEUDO_PARAMETERS(placeholders)[name];
  if (pseudo !== undefined) return pseudo;
  const resource = placeholders.resources[name];
  const properties = resource?.Properties ?? {};
  // An alarm's or dashboard's Ref is its name.
  const named = properties.AlarmName ?? properties.DashboardName;
  return typeof named === 'string' ? named : name;
}

function getAttValue(logicalId: string, attribute: string, placeholders: TemplatePlaceholders): string {
  const resource = placeholders.resources[logicalId];
  if (resource?.Type === 'AWS::CloudWatch::Alarm' && attribute === 'Arn') {
    return `arn:aws:cloudwatch:${placeholders.region}:${placeholders.account}:alarm:${refValue(logicalId, placeholders)}`;
  }
  return `${logicalId}.${attribute}`;
}

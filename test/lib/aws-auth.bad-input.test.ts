/**
 * aws-auth text pasted by mistake or made to hurt: malformed YAML, wrong shapes, roles without groups,
 * non-role ARNs, duplicates, huge texts and alias bombs. Every rejection names the prop (`awsAuth:`)
 * and the fix. Cases test/lib/aws-auth.test.ts already covers are not repeated here.
 */
import { AwsAuthMapRoles } from '../../lib/aws-auth';

const parseAwsAuthMapRoles = (text: string) => AwsAuthMapRoles.parse(text);
const nodeRoleArnsFromAwsAuth = (text: string) => AwsAuthMapRoles.nodeRoleArns(text);

const roleArn = (name: string): string => `arn:aws:iam::111122223333:role/${name}`;

/** A mapRoles entry as block YAML, in the list's indentation. */
function mapRolesEntry(arn: string, groups: readonly string[], username = 'system:node:{{EC2PrivateDNSName}}'): string {
  return `- rolearn: ${arn}\n  username: ${username}\n  groups:\n${groups.map((g) => `    - ${g}\n`).join('')}`;
}

/** The message `read` throws for `text`; fails the test when the text is accepted. */
function rejection(read: (text: string) => unknown, text: string): string {
  try {
    read(text);
  } catch (error) {
    return (error as Error).message;
  }
  throw new Error(`expected the text to be rejected, but it was read: ${text.slice(0, 200)}`);
}

describe('parseAwsAuthMapRoles on malformed YAML', () => {
  test.each<[string, string, RegExp]>([
    ['tab indentation', `-\trolearn: ${roleArn('A')}\n\tgroups: [system:nodes]\n`, /not valid YAML at line 1, column 2: "Tabs are not allowed as indentation"/],
    ['a key twice in one entry', `- rolearn: ${roleArn('A')}\n  rolearn: ${roleArn('B')}\n`, /not valid YAML at line 2, column 3: "Map keys must be unique"/],
    ['an unclosed quote', `- rolearn: "${roleArn('A')}\n  groups: [system:nodes]\n`, /not valid YAML at line \d+, column \d+: "Missing closing "quote"/],
    ['two YAML documents', `- rolearn: ${roleArn('A')}\n---\n- rolearn: ${roleArn('B')}\n`, /not valid YAML at line 2, column 1: "Source contains multiple documents/],
    ['a truncated `-o json` ConfigMap', '{"apiVersion": "v1", "kind": "ConfigMap", "data": {"mapRoles": "- rolearn: arn', /the text is not valid YAML at line 1, column \d+/],
    ['a ConfigMap whose mapRoles string is broken YAML', 'data:\n  mapRoles: "- rolearn: [a\\n"\n', /data\.mapRoles is not valid YAML at line \d+, column \d+ of data\.mapRoles/],
  ])('rejects %s, quoting the YAML error and its place', (_what, text, message) => {
    const error = rejection(parseAwsAuthMapRoles, text);

    expect(error).toMatch(/^cni-metrics-helper: awsAuth: /);
    expect(error).toMatch(message);
    expect(error).toMatch(/pass the output of `kubectl -n kube-system get configmap aws-auth -o yaml`/);
  });

  test('rejects control characters as text that holds no mapRoles', () => {
    expect(rejection(parseAwsAuthMapRoles, '\u0000\u0001\u0002')).toMatch(/^cni-metrics-helper: awsAuth: no mapRoles found: the text is a string \("\\u0000\\u0001\\u0002"\)/);
  });
});

describe('parseAwsAuthMapRoles on wrong shapes', () => {
  test.each<[string, string, RegExp]>([
    ['a number (data section pasted alone)', 'mapRoles: 5\n', /^cni-metrics-helper: awsAuth: mapRoles is a number \(5\), not a list — mapRoles must be a YAML list/],
    ['a number (ConfigMap string)', 'data:\n  mapRoles: "5"\n', /^cni-metrics-helper: awsAuth: mapRoles is a number \(5\), not a list/],
    ['a boolean', 'data:\n  mapRoles: "true"\n', /^cni-metrics-helper: awsAuth: mapRoles is a boolean \(true\), not a list/],
    ['an empty string', 'data:\n  mapRoles: ""\n', /^cni-metrics-helper: awsAuth: mapRoles is empty, not a list/],
    ['a list of lists', `- [${roleArn('A')}]\n`, /^cni-metrics-helper: awsAuth: mapRoles entry 1 is a list, not a mapping — each entry needs rolearn/],
    ['a list with an empty entry', `-\n- rolearn: ${roleArn('A')}\n`, /^cni-metrics-helper: awsAuth: mapRoles entry 1 is empty, not a mapping/],
    ['a ConfigMap whose data is a list', 'kind: ConfigMap\ndata: [mapRoles]\n', /^cni-metrics-helper: awsAuth: no mapRoles found: the text is a ConfigMap with keys \[kind, data\]/],
  ])('rejects mapRoles that is %s', (_what, text, message) => {
    expect(rejection(parseAwsAuthMapRoles, text)).toMatch(message);
  });
});

describe('roles without groups, and groups that are not a list', () => {
  test('an empty groups key reads as no groups, and such a role is no node role', () => {
    const text = `- rolearn: ${roleArn('A')}\n  groups:\n- rolearn: ${roleArn('B')}\n  groups: []\n`;

    expect(parseAwsAuthMapRoles(text)).toEqual([{ roleArn: roleArn('A'), groups: [] }, { roleArn: roleArn('B'), groups: [] }]);
    expect(rejection(nodeRoleArnsFromAwsAuth, text)).toMatch(
      /^cni-metrics-helper: awsAuth: no role in mapRoles is an EC2 node role \(group 'system:nodes' without Fargate's 'system:node-proxier'\): mapRoles has arn:aws:iam::111122223333:role\/A \[\]; arn:aws:iam::111122223333:role\/B \[\] — /,
    );
  });

  test.each<[string, string, string]>([
    ['a mapping', '{system: nodes}', '{"system":"nodes"}'],
    ['a number', '5', '5'],
    ['a list holding a number', '[system:nodes, 5]', '["system:nodes",5]'],
    ['a list holding a mapping', '[{system: nodes}]', '[{"system":"nodes"}]'],
  ])('rejects groups that are %s, quoting them', (_what, groups, quoted) => {
    const message = rejection(parseAwsAuthMapRoles, `- rolearn: ${roleArn('A')}\n  groups: ${groups}\n`);

    expect(message).toContain(`awsAuth: mapRoles entry 1 (rolearn '${roleArn('A')}') has groups ${quoted}, which is not a list of strings`);
  });
});

describe('rolearn values that are not IAM role ARNs', () => {
  test.each<[string, string, string]>([
    ['an instance profile ARN', 'arn:aws:iam::111122223333:instance-profile/Nodes', '"arn:aws:iam::111122223333:instance-profile/Nodes"'],
    ['a wildcard', 'arn:aws:iam::111122223333:role/*', '"arn:aws:iam::111122223333:role/*"'],
    ['an OIDC provider ARN', 'arn:aws:iam::111122223333:oidc-provider/oidc.eks.us-west-2.amazonaws.com/id/EXAMPLE', '"arn:aws:iam::111122223333:oidc-provider/oidc.eks.us-west-2.amazonaws.com/id/EXAMPLE"'],
    ['an upper-case ARN', 'ARN:AWS:IAM::111122223333:ROLE/Nodes', '"ARN:AWS:IAM::111122223333:ROLE/Nodes"'],
    ['a role ARN with blanks around it (quoted)', `" ${roleArn('Nodes')} "`, `" ${roleArn('Nodes')} "`],
    ['a number', '111122223333', '111122223333'],
    ['empty', '', 'null'],
    ['a list', `[${roleArn('Nodes')}]`, `["${roleArn('Nodes')}"]`],
  ])('rejects %s, quoting it and the expected form', (_what, value, quoted) => {
    const message = rejection(parseAwsAuthMapRoles, `- rolearn: ${value}\n  groups: [system:nodes]\n`);

    expect(message).toBe(
      `cni-metrics-helper: awsAuth: mapRoles entry 1 has rolearn ${quoted}, which is not an IAM role ARN — ` +
        'expected arn:<partition>:iam::<12-digit account>:role/[<path>/]<name>',
    );
  });
});

describe('duplicates', () => {
  test('the same node role mapped three times, with other usernames and groups, is one node role', () => {
    const text = [
      mapRolesEntry(roleArn('Nodes'), ['system:bootstrappers', 'system:nodes']),
      mapRolesEntry(roleArn('Admin'), ['system:masters'], 'admin'),
      mapRolesEntry(roleArn('Nodes'), ['system:nodes'], 'node'),
      mapRolesEntry(roleArn('Nodes'), ['system:masters', 'system:nodes'], 'other'),
    ].join('');

    expect(parseAwsAuthMapRoles(text)).toHaveLength(4);
    expect(nodeRoleArnsFromAwsAuth(text)).toEqual([roleArn('Nodes')]);
  });

  test('a role mapped once as a node and once as an admin is a node role, once', () => {
    const text = mapRolesEntry(roleArn('Shared'), ['system:masters'], 'admin') + mapRolesEntry(roleArn('Shared'), ['system:nodes']);

    expect(nodeRoleArnsFromAwsAuth(text)).toEqual([roleArn('Shared')]);
  });
});

describe('anchors and aliases', () => {
  test('a few aliases, as a hand-written aws-auth may use, are expanded', () => {
    const text = `- rolearn: ${roleArn('A')}\n  groups: &nodes [system:bootstrappers, system:nodes]\n- rolearn: ${roleArn('B')}\n  groups: *nodes\n`;

    expect(nodeRoleArnsFromAwsAuth(text)).toEqual([roleArn('A'), roleArn('B')]);
  });

  test('a billion-laughs alias bomb is refused at once, naming the prop', () => {
    // GIVEN nine levels of ten aliases each: 10^9 strings once expanded
    const levels = ['a: &l0 [lol, lol, lol, lol, lol, lol, lol, lol, lol, lol]'];
    for (let i = 1; i <= 9; i++) levels.push(`l${i}: &l${i} [${Array(10).fill(`*l${i - 1}`).join(', ')}]`);
    const bomb = `${levels.join('\n')}\nmapRoles: *l9\n`;

    // THEN it is refused by the alias limit, before any expansion can take time or memory
    expect(rejection(parseAwsAuthMapRoles, bomb)).toMatch(
      /^cni-metrics-helper: awsAuth: the text cannot be expanded: "Excessive alias count indicates a resource exhaustion attack" — aws-auth needs no YAML anchors or aliases/,
    );
  });

  test('the same bomb inside a ConfigMap mapRoles string is refused the same way', () => {
    const inner = ['- &l0 {rolearn: arn}', ...Array.from({ length: 6 }, (_, i) => `- &l${i + 1} [${Array(10).fill(`*l${i}`).join(', ')}]`)].join('\n');
    const text = `kind: ConfigMap\ndata:\n  mapRoles: ${JSON.stringify(inner)}\n`;

    expect(rejection(parseAwsAuthMapRoles, text)).toMatch(/^cni-metrics-helper: awsAuth: data\.mapRoles cannot be expanded: "Excessive alias count/);
  });

  test('an alias without its anchor is refused, naming the prop', () => {
    expect(rejection(parseAwsAuthMapRoles, '- rolearn: *missing\n')).toMatch(
      /^cni-metrics-helper: awsAuth: the text cannot be expanded: "Unresolved alias \(the anchor must be set before the alias\): missing"/,
    );
  });
});

describe('deep nesting', () => {
  // The yaml library recurses once per level; past a few thousand levels a stack overflow can even
  // abort the process on a later parse. These run one after another in one process on purpose.
  test.each<[string, string, RegExp]>([
    ['unclosed brackets', '['.repeat(100_000), /^cni-metrics-helper: awsAuth: the text nests brackets more than 64 deep at line 1, deeper than any aws-auth nests/],
    ['closed brackets', '['.repeat(50_000) + ']'.repeat(50_000), /^cni-metrics-helper: awsAuth: the text nests brackets more than 64 deep at line 1/],
    ['nested mappings in braces', '{a: '.repeat(20_000) + '1' + '}'.repeat(20_000), /^cni-metrics-helper: awsAuth: the text nests brackets more than 64 deep at line 1/],
    ['block lists on one line', `${'- '.repeat(5_000)}x`, /^cni-metrics-helper: awsAuth: the text is indented more than 128 columns at line 1/],
    ['block lists by indentation', Array.from({ length: 5_000 }, (_, i) => `${' '.repeat(i)}-`).join('\n'), /^cni-metrics-helper: awsAuth: the text is indented more than 128 columns at line 129/],
    ['nested mappings by indentation', Array.from({ length: 3_000 }, (_, i) => `${'  '.repeat(i)}a:`).join('\n'), /^cni-metrics-helper: awsAuth: the text is indented more than 128 columns at line 66/],
  ])('refuses %s before the YAML library recurses', (_what, text, message) => {
    expect(rejection(parseAwsAuthMapRoles, text)).toMatch(message);
  });

  test('names the line of the input, also inside a ConfigMap string or a describe output', () => {
    const inConfigMap = `kind: ConfigMap\ndata:\n  mapRoles: ${JSON.stringify(`- rolearn: x\n  groups: ${'['.repeat(65)}`)}\n`;
    const inDescribe = `Name: aws-auth\n\nData\n====\nmapRoles:\n----\n- rolearn: ${'{'.repeat(65)}\n\nEvents:  <none>\n`;

    expect(rejection(parseAwsAuthMapRoles, inConfigMap)).toMatch(/^cni-metrics-helper: awsAuth: the text nests brackets more than 64 deep at line 3,/);
    expect(rejection(parseAwsAuthMapRoles, inDescribe)).toMatch(/^cni-metrics-helper: awsAuth: the mapRoles block of the describe output nests brackets more than 64 deep at line 7 of the input/);
  });

  test('brackets in values and deep-looking but shallow texts are read', () => {
    const text = `- rolearn: ${roleArn('A')}\n  username: "[[[[[[[[[[x]]]]]]]]]]"\n  groups: [system:nodes]\n`;

    expect(parseAwsAuthMapRoles(text)[0].username).toBe('[[[[[[[[[[x]]]]]]]]]]');
  });
});

describe('huge input', () => {
  test('two thousand mappings are read, and their node roles given once each', () => {
    const text = Array.from({ length: 2_000 }, (_, i) => mapRolesEntry(roleArn(`Nodes${i % 7}`), ['system:bootstrappers', 'system:nodes'])).join('');

    expect(nodeRoleArnsFromAwsAuth(text)).toEqual(Array.from({ length: 7 }, (_, i) => roleArn(`Nodes${i}`)));
  });

  test.each<[string, string]>([
    ['a megabyte-long rolearn', `- rolearn: ${'x'.repeat(1_000_000)}\n`],
    ['a megabyte-long role ARN with a bad groups value', `- rolearn: ${roleArn('n'.repeat(1_000_000))}\n  groups: ${'g'.repeat(1_000_000)}\n`],
    ['a megabyte-long username that is not a string', `- rolearn: ${roleArn('A')}\n  username: [${'u'.repeat(1_000_000)}]\n`],
    ['an entry with thousands of keys and no rolearn', `- {${Array.from({ length: 2_000 }, (_, i) => `k${i}: v`).join(', ')}}\n`],
    ['a ConfigMap with thousands of data keys', `kind: ConfigMap\ndata:\n${Array.from({ length: 2_000 }, (_, i) => `  k${i}: v\n`).join('')}`],
    ['a megabyte-long plain string', 'w'.repeat(1_000_000)],
  ])('%s gives a short message', (_what, text) => {
    const message = rejection(parseAwsAuthMapRoles, text);

    expect(message).toMatch(/^cni-metrics-helper: awsAuth: /);
    expect(message.length).toBeLessThan(2_000);
  });

  test('thousands of mappings without a node role are listed in part, with how many more', () => {
    const text = Array.from({ length: 3_000 }, (_, i) => mapRolesEntry(roleArn(`Admin${i}`), ['system:masters'])).join('');
    const message = rejection(nodeRoleArnsFromAwsAuth, text);

    expect(message).toMatch(/mapRoles has arn:aws:iam::111122223333:role\/Admin0 \[system:masters\]; .*role\/Admin9 \[system:masters\]; and 2990 more — pass/);
    expect(message.length).toBeLessThan(2_000);
  });
});

describe('aws-auth with mapUsers only', () => {
  test('a describe output without mapRoles says which data keys it has, not that it is bad YAML', () => {
    const describe = [
      'Name:         aws-auth', 'Namespace:    kube-system', 'Labels:       <none>', 'Annotations:  <none>', '',
      'Data', '====', 'mapUsers:', '----', '- userarn: arn:aws:iam::111122223333:user/admin', '  username: admin',
      '  groups:', '    - system:masters', '', 'mapAccounts:', '----', '[]', '', 'BinaryData', '====', '', 'Events:  <none>', '',
    ].join('\n');

    expect(rejection(parseAwsAuthMapRoles, describe)).toBe(
      'cni-metrics-helper: awsAuth: no mapRoles found: the describe output has data keys [mapUsers, mapAccounts] — node roles are mapped in ' +
        'mapRoles; pass the aws-auth of the cluster the nodes join, or, when its nodes join through EKS access entries ' +
        'instead, pass the node roles as `nodeRoles`',
    );
  });
});

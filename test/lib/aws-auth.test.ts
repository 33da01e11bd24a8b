import * as fs from 'fs';
import * as path from 'path';
import { AwsAuthMapRoles } from '../../lib/aws-auth';

const parseAwsAuthMapRoles = (text: string) => AwsAuthMapRoles.parse(text);
const nodeRoleArnsFromAwsAuth = (text: string) => AwsAuthMapRoles.nodeRoleArns(text);

const fixture = (name: string): string => fs.readFileSync(path.join(__dirname, '..', 'fixtures', 'aws-auth', name), 'utf8');

const GUIDE_NODE_ROLE = 'arn:aws:iam::111122223333:role/eksctl-my-cluster-nodegroup-my-node-NodeInstanceRole-1XLS7754U3ZPA';

describe('parseAwsAuthMapRoles', () => {
  test('reads the describe output of the AWS guide', () => {
    expect(parseAwsAuthMapRoles(fixture('guide-describe.txt'))).toEqual([
      {
        roleArn: GUIDE_NODE_ROLE,
        username: 'system:node:{{EC2PrivateDNSName}}',
        groups: ['system:bootstrappers', 'system:nodes'],
      },
    ]);
  });

  test('reads only the mapRoles block of a describe output with other keys, BinaryData and a last-applied annotation', () => {
    // GIVEN the annotation holds an old mapRoles in JSON, and mapUsers follows mapRoles
    const mappings = parseAwsAuthMapRoles(fixture('describe-many-keys.txt'));

    // THEN only the current mapRoles entries are read
    expect(mappings.map((m) => m.roleArn)).toEqual([
      'arn:aws-cn:iam::111122223333:role/platform/karpenter/KarpenterNodeRole-prod',
      'arn:aws-cn:iam::111122223333:role/Admin',
      'arn:aws-cn:iam::111122223333:role/ng-general-NodeInstanceRole-ABC123',
    ]);
    expect(mappings[1]).toEqual({ roleArn: 'arn:aws-cn:iam::111122223333:role/Admin', username: 'admin', groups: ['system:masters'] });
  });

  test('reads data.mapRoles of `kubectl get configmap -o yaml`, not the last-applied annotation', () => {
    const mappings = parseAwsAuthMapRoles(fixture('get-configmap.yaml'));

    expect(mappings).toHaveLength(3);
    expect(mappings[2]).toEqual({ roleArn: 'arn:aws:iam::111122223333:role/ci-deployer', username: 'ci', groups: ['system:masters'] });
    expect(mappings.map((m) => m.roleArn)).not.toContain('arn:aws:iam::999999999999:role/Old');
  });

  test('reads a mapRoles written as a JSON string, as aws-cdk-lib writes it', () => {
    const mappings = parseAwsAuthMapRoles(fixture('get-configmap-cdk-json.yaml'));

    expect(mappings[0]).toEqual({
      roleArn: 'arn:aws-us-gov:iam::111122223333:role/Stack-ClusterNodegroupDefaultCapacityNodeGroupRole-5Q2EXAMPLE',
      username: 'system:node:{{EC2PrivateDNSName}}',
      groups: ['system:bootstrappers', 'system:nodes'],
    });
  });

  test('reads `kubectl get configmap -o json` as well, JSON being YAML', () => {
    const configMap = {
      apiVersion: 'v1',
      kind: 'ConfigMap',
      data: { mapRoles: '- rolearn: arn:aws:iam::111122223333:role/Nodes\n  groups: [system:nodes]\n' },
    };

    expect(parseAwsAuthMapRoles(JSON.stringify(configMap, null, 2))).toEqual([
      { roleArn: 'arn:aws:iam::111122223333:role/Nodes', groups: ['system:nodes'] },
    ]);
  });

  test('reads the bare mapRoles list, keeping role paths and entries without groups', () => {
    const mappings = parseAwsAuthMapRoles(fixture('map-roles.yaml'));

    expect(mappings[0].roleArn).toBe('arn:aws:iam::111122223333:role/platform/karpenter/KarpenterNodeRole-prod');
    expect(mappings[3]).toEqual({ roleArn: 'arn:aws:iam::111122223333:role/read-only', username: 'viewer', groups: [] });
  });

  test('accepts Windows line endings', () => {
    const crlf = fixture('guide-describe.txt').replace(/\n/g, '\r\n');

    expect(parseAwsAuthMapRoles(crlf).map((m) => m.roleArn)).toEqual([GUIDE_NODE_ROLE]);
  });

  describe('errors', () => {
    test('quotes the YAML library and the line when the text is not YAML', () => {
      expect(() => parseAwsAuthMapRoles('- rolearn: arn:aws:iam::111122223333:role/A\n  groups: [system:nodes\n')).toThrow(
        /^cni-metrics-helper: awsAuth: the text is not valid YAML at line 3, column 1: "Flow sequence .*" — pass the output of `kubectl -n kube-system get configmap aws-auth -o yaml`.*indentation matters/,
      );
    });

    test('gives the line in the input when the mapRoles block of a describe output is not YAML', () => {
      // GIVEN "rolearn:" lost one space of indentation, on line 13 of the input
      const broken = fixture('guide-describe.txt').replace('  rolearn:', ' rolearn:');

      expect(() => parseAwsAuthMapRoles(broken)).toThrow(
        /^cni-metrics-helper: awsAuth: the mapRoles block of the describe output is not valid YAML at line 13, column 1 of the input: ".+"/,
      );
    });

    test('gives the line in data.mapRoles when the ConfigMap value is not YAML', () => {
      const text = 'kind: ConfigMap\ndata:\n  mapRoles: |\n    - rolearn: arn:aws:iam::111122223333:role/A\n     groups: []\n';

      expect(() => parseAwsAuthMapRoles(text)).toThrow(/^cni-metrics-helper: awsAuth: data.mapRoles is not valid YAML at line 2, column 1 of data.mapRoles: "/);
    });

    test('names the accepted forms when there is no mapRoles', () => {
      const noMapRoles = 'apiVersion: v1\nkind: ConfigMap\ndata:\n  mapUsers: "[]"\n';

      expect(() => parseAwsAuthMapRoles(noMapRoles)).toThrow(
        /^cni-metrics-helper: awsAuth: no mapRoles found: the text is a ConfigMap with data keys \[mapUsers\] — pass the output of `kubectl -n kube-system get configmap aws-auth -o yaml`, the output of `kubectl describe configmap -n kube-system aws-auth`, or the mapRoles YAML list itself$/,
      );
      expect(() => parseAwsAuthMapRoles('')).toThrow(/^cni-metrics-helper: awsAuth: no mapRoles found: the text is empty — pass/);
      expect(() => parseAwsAuthMapRoles('just some words')).toThrow(/^cni-metrics-helper: awsAuth: no mapRoles found: the text is a string \("just some words"\)/);
    });

    test('says mapRoles is not a list', () => {
      expect(() => parseAwsAuthMapRoles('data:\n  mapRoles: "rolearn: arn:aws:iam::111122223333:role/A"\n')).toThrow(
        /^cni-metrics-helper: awsAuth: mapRoles is a mapping, not a list — mapRoles must be a YAML list/,
      );
    });

    test('names the entry without rolearn and points user mappings to mapUsers', () => {
      const text = '- rolearn: arn:aws:iam::111122223333:role/A\n- userarn: arn:aws:iam::111122223333:user/bob\n  groups: [system:masters]\n';

      expect(() => parseAwsAuthMapRoles(text)).toThrow(
        /^cni-metrics-helper: awsAuth: mapRoles entry 2 has no rolearn \(its keys: userarn, groups\) — add "rolearn: .*"; user mappings \(userarn\) belong in mapUsers$/,
      );
    });

    test('names an entry that is not a mapping', () => {
      expect(() => parseAwsAuthMapRoles('- arn:aws:iam::111122223333:role/A\n')).toThrow(/^cni-metrics-helper: awsAuth: mapRoles entry 1 is a string .*not a mapping/);
    });

    test.each([
      ['a user ARN', 'arn:aws:iam::111122223333:user/admin', /users are mapped in mapUsers/],
      ['an assumed-role ARN', 'arn:aws:sts::111122223333:assumed-role/Nodes/i-0abc', /assumed-role ARN must be replaced by its role ARN/],
      ['garbage', 'my-node-role', /expected arn:<partition>:iam::<12-digit account>:role\/\[<path>\/\]<name>$/],
      ['a short account', 'arn:aws:iam::1111:role/Nodes', /not an IAM role ARN/],
    ])('quotes a rolearn that is %s', (_what, arn, hint) => {
      const run = () => parseAwsAuthMapRoles(`- rolearn: ${arn}\n  groups: [system:nodes]\n`);

      expect(run).toThrow(new RegExp(`^cni-metrics-helper: awsAuth: mapRoles entry 1 has rolearn "${arn.replace(/[/.]/g, '\\$&')}", which is not an IAM role ARN`));
      expect(run).toThrow(hint);
    });

    test('quotes groups that are not a list of strings', () => {
      expect(() => parseAwsAuthMapRoles('- rolearn: arn:aws:iam::111122223333:role/A\n  groups: system:nodes\n')).toThrow(
        /^cni-metrics-helper: awsAuth: mapRoles entry 1 \(rolearn 'arn:aws:iam::111122223333:role\/A'\) has groups "system:nodes", which is not a list of strings — write groups as a YAML list/,
      );
      expect(() => parseAwsAuthMapRoles('- rolearn: arn:aws:iam::111122223333:role/A\n  groups: [[system:nodes]]\n')).toThrow(
        /has groups \[\["system:nodes"\]\], which is not a list of strings/,
      );
    });

    test('quotes a username that is not a string', () => {
      expect(() => parseAwsAuthMapRoles('- rolearn: arn:aws:iam::111122223333:role/A\n  username: [a]\n')).toThrow(
        /^cni-metrics-helper: awsAuth: mapRoles entry 1 .* has username \["a"\], which is not a string/,
      );
    });
  });
});

describe('nodeRoleArnsFromAwsAuth', () => {
  test('gives the node role of the AWS guide sample', () => {
    expect(nodeRoleArnsFromAwsAuth(fixture('guide-describe.txt'))).toEqual([GUIDE_NODE_ROLE]);
  });

  test('keeps only roles in group system:nodes, once each, in order', () => {
    expect(nodeRoleArnsFromAwsAuth(fixture('map-roles.yaml'))).toEqual([
      'arn:aws:iam::111122223333:role/platform/karpenter/KarpenterNodeRole-prod',
      'arn:aws:iam::111122223333:role/eks-node-group-general',
    ]);
    expect(nodeRoleArnsFromAwsAuth(fixture('get-configmap.yaml'))).toEqual([
      'arn:aws:iam::111122223333:role/eksctl-my-cluster-nodegroup-ng-1-NodeInstanceRole-1WKNHHYJD99CR',
      'arn:aws:iam::111122223333:role/eksctl-my-cluster-nodegroup-ng-2-NodeInstanceRole-WBJOTQC4HJOD',
    ]);
  });

  test('works in the aws-cn and aws-us-gov partitions', () => {
    expect(nodeRoleArnsFromAwsAuth(fixture('describe-many-keys.txt'))).toEqual([
      'arn:aws-cn:iam::111122223333:role/platform/karpenter/KarpenterNodeRole-prod',
      'arn:aws-cn:iam::111122223333:role/ng-general-NodeInstanceRole-ABC123',
    ]);
    expect(nodeRoleArnsFromAwsAuth(fixture('get-configmap-cdk-json.yaml'))).toEqual([
      'arn:aws-us-gov:iam::111122223333:role/Stack-ClusterNodegroupDefaultCapacityNodeGroupRole-5Q2EXAMPLE',
    ]);
  });

  test('fails when no role is in group system:nodes, listing what it saw', () => {
    const text = '- rolearn: arn:aws:iam::111122223333:role/Admin\n  groups: [system:masters]\n';

    expect(() => nodeRoleArnsFromAwsAuth(text)).toThrow(
      /^cni-metrics-helper: awsAuth: no role in mapRoles is an EC2 node role \(group 'system:nodes' without Fargate's 'system:node-proxier'\): mapRoles has arn:aws:iam::111122223333:role\/Admin \[system:masters\] — .*`nodeRoles`.*/,
    );
    expect(() => nodeRoleArnsFromAwsAuth('[]')).toThrow(/^cni-metrics-helper: awsAuth: no role in mapRoles is an EC2 node role \(group 'system:nodes' without Fargate's 'system:node-proxier'\): mapRoles has no entries/);
  });

  test('leaves out Fargate pod execution roles (system:node-proxier): Fargate pods run no aws-node', () => {
    // GIVEN aws-auth as aws-eks writes it for a node group and a Fargate profile
    const text = [
      '- rolearn: arn:aws:iam::111122223333:role/NodeGroupRole',
      '  username: system:node:{{EC2PrivateDNSName}}',
      '  groups: [system:bootstrappers, system:nodes]',
      '- rolearn: arn:aws:iam::111122223333:role/FargatePodExecutionRole',
      '  username: system:node:{{SessionName}}',
      '  groups: [system:bootstrappers, system:nodes, system:node-proxier]',
      '',
    ].join('\n');
    // THEN only the node group's role is a node role; the Fargate role is still parsed
    expect(nodeRoleArnsFromAwsAuth(text)).toEqual(['arn:aws:iam::111122223333:role/NodeGroupRole']);
    expect(parseAwsAuthMapRoles(text).map((m) => m.roleArn)).toHaveLength(2);
    // AND a Fargate-only aws-auth names no node role
    const fargateOnly = text.split('\n').slice(3).join('\n');
    expect(() => nodeRoleArnsFromAwsAuth(fargateOnly)).toThrow(/no role in mapRoles is an EC2 node role .*FargatePodExecutionRole \[system:bootstrappers, system:nodes, system:node-proxier\]/);
  });
});

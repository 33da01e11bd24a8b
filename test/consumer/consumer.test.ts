/**
 * The package as a user gets it: `npm pack`, installed from the tarball into a fresh CDK app pinned
 * to the lowest aws-cdk-lib and constructs this package declares, type-checked with TypeScript 5.9
 * (what most apps use), and synthesized: a stack for an imported cluster and one with an in-app
 * cluster. Our resources are compared with snapshots. The README's TypeScript blocks are
 * type-checked in the same app, against the installed package.
 *
 * Needs the npm registry (or npm's cache) for the app's dependencies: fine in CI.
 */
import { execFileSync } from 'child_process';
import * as fs from 'fs';
import * as path from 'path';
import { readmeBlockModule, readmeTypeScriptBlocks } from './readme-blocks';
import { tempDirMaker } from '../lib/temp-app';

const ROOT = path.resolve(__dirname, '..', '..');
const FIXTURE = path.join(__dirname, 'fixture');
const PACKAGE = JSON.parse(fs.readFileSync(path.join(ROOT, 'package.json'), 'utf8'));
/** The TypeScript most CDK apps compile with today (the package itself builds with 6). */
const CONSUMER_TYPESCRIPT = '~5.9.0';
/** The packages the app brings and the package shares (peerDependencies). */
const PEERS = Object.keys(PACKAGE.peerDependencies ?? {});

const tempDir = tempDirMaker('cni-consumer-');

/** The lowest version a declared range allows: `^2.200.0` → `2.200.0`. */
function lowestOf(name: string): string {
  const range: string | undefined = PACKAGE.peerDependencies?.[name] ?? PACKAGE.dependencies?.[name];
  const lowest = range && /\d+\.\d+\.\d+/.exec(range)?.[0];
  if (!lowest) throw new Error(`package.json declares no version range for ${name}`);
  return lowest;
}

/** The version this package tests with, for tools the consumer app needs too. */
function lowestOfDev(name: string): string {
  const lowest = /\d+\.\d+\.\d+/.exec(PACKAGE.devDependencies?.[name] ?? '')?.[0];
  if (!lowest) throw new Error(`package.json has no devDependency ${name}`);
  return lowest;
}

function run(command: string, args: string[], cwd: string, env: NodeJS.ProcessEnv = {}): string {
  try {
    return execFileSync(command, args, {
      cwd,
      encoding: 'utf8',
      env: { ...process.env, CDK_DISABLE_CLI_TELEMETRY: 'true', npm_config_audit: 'false', npm_config_fund: 'false', npm_config_update_notifier: 'false', ...env },
      stdio: ['ignore', 'pipe', 'pipe'],
      maxBuffer: 64 * 1024 * 1024,
    });
  } catch (error) {
    const { stdout, stderr } = error as { stdout?: string; stderr?: string };
    throw new Error(`${command} ${args.join(' ')} failed in ${cwd}:\n${stdout ?? ''}\n${stderr ?? ''}`);
  }
}

/** Seconds each step took, printed once for the record (the report quotes them). */
const timings: string[] = [];
function timed<T>(step: string, work: () => T): T {
  const start = Date.now();
  const result = work();
  timings.push(`${step}: ${((Date.now() - start) / 1000).toFixed(1)} s`);
  return result;
}
afterAll(() => {
  if (timings.length > 0) process.stdout.write(`consumer test timings: ${timings.join(', ')}\n`);
});

/**
 * Our resources in a template, with asset hashes masked: what the snapshot holds. The dashboard's
 * body follows the metric catalog and has snapshots of its own (test/lib, test/bin): here it is a
 * placeholder, so a catalog edit does not break this test.
 */
function ourResources(template: { Resources: Record<string, any> }): Record<string, unknown> {
  const ours = Object.entries(template.Resources).filter(([logicalId, resource]) =>
    logicalId.startsWith('CniMetrics') ||
    (resource.Type === 'Custom::AWSCDK-EKS-KubernetesResource' && JSON.stringify(resource.Properties.Manifest).includes('cni-metrics-helper')));
  const masked = JSON.parse(JSON.stringify(Object.fromEntries(ours)).replace(/[0-9a-f]{64}/g, '<asset hash>'));
  for (const resource of Object.values<any>(masked)) {
    if (resource.Type === 'AWS::CloudWatch::Dashboard') resource.Properties.DashboardBody = '<see the dashboard snapshots in test/lib and test/bin>';
  }
  return masked;
}

describe('the packed package in a CDK app of its own', () => {
  let app: string;
  let outdir: string;

  beforeAll(() => {
    // GIVEN the tarball `npm pack` makes, and an app that depends on it and on the lowest peers
    const packDir = tempDir();
    // `npm pack` runs `prepare` (the build) first: its output comes before the JSON report.
    const report = timed('npm pack (with prepare)', () => run('npm', ['pack', '--json', '--pack-destination', packDir], ROOT));
    const packed = JSON.parse(report.slice(report.startsWith('[') ? 0 : report.lastIndexOf('\n[') + 1));
    const tarball = path.join(packDir, packed[packed.length - 1].filename);
    app = tempDir();
    fs.writeFileSync(path.join(app, 'package.json'), JSON.stringify({ name: 'consumer-app', version: '1.0.0', private: true }, null, 2));
    timed('npm install', () => run('npm', [
      'install', '--no-save', '--prefer-offline', '--loglevel=error',
      tarball,
      // Every peer at the lowest version the package declares.
      ...PEERS.map((name) => `${name}@${lowestOf(name)}`),
      `typescript@${CONSUMER_TYPESCRIPT}`,
      '@types/node@20',
      // The README's in-app cluster recipe uses it, as users do.
      `@aws-cdk/lambda-layer-kubectl-v33@${lowestOfDev('@aws-cdk/lambda-layer-kubectl-v33')}`,
    ], app));

    for (const file of fs.readdirSync(FIXTURE)) fs.copyFileSync(path.join(FIXTURE, file), path.join(app, file));
    const readme = fs.readFileSync(path.join(ROOT, 'README.md'), 'utf8');
    readmeTypeScriptBlocks(readme).forEach((block, index) => {
      fs.writeFileSync(path.join(app, `readme-block-${index}.ts`), readmeBlockModule(block, index));
    });
    fs.writeFileSync(path.join(app, 'tsconfig.json'), JSON.stringify({
      compilerOptions: {
        target: 'ES2022', module: 'commonjs', strict: true, esModuleInterop: true, skipLibCheck: true,
        types: ['node'], outDir: 'build', rootDir: '.',
      },
      include: ['*.ts'],
    }, null, 2));
    outdir = path.join(app, 'cdk.out');
  }, 600_000);

  test('installs the versions it pins: the lowest declared peers (aws-cdk-lib, constructs, ...), TypeScript 5.9', () => {
    const version = (name: string) => JSON.parse(fs.readFileSync(path.join(app, 'node_modules', name, 'package.json'), 'utf8')).version;
    expect(PEERS).toEqual(expect.arrayContaining(['aws-cdk-lib', 'constructs']));
    for (const peer of PEERS) expect(`${peer}@${version(peer)}`).toBe(`${peer}@${lowestOf(peer)}`);
    expect(version('typescript')).toMatch(/^5\.9\./);
    // One copy of each: the package brings none of its own.
    expect(fs.existsSync(path.join(app, 'node_modules', 'cdk-cni-metrics-helper', 'node_modules', 'aws-cdk-lib'))).toBe(false);
    // The jsii assembly travels with the package, and so does yaml (bundled: it is no jsii library).
    const installed = path.join(app, 'node_modules', 'cdk-cni-metrics-helper');
    expect(fs.existsSync(path.join(installed, '.jsii'))).toBe(true);
    expect(fs.existsSync(path.join(installed, 'node_modules', 'yaml', 'package.json'))).toBe(true);
  });

  test('type-checks and compiles with TypeScript 5.9, the README blocks included', () => {
    // WHEN the app is compiled: any type error fails the command, naming the file and line
    timed('tsc 5.9', () => run(path.join(app, 'node_modules', '.bin', 'tsc'), ['-p', '.'], app));
    // THEN every README block was part of it
    const blocks = readmeTypeScriptBlocks(fs.readFileSync(path.join(ROOT, 'README.md'), 'utf8'));
    expect(blocks.length).toBeGreaterThanOrEqual(2);
    for (let index = 0; index < blocks.length; index++) expect(fs.existsSync(path.join(app, 'build', `readme-block-${index}.js`))).toBe(true);
  }, 300_000);

  describe('synthesized', () => {
    beforeAll(() => {
      // Compiled by the test above; compiled here when that test was filtered out.
      if (!fs.existsSync(path.join(app, 'build', 'main.js'))) run(path.join(app, 'node_modules', '.bin', 'tsc'), ['-p', '.'], app);
      timed('synth', () => run('node', [path.join(app, 'build', 'main.js')], app, { CDK_OUTDIR: outdir }));
    }, 300_000);

    const template = (stack: string) => JSON.parse(fs.readFileSync(path.join(outdir, `${stack}.template.json`), 'utf8'));

    test('the imported-cluster stack: the chart through its kubectl role, the policy on the EC2 node role only', () => {
      const resources = ourResources(template('ImportedCluster'));
      const policy = Object.values(resources).find((r: any) => r.Type === 'AWS::IAM::ManagedPolicy') as any;
      expect(policy.Properties.Roles).toEqual(['prod-nodes']);
      const manifest = Object.values(resources).find((r: any) => r.Type === 'Custom::AWSCDK-EKS-KubernetesResource') as any;
      expect(manifest.Properties).toMatchObject({ ClusterName: 'prod', RoleArn: 'arn:aws:iam::111122223333:role/prod-kubectl' });
      expect(resources).toMatchSnapshot();
    });

    test('the in-app stack: the policy on the node group role and not the Fargate profile role, the chart on the cluster', () => {
      const whole = template('InAppCluster');
      const resources = ourResources(whole);
      const policy = Object.values(resources).find((r: any) => r.Type === 'AWS::IAM::ManagedPolicy') as any;
      // Roles by the service that assumes them: EC2 for the node group, eks-fargate-pods for the profile.
      const rolesTrusting = (service: string) => Object.entries<any>(whole.Resources)
        .filter(([, r]) => r.Type === 'AWS::IAM::Role' && JSON.stringify(r.Properties.AssumeRolePolicyDocument).includes(service))
        .map(([logicalId]) => ({ Ref: logicalId }));
      expect(rolesTrusting('eks-fargate-pods.amazonaws.com')).toHaveLength(1);
      expect(policy.Properties.Roles).toEqual(rolesTrusting('ec2.amazonaws.com'));
      expect(policy.Properties.Roles).toHaveLength(1);
      expect(Object.values(resources).map((r: any) => r.Type)).toEqual(expect.arrayContaining(['AWS::CloudWatch::Dashboard', 'Custom::AWSCDK-EKS-KubernetesResource']));
      expect(resources).toMatchSnapshot();
    });
  });

  describe('with a second copy of aws-cdk-lib under the package (an app on another version)', () => {
    let secondOutdir: string;
    let copies: { twoCopies: boolean } | undefined;

    beforeAll(() => {
      // GIVEN the package resolving its own aws-cdk-lib (today's devDependency version, from npm's
      // cache), while the app keeps the floor: the two-copy layout the issue saw
      const second = tempDir();
      fs.writeFileSync(path.join(second, 'package.json'), JSON.stringify({ name: 'second-copy', version: '1.0.0', private: true }));
      timed('npm install (second copy)', () => run('npm', [
        'install', '--no-save', '--prefer-offline', '--loglevel=error', `aws-cdk-lib@${lowestOfDev('aws-cdk-lib')}`, `constructs@${lowestOfDev('constructs')}`,
      ], second));
      // Compiled (by the test above, or here) against one copy; two copies' types would not mix.
      if (!fs.existsSync(path.join(app, 'build', 'second-copy-main.js'))) run(path.join(app, 'node_modules', '.bin', 'tsc'), ['-p', '.'], app);
      const nested = path.join(app, 'node_modules', 'cdk-cni-metrics-helper', 'node_modules');
      fs.symlinkSync(path.join(second, 'node_modules', 'aws-cdk-lib'), path.join(nested, 'aws-cdk-lib'), 'dir');
      secondOutdir = path.join(app, 'cdk.out.second-copy');
      try {
        // --preserve-symlinks: the linked copy resolves constructs from the app, as a nested install would.
        const output = timed('synth (second copy)', () => run('node', ['--preserve-symlinks', path.join(app, 'build', 'second-copy-main.js')], app, { CDK_OUTDIR: secondOutdir }));
        copies = JSON.parse(output.trim().split('\n').pop()!);
      } finally {
        // The other tests use the package with the app's own copy.
        fs.unlinkSync(path.join(nested, 'aws-cdk-lib'));
      }
    }, 300_000);

    test('the node group role gets the policy and the Fargate role does not: no instanceof across copies', () => {
      // The app and the package did load two copies (two Stack classes).
      expect(copies).toEqual({ twoCopies: true });
      const whole = JSON.parse(fs.readFileSync(path.join(secondOutdir, 'SecondCopy.template.json'), 'utf8'));
      const rolesTrusting = (service: string) => Object.entries<any>(whole.Resources)
        .filter(([, r]) => r.Type === 'AWS::IAM::Role' && JSON.stringify(r.Properties.AssumeRolePolicyDocument).includes(service))
        .map(([logicalId]) => ({ Ref: logicalId }));
      const policy = Object.values<any>(whole.Resources).find((r) => r.Type === 'AWS::IAM::ManagedPolicy');
      expect(rolesTrusting('eks-fargate-pods.amazonaws.com')).toHaveLength(1);
      expect(policy.Properties.Roles).toEqual(rolesTrusting('ec2.amazonaws.com'));
      expect(policy.Properties.Roles).toHaveLength(1);
      expect(JSON.stringify(whole.Resources)).toContain('cni-metrics-helper');
    });
  });
});

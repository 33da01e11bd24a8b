/**
 * The jsii assembly (.jsii, written by `npm run build:jsii`, which `npm test` runs first) generates
 * a Python binding: `jsii-pacmak --code-only` writes its sources without building a wheel. The
 * binding names the construct, its props and the enum-like choices, so Python apps can use them.
 */
import { execFileSync } from 'child_process';
import * as fs from 'fs';
import * as path from 'path';
import { tempDirMaker } from '../lib/temp-app';

const ROOT = path.resolve(__dirname, '..', '..');
const tempDir = tempDirMaker('cni-pacmak-');

describe('the jsii assembly', () => {
  test('lists the public API and nothing of lib/private or runtime', () => {
    const assembly = JSON.parse(fs.readFileSync(path.join(ROOT, '.jsii'), 'utf8'));
    const types = Object.keys(assembly.types).map((fqn) => fqn.replace(/^cdk-cni-metrics-helper\./, ''));
    expect(types).toEqual(expect.arrayContaining([
      'CniMetricsHelper', 'CniMetricsHelperProps', 'CollectorOptions', 'CollectorChartOptions', 'CollectorChartProps',
      'ScrapeMode', 'CollectorLogLevel', 'CollectorIdentity', 'CollectorImage', 'AwsAuthMapRoles', 'CollectorManifest',
    ]));
    expect(types.filter((name) => /ValidationError|collectNodeRoles|stageImageContext|Aggregator|Scraper/.test(name))).toEqual([]);
    expect(Object.keys(assembly.targets)).toEqual(expect.arrayContaining(['python', 'java', 'dotnet', 'go']));
  });

  test('generates the Python binding with jsii-pacmak --code-only', () => {
    const outdir = tempDir();
    execFileSync(path.join(ROOT, 'node_modules', '.bin', 'jsii-pacmak'), ['--code-only', '--targets', 'python', '--outdir', outdir], {
      cwd: ROOT,
      stdio: ['ignore', 'pipe', 'pipe'],
      encoding: 'utf8',
    });
    const init = fs.readFileSync(path.join(outdir, 'python', 'src', 'cdk_cni_metrics_helper', '__init__.py'), 'utf8');
    expect(init).toMatch(/^class CniMetricsHelper\(/m);
    expect(init).toMatch(/^class CniMetricsHelperProps:/m);
    expect(init).toMatch(/^class ScrapeMode\(/m);
    // Props are keyword arguments in snake case, as Python CDK users write them.
    expect(init).toMatch(/cloud_watch_namespace: typing\.Optional\[builtins\.str\]/);
  }, 120_000);
});

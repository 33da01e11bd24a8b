import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { App } from 'aws-cdk-lib';
import { Template } from 'aws-cdk-lib/assertions';
import { ExampleStack } from '../../bin/example-stack';
import { CATALOG } from '../../common/catalog';

const ENV = { account: '111122223333', region: 'us-west-2' };

/** Synthesizes the example app into a fresh directory; returns the template and the manifest text. */
function synthExample(): { template: any; manifest: string; stack: ExampleStack } {
  const outdir = fs.mkdtempSync(path.join(os.tmpdir(), 'example-synth-'));
  try {
    const app = new App({ outdir, analyticsReporting: false });
    const stack = new ExampleStack(app, 'CniMetricsHelperExample', { env: ENV });
    const assembly = app.synth();
    const template = assembly.getStackByName('CniMetricsHelperExample').template;
    const manifest = fs.readFileSync(path.join(assembly.directory, stack.helper.manifestFileName!), 'utf8');
    return { template, manifest, stack };
  } finally {
    fs.rmSync(outdir, { recursive: true, force: true });
  }
}

/** The bundle's bytes and hash change with every runtime edit: the snapshot keeps their shape only. */
function maskBundle(manifest: string): string {
  return manifest
    .replace(/^(\s+\S+\.gz\.b64|\s+part-\d+): \S+$/gm, '$1: <bundle bytes>')
    .replace(/[0-9a-f]{64}/g, '<sha256>');
}

describe('the example app', () => {
  test('synthesizes the same template and manifest twice, in different directories', () => {
    const first = synthExample();
    const second = synthExample();
    expect(second.template).toEqual(first.template);
    expect(second.manifest).toBe(first.manifest);
  });

  test('template snapshot', () => {
    expect(synthExample().template).toMatchSnapshot();
  });

  test('manifest snapshot (bundle bytes masked)', () => {
    expect(maskBundle(synthExample().manifest)).toMatchSnapshot();
  });

  test('the dashboard shows exactly the catalog metrics that have a dashboard role', () => {
    const { stack } = synthExample();
    const body = JSON.stringify(Template.fromStack(stack).findResources('AWS::CloudWatch::Dashboard'));
    const named = new Set([...body.matchAll(/\\"Kubernetes\\",\\"([A-Za-z0-9]+)\\"/g)].map((m) => m[1]));
    const expected = new Set(CATALOG.filter((m) => m.dashboard.length > 0).map((m) => m.metricName));
    expect(named).toEqual(expected);
  });
});

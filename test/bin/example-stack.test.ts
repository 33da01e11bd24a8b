import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { App } from 'aws-cdk-lib';
import { Template } from 'aws-cdk-lib/assertions';
import * as YAML from 'yaml';
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

const BUNDLE_PART = /^cni-metrics-helper-bundle-(\d+)$/;

/**
 * The bundle's bytes, hash and number of parts change with every runtime edit: the snapshot keeps
 * the shape of its first part only (the parts test checks that they all line up).
 */
function maskBundle(manifest: string): string {
  const docs = YAML.parseAllDocuments(manifest).map((d) => d.toJS());
  const kept = docs.filter((doc) => doc.kind !== 'ConfigMap' || BUNDLE_PART.exec(doc.metadata.name)?.[1] === '0');
  const volumes = kept.find((doc) => doc.kind === 'Deployment').spec.template.spec.volumes;
  for (const volume of volumes) if (volume.projected) volume.projected.sources = volume.projected.sources.slice(0, 1);
  return kept
    .map((doc) => YAML.stringify(doc, { lineWidth: 0, sortMapEntries: true }))
    .join('---\n')
    .replace(/^(\s+part-\d+): \S+$/gm, '$1: <bundle bytes>')
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

  test('every bundle part has its ConfigMap and its place in the projected volume, in order', () => {
    const docs = YAML.parseAllDocuments(synthExample().manifest).map((d) => d.toJS());
    const parts = docs.filter((doc) => doc.kind === 'ConfigMap' && BUNDLE_PART.test(doc.metadata.name)).map((doc) => doc.metadata.name);
    const projected = docs.find((doc) => doc.kind === 'Deployment').spec.template.spec.volumes.find((v: any) => v.projected).projected.sources;
    expect(parts.length).toBeGreaterThan(0);
    expect(projected.map((source: any) => source.configMap.name)).toEqual(parts);
    expect(parts).toEqual(parts.map((_: string, index: number) => `cni-metrics-helper-bundle-${index}`));
  });

  test('the dashboard shows exactly the catalog metrics that have a dashboard role (no subnet metrics: the example leaves them off)', () => {
    const { stack } = synthExample();
    const body = JSON.stringify(Template.fromStack(stack).findResources('AWS::CloudWatch::Dashboard'));
    const named = new Set([...body.matchAll(/\\"Kubernetes\\",\\"([A-Za-z0-9]+)\\"/g)].map((m) => m[1]));
    const expected = new Set(CATALOG.filter((m) => m.dashboard.length > 0 && m.aggregation !== 'ec2Subnet').map((m) => m.metricName));
    expect(named).toEqual(expected);
  });
});

import { execFileSync, spawnSync } from 'child_process';
import * as crypto from 'crypto';
import * as fs from 'fs';
import * as path from 'path';
import * as zlib from 'zlib';
import { App, Stack } from 'aws-cdk-lib';
import { Testing } from 'cdk8s';
import { DockerImageAsset } from 'aws-cdk-lib/aws-ecr-assets';
import {
  BUNDLE_PART_BYTES,
  MAX_BUNDLE_GZIP_BYTES,
  collectorBundlePath,
  ensureCollectorBundle,
  packCollectorBundle,
} from '../../lib/collector-bundle';
import { CollectorChart } from '../../lib/collector-chart';
import { CollectorImage, CollectorImagePlatform } from '../../lib/collector-image';
import { collectorDockerfilePath, stageImageContext } from '../../lib/private/image-context';
import { appStackIn, tempDirMaker } from './temp-app';

const tempDir = tempDirMaker('collector-image-test-');
const DEFAULT_NODE_IMAGE = CollectorImage.DEFAULT_NODE_IMAGE;

/** A stack in an app writing to a temporary cloud assembly, with one resource so that it validates. */
function appStack(): { app: App; stack: Stack } {
  return appStackIn(tempDir());
}

/** A bundle file with the given bytes. */
function bundleFile(contents: string | Buffer): string {
  const file = path.join(tempDir(), 'collector.js');
  fs.writeFileSync(file, contents);
  return file;
}

/** Deterministic bytes gzip cannot shrink: AES-CTR keystream from a fixed key. */
function incompressible(size: number, seed = 'seed'): Buffer {
  const key = crypto.createHash('sha256').update(seed).digest().subarray(0, 16);
  return crypto.createCipheriv('aes-128-ctr', key, Buffer.alloc(16)).update(Buffer.alloc(size));
}

/** Writes the parts as the projected ConfigMap volume shows them, plus the noise kubelet adds. */
function writeParts(bundle: ReturnType<typeof packCollectorBundle>): string {
  const dir = tempDir();
  for (const part of bundle.parts) fs.writeFileSync(path.join(dir, part.key), Buffer.from(part.base64, 'base64'));
  fs.mkdirSync(path.join(dir, '..2026_11_25_12_00_00.000000001'));
  return dir;
}

/** Runs the unpack command as the init container would, with `dir` and `out` in place of the pod paths. */
function runUnpack(bundle: ReturnType<typeof packCollectorBundle>, partsDir: string, outFile: string) {
  const [node, evalFlag, script, , , sha256] = bundle.unpackCommand;
  expect([node, evalFlag]).toEqual(['node', '-e']);
  return spawnSync(process.execPath, ['-e', script, partsDir, outFile, sha256], { encoding: 'utf8', timeout: 20_000 });
}

describe('CollectorImage.fromRegistry', () => {
  test('uses the image it is given', () => {
    const image = CollectorImage.fromRegistry('123456789012.dkr.ecr.eu-west-1.amazonaws.com/cni-metrics-helper:1.0.0');
    expect(image.bind(new Stack())).toEqual({ imageUri: '123456789012.dkr.ecr.eu-west-1.amazonaws.com/cni-metrics-helper:1.0.0' });
  });

  test('rejects an empty or blank image reference', () => {
    expect(() => CollectorImage.fromRegistry('')).toThrow(/fromRegistry\(\): 'imageUri' must be an image reference.*got ""/);
    expect(() => CollectorImage.fromRegistry('my image')).toThrow(/'imageUri' must be an image reference/);
  });
});

describe('CollectorImage.fromAsset', () => {
  test('builds from a context holding exactly the Dockerfile, collector.js and its notices', () => {
    // GIVEN
    const { app, stack } = appStack();

    // WHEN
    const { imageUri, bundle } = CollectorImage.fromAsset().bind(stack);
    const assembly = app.synth();

    // THEN the staged asset directory in the cloud assembly holds the two files and nothing else
    expect(bundle).toBeUndefined();
    expect(stack.resolve(imageUri)['Fn::Sub']).toMatch(/container-assets-.*:[0-9a-f]{64}$/);
    const assetDirs = fs.readdirSync(assembly.directory).filter((name) => name.startsWith('asset.'));
    expect(assetDirs).toHaveLength(1);
    const context = path.join(assembly.directory, assetDirs[0]);
    expect(fs.readdirSync(context).sort()).toEqual(['Dockerfile', 'THIRD-PARTY-NOTICES.txt', 'collector.js']);
    expect(fs.readFileSync(path.join(context, 'collector.js'))).toEqual(fs.readFileSync(collectorBundlePath()));
    expect(fs.readFileSync(path.join(context, 'THIRD-PARTY-NOTICES.txt'))).toEqual(
      fs.readFileSync(path.join(path.dirname(collectorBundlePath()), 'THIRD-PARTY-NOTICES.txt')),
    );
    expect(fs.readFileSync(path.join(context, 'Dockerfile'))).toEqual(fs.readFileSync(collectorDockerfilePath()));
  });

  test('builds for linux/amd64 by default and for linux/arm64 when asked, pinning the pod to that architecture', () => {
    const built = (image: CollectorImage) => {
      const { app, stack } = appStack();
      const { nodeArchitecture } = image.bind(stack);
      const assets = JSON.parse(fs.readFileSync(path.join(app.synth().directory, 'Stack.assets.json'), 'utf8'));
      return { platforms: Object.values<any>(assets.dockerImages).map((asset) => asset.source.platform), nodeArchitecture };
    };
    expect(built(CollectorImage.fromAsset())).toEqual({ platforms: ['linux/amd64'], nodeArchitecture: 'amd64' });
    expect(built(CollectorImage.fromAsset({ platform: CollectorImagePlatform.LINUX_AMD64 }))).toEqual({ platforms: ['linux/amd64'], nodeArchitecture: 'amd64' });
    expect(built(CollectorImage.fromAsset({ platform: CollectorImagePlatform.LINUX_ARM64 }))).toEqual({ platforms: ['linux/arm64'], nodeArchitecture: 'arm64' });
  });

  test('rejects a platform that is not a CollectorImagePlatform (a string from untyped code)', () => {
    expect(() => CollectorImage.fromAsset({ platform: 'linux/arm64' as any })).toThrow(
      /^CollectorImage\.fromAsset\(\): 'platform' must be CollectorImagePlatform\.LINUX_AMD64 or CollectorImagePlatform\.LINUX_ARM64, got "linux\/arm64"$/,
    );
  });

  test('has the same asset hash wherever the context is staged (another machine, another temp dir)', () => {
    // GIVEN the same bundle staged under two different roots
    const bundle = bundleFile('console.log("collector");\n');
    const first = stageImageContext(bundle, tempDir());
    const second = stageImageContext(bundle, tempDir());
    expect(first).not.toBe(second);

    // WHEN each becomes an asset
    const stack = new Stack();
    const hashes = [first, second].map((directory, i) => new DockerImageAsset(stack, `Asset${i}`, { directory }).assetHash);

    // THEN
    expect(hashes[0]).toBe(hashes[1]);
  });

  test('reuses a staged context with the same content and stages a new one for a new bundle', () => {
    const root = tempDir();
    const first = stageImageContext(bundleFile('one'), root);
    expect(stageImageContext(bundleFile('one'), root)).toBe(first);
    const other = stageImageContext(bundleFile('two'), root);
    expect(other).not.toBe(first);
    expect(fs.readFileSync(path.join(other, 'collector.js'), 'utf8')).toBe('two');
    expect(fs.readdirSync(path.join(root, 'cdk-cni-metrics-helper')).filter((n) => n.startsWith('staging-'))).toEqual([]);
  });

  test('repairs a staged context whose files were changed', () => {
    const root = tempDir();
    const dir = stageImageContext(bundleFile('one'), root);
    fs.writeFileSync(path.join(dir, 'collector.js'), 'tampered');
    fs.writeFileSync(path.join(dir, 'extra.txt'), 'x');
    expect(stageImageContext(bundleFile('one'), root)).toBe(dir);
    expect(fs.readdirSync(dir).sort()).toEqual(['Dockerfile', 'THIRD-PARTY-NOTICES.txt', 'collector.js']);
    expect(fs.readFileSync(path.join(dir, 'collector.js'), 'utf8')).toBe('one');
  });

  test('binds one asset per scope however often it is bound', () => {
    const stack = new Stack();
    const image = CollectorImage.fromAsset();
    expect(image.bind(stack).imageUri).toBe(image.bind(stack).imageUri);
    expect(stack.node.findAll().filter((c) => c instanceof DockerImageAsset)).toHaveLength(1);
  });
});

describe('the collector pod and the image architecture', () => {
  /** The pod spec of the chart for what `image` binds to. */
  const podSpecFor = (image: CollectorImage, stack: Stack) => {
    const { imageUri, bundle, nodeArchitecture } = image.bind(stack);
    const chart = new CollectorChart(Testing.app(), 'Collector', { clusterName: 'c', region: 'eu-west-1', image: stack.resolve(imageUri)['Fn::Sub'] ?? imageUri, bundle, nodeArchitecture });
    return Testing.synth(chart).find((doc: any) => doc.kind === 'Deployment').spec.template.spec;
  };
  const requiredArch = (spec: any) =>
    spec.affinity?.nodeAffinity?.requiredDuringSchedulingIgnoredDuringExecution?.nodeSelectorTerms?.flatMap((term: any) => term.matchExpressions);

  test('is pinned to the architecture fromAsset built', () => {
    expect(requiredArch(podSpecFor(CollectorImage.fromAsset({ platform: CollectorImagePlatform.LINUX_ARM64 }), new Stack()))).toEqual([
      { key: 'kubernetes.io/arch', operator: 'In', values: ['arm64'] },
    ]);
    expect(requiredArch(podSpecFor(CollectorImage.fromAsset(), new Stack()))).toEqual([
      { key: 'kubernetes.io/arch', operator: 'In', values: ['amd64'] },
    ]);
  });

  test('is free to run on any architecture with fromBundle and fromRegistry', () => {
    expect(podSpecFor(CollectorImage.fromBundle(), new Stack()).affinity).toBeUndefined();
    expect(podSpecFor(CollectorImage.fromRegistry('example.com/collector:1'), new Stack()).affinity).toBeUndefined();
  });
});

describe('runtime/Dockerfile', () => {
  const dockerfile = fs.readFileSync(collectorDockerfilePath(), 'utf8');
  const instructions = dockerfile
    .split('\n')
    .map((line) => line.trim())
    .filter((line) => line !== '' && !line.startsWith('#'));

  test('is one stage from the Node LTS image that fromBundle runs too, pinned by digest with its tag', () => {
    expect(instructions.filter((line) => line.startsWith('FROM '))).toEqual([`FROM ${DEFAULT_NODE_IMAGE}`]);
    // Node 22 or 24 (the LTS lines in support), the exact version and Alpine release in the tag, and the index digest.
    expect(DEFAULT_NODE_IMAGE).toMatch(/^public\.ecr\.aws\/docker\/library\/node:2[24]\.\d+\.\d+-alpine3\.\d+@sha256:[0-9a-f]{64}$/);
  });

  test('copies only the bundle and its notices, runs nothing at build time, and runs as a non-root user', () => {
    expect(instructions.filter((line) => line.startsWith('COPY '))).toEqual([
      'COPY collector.js /app/collector.js',
      'COPY THIRD-PARTY-NOTICES.txt /app/THIRD-PARTY-NOTICES.txt',
    ]);
    expect(instructions.some((line) => line.startsWith('RUN '))).toBe(false);
    expect(instructions).toContain('USER 65532:65532');
    expect(instructions[instructions.length - 1]).toBe('ENTRYPOINT ["node", "/app/collector.js"]');
  });
});

describe('CollectorImage.fromBundle', () => {
  test('runs the pinned multi-arch public Node image by default, or the one given, on any node architecture', () => {
    const bundlePath = bundleFile('console.log(1)');
    expect(CollectorImage.fromBundle({ bundlePath }).bind(new Stack()).imageUri).toBe(DEFAULT_NODE_IMAGE);
    expect(CollectorImage.fromBundle({ bundlePath }).bind(new Stack()).nodeArchitecture).toBeUndefined();
    expect(CollectorImage.fromBundle({ bundlePath, nodeImage: 'node:20.20.2-slim' }).bind(new Stack()).imageUri).toBe('node:20.20.2-slim');
    expect(() => CollectorImage.fromBundle({ nodeImage: ' ' })).toThrow(/'nodeImage' must be a Node.js image reference/);
  });

  test('uses this package\'s bundle by default', () => {
    const { bundle } = CollectorImage.fromBundle().bind(new Stack());
    const gzipped = Buffer.concat(bundle!.parts.map((part) => Buffer.from(part.base64, 'base64')));
    expect(zlib.gunzipSync(gzipped)).toEqual(fs.readFileSync(collectorBundlePath()));
  });

  test('fails synthesis with a clear error when the gzipped bundle is over 1 MiB', () => {
    // GIVEN a bundle gzip cannot shrink below the limit
    const bundlePath = bundleFile(incompressible(MAX_BUNDLE_GZIP_BYTES + 1));

    // THEN
    expect(() => CollectorImage.fromBundle({ bundlePath }).bind(new Stack())).toThrow(
      /gzipped collector bundle .* is \d+ bytes, over the 1048576-byte \(1 MiB\) ConfigMap limit.*CollectorImage.fromAsset\(\) or CollectorImage.fromRegistry\(uri\)/,
    );
  });

  test('accepts a bundle just under the limit, in parts that each fit a ConfigMap', () => {
    const bundle = packCollectorBundle(bundleFile(incompressible(MAX_BUNDLE_GZIP_BYTES - 1024)));
    expect(bundle.parts.length).toBe(Math.ceil(MAX_BUNDLE_GZIP_BYTES / BUNDLE_PART_BYTES));
    for (const part of bundle.parts) expect(Buffer.from(part.base64, 'base64').length).toBeLessThanOrEqual(BUNDLE_PART_BYTES);
  });
});

describe('packCollectorBundle', () => {
  test('splits the gzipped bundle into ordered parts that join back into the bundle', () => {
    // GIVEN
    const code = incompressible(300_000);

    // WHEN
    const bundle = packCollectorBundle(bundleFile(code));

    // THEN
    expect(bundle.parts.map((part) => part.key)).toEqual(['part-000', 'part-001', 'part-002']);
    const gzipped = Buffer.concat(bundle.parts.map((part) => Buffer.from(part.base64, 'base64')));
    expect(zlib.gunzipSync(gzipped)).toEqual(code);
    expect(bundle.sha256).toBe(crypto.createHash('sha256').update(code).digest('hex'));
  });

  test('is deterministic: no time and no operating system in the gzip header', () => {
    const first = packCollectorBundle(bundleFile('console.log("same");\n'));
    const second = packCollectorBundle(bundleFile('console.log("same");\n'));
    expect(second).toEqual(first);
    const header = Buffer.from(first.parts[0].base64, 'base64').subarray(0, 10);
    expect(header.readUInt32LE(4)).toBe(0); // MTIME
    expect(header[9]).toBe(0xff); // OS: unknown
  });

  test('runs the unpacked file with node from the directory the unpack step writes', () => {
    const bundle = packCollectorBundle(bundleFile('x'));
    expect(bundle.runCommand).toEqual(['node', `${bundle.appDir}/collector.js`]);
    expect(bundle.unpackCommand.slice(3)).toEqual([bundle.partsDir, `${bundle.appDir}/collector.js`, bundle.sha256]);
  });
});

describe('the unpack step (the init container\'s node -e script)', () => {
  test('joins the parts, checks the sha256 and writes a collector that node runs', () => {
    // GIVEN a bundle spanning three parts that prints something when run as the main module
    const code = `if (require.main === module) console.log("collector ran " + ${JSON.stringify(incompressible(150_000).toString('base64'))}.length);\n`;
    const bundle = packCollectorBundle(bundleFile(code));
    expect(bundle.parts.length).toBeGreaterThan(1);
    const partsDir = writeParts(bundle);
    const outFile = path.join(tempDir(), 'collector.js');

    // WHEN
    const result = runUnpack(bundle, partsDir, outFile);

    // THEN
    expect(result.stderr).toBe('');
    expect(result.status).toBe(0);
    expect(result.stdout).toMatch(new RegExp(`unpacked ${Buffer.byteLength(code)} bytes from ${bundle.parts.length} parts`));
    expect(fs.readFileSync(outFile, 'utf8')).toBe(code);
    expect(execFileSync(process.execPath, [outFile], { encoding: 'utf8' })).toBe(`collector ran ${incompressible(150_000).toString('base64').length}\n`);
  });

  test('refuses an incomplete part set, saying so, and writes nothing', () => {
    // GIVEN the last part missing (its ConfigMap not applied)
    const bundle = packCollectorBundle(bundleFile(incompressible(300_000)));
    const partsDir = writeParts(bundle);
    fs.rmSync(path.join(partsDir, bundle.parts[bundle.parts.length - 1].key));
    const outFile = path.join(tempDir(), 'collector.js');

    // WHEN
    const result = runUnpack(bundle, partsDir, outFile);

    // THEN
    expect(result.status).toBe(1);
    expect(result.stderr).toMatch(/^collector bundle: cannot unpack 2 parts in .* \(unexpected end of file\); re-apply the manifest\n$/);
    expect(fs.existsSync(outFile)).toBe(false);
  });

  test('refuses intact parts of another bundle with a message naming both hashes', () => {
    const bundle = packCollectorBundle(bundleFile('console.log("new")'));
    const old = packCollectorBundle(bundleFile('console.log("old")'));
    const outFile = path.join(tempDir(), 'collector.js');

    const result = runUnpack(bundle, writeParts(old), outFile);

    expect(result.status).toBe(1);
    expect(result.stderr).toContain(`sha256 of 1 parts is ${old.sha256}, expected ${bundle.sha256}; re-apply the manifest`);
    expect(fs.existsSync(outFile)).toBe(false);
  });
});

describe('collectorBundlePath', () => {
  test('returns this package\'s dist/collector.js', () => {
    expect(collectorBundlePath()).toBe(path.resolve(__dirname, '..', '..', 'dist', 'collector.js'));
    expect(fs.existsSync(collectorBundlePath())).toBe(true);
  });

  test('builds a missing bundle from runtime/main.ts, the same bytes wherever the checkout is', () => {
    // GIVEN two fresh clones (no dist/) in different places
    const clones = [tempDir(), tempDir()];
    for (const root of clones) {
      fs.mkdirSync(path.join(root, 'runtime'));
      fs.writeFileSync(path.join(root, 'runtime', 'main.ts'), "import { greeting } from './greeting';\nconsole.log(greeting('collector'));\n");
      fs.writeFileSync(path.join(root, 'runtime', 'greeting.ts'), 'export const greeting = (name: string): string => `hello ${name}`;\n');
    }

    // WHEN
    const bundles = clones.map((root) => ensureCollectorBundle(root));

    // THEN
    expect(bundles).toEqual(clones.map((root) => path.join(root, 'dist', 'collector.js')));
    expect(fs.readFileSync(bundles[0])).toEqual(fs.readFileSync(bundles[1]));
    expect(execFileSync(process.execPath, [bundles[0]], { encoding: 'utf8' })).toBe('hello collector\n');
    expect(fs.readdirSync(path.join(clones[0], 'dist')).sort()).toEqual(['THIRD-PARTY-NOTICES.txt', 'collector.js']);
    // No package from node_modules in these sources: the notices list none, and name no machine path.
    const notices = fs.readFileSync(path.join(clones[0], 'dist', 'THIRD-PARTY-NOTICES.txt'), 'utf8');
    expect(notices).toContain('from these 0 packages');
    expect(notices).toBe(fs.readFileSync(path.join(clones[1], 'dist', 'THIRD-PARTY-NOTICES.txt'), 'utf8'));
  });

  test('lists in the notices each package that put code in the bundle, with its version, licence and licence text', () => {
    // GIVEN a checkout whose collector uses one package, a scoped one under another package
    // (a second copy), and imports a third only for a type (no code reaches the bundle)
    const root = tempDir();
    const pkg = (dir: string, manifest: object, files: Record<string, string>) => {
      fs.mkdirSync(dir, { recursive: true });
      fs.writeFileSync(path.join(dir, 'package.json'), JSON.stringify(manifest));
      for (const [name, text] of Object.entries(files)) fs.writeFileSync(path.join(dir, name), text);
    };
    const modules = path.join(root, 'node_modules');
    pkg(path.join(modules, 'left-pad'), { name: 'left-pad', version: '1.3.0', license: 'WTFPL', main: 'index.js' }, {
      'index.js': "module.exports = (s) => ' ' + s + require('@acme/util').tag;",
      LICENSE: 'left-pad licence text',
    });
    pkg(path.join(modules, 'left-pad', 'node_modules', '@acme', 'util'), { name: '@acme/util', version: '2.0.0', licenses: [{ type: 'MIT' }], main: 'u.js' }, {
      'u.js': "exports.tag = '!';",
    });
    pkg(path.join(modules, 'types-only'), { name: 'types-only', version: '9.9.9', license: 'ISC', types: 'index.d.ts', main: 'index.js' }, {
      'index.js': '',
      'index.d.ts': 'export interface Shape { readonly side: number }',
    });
    fs.mkdirSync(path.join(root, 'runtime'));
    fs.writeFileSync(
      path.join(root, 'runtime', 'main.ts'),
      "import type { Shape } from 'types-only';\nimport leftPad = require('left-pad');\nconst s: Shape = { side: 1 };\nconsole.log(leftPad('x' + s.side));\n",
    );

    // WHEN
    const bundle = ensureCollectorBundle(root);

    // THEN the bundle runs, and the notices name exactly the two packages whose code is in it
    expect(execFileSync(process.execPath, [bundle], { encoding: 'utf8' })).toBe(' x1!\n');
    const notices = fs.readFileSync(path.join(root, 'dist', 'THIRD-PARTY-NOTICES.txt'), 'utf8');
    expect(notices).toContain('from these 2 packages');
    expect(notices).toMatch(/^@acme\/util@2\.0\.0 +MIT$/m);
    expect(notices).toMatch(/^left-pad@1\.3\.0 +WTFPL$/m);
    expect(notices).not.toContain('types-only');
    expect(notices).toContain('Licence text of: left-pad@1.3.0');
    expect(notices).toContain('left-pad licence text');
    expect(notices).toMatch(/ship no licence file[^\n]*\n {2}@acme\/util@2\.0\.0 \(MIT\)\n/);
    expect(notices).not.toContain(root);
  });

  test('lists the real bundle\'s packages at the versions installed here', () => {
    const notices = fs.readFileSync(path.join(path.dirname(collectorBundlePath()), 'THIRD-PARTY-NOTICES.txt'), 'utf8');
    for (const name of ['@kubernetes/client-node', '@aws-sdk/client-cloudwatch']) {
      const { version } = JSON.parse(fs.readFileSync(path.join(__dirname, '..', '..', 'node_modules', name, 'package.json'), 'utf8'));
      expect(notices).toMatch(new RegExp(`^${name.replace('/', '\\/')}@${version.replace(/\./g, '\\.')} +Apache-2\\.0 `, 'm'));
    }
  });

  test('builds again a bundle that has no notices beside it, when its sources are there', () => {
    const root = tempDir();
    fs.mkdirSync(path.join(root, 'dist'));
    fs.writeFileSync(path.join(root, 'dist', 'collector.js'), 'built before notices existed');
    fs.mkdirSync(path.join(root, 'runtime'));
    fs.writeFileSync(path.join(root, 'runtime', 'main.ts'), "console.log('rebuilt');\n");
    expect(execFileSync(process.execPath, [ensureCollectorBundle(root)], { encoding: 'utf8' })).toBe('rebuilt\n');
    expect(fs.existsSync(path.join(root, 'dist', 'THIRD-PARTY-NOTICES.txt'))).toBe(true);
  });

  test('uses an existing bundle as it is', () => {
    const root = tempDir();
    fs.mkdirSync(path.join(root, 'dist'));
    fs.writeFileSync(path.join(root, 'dist', 'collector.js'), 'prebuilt');
    expect(fs.readFileSync(ensureCollectorBundle(root), 'utf8')).toBe('prebuilt');
  });

  test('explains what to do when there is neither a bundle nor its sources', () => {
    const root = tempDir();
    expect(() => ensureCollectorBundle(root)).toThrow(/collector bundle .*dist.collector\.js is missing and there is no .*main\.ts to build it from: .*npm run build:collector/);
  });
});

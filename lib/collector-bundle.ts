/**
 * The collector bundle: where its one-file build (dist/collector.js) is, building it from source on
 * a fresh clone, and packing it into ConfigMap-sized parts for clusters that run it without an image.
 *
 * Public API: only the two interfaces (CollectorBundleMount, CollectorBundlePart), which
 * CollectorImage.bind() returns; the functions and constants here are the package's own.
 */
import * as crypto from 'crypto';
import * as fs from 'fs';
import * as path from 'path';
import * as zlib from 'zlib';

/** This package's name in package.json: how the package root is recognised from lib/ or dist/lib/. */
const PACKAGE_NAME = 'cdk-cni-metrics-helper';

/** The bundle's place in the package, relative to its root (written by runtime/build.js). */
const BUNDLE_RELATIVE_PATH = path.join('dist', 'collector.js');
/** The third-party notices runtime/build.js writes beside the bundle (its NOTICES_FILE). */
export const NOTICES_FILE_NAME = 'THIRD-PARTY-NOTICES.txt';
const ENTRY_RELATIVE_PATH = path.join('runtime', 'main.ts');

/**
 * Bytes of gzipped bundle in one ConfigMap. kubectl's client-side apply (used by aws-eks's
 * KubernetesManifest) copies the whole object into the `last-applied-configuration` annotation,
 * and annotations are limited to 256 KiB in total: 128 KiB is about 171 KiB in base64, which
 * leaves room for the rest of the object.
 */
export const BUNDLE_PART_BYTES = 128 * 1024;

/**
 * The most gzipped bundle fromBundle carries: 1 MiB, the size limit of a single ConfigMap. The
 * parts stay well under it one by one; the cap keeps the manifest (and, for an in-app cluster, the
 * CloudFormation template that holds it) from growing without bound.
 */
export const MAX_BUNDLE_GZIP_BYTES = 1024 * 1024;

/** One piece of the gzipped bundle: a ConfigMap key and the file it becomes in the pod. */
export interface CollectorBundlePart {
  /** The ConfigMap key and file name (`part-000`, `part-001`, ...; they sort in bundle order). */
  readonly key: string;
  /** The part's bytes, base64-encoded as ConfigMap `binaryData` wants them. */
  readonly base64: string;
}

/**
 * Everything the chart needs to run the collector from ConfigMaps instead of an image: an init
 * container unpacks the parts into an emptyDir, then the collector container runs the file there.
 */
export interface CollectorBundleMount {
  /** The gzipped bundle in order, each part small enough for its own ConfigMap. */
  readonly parts: CollectorBundlePart[];
  /** sha256 (hex) of the uncompressed bundle: the unpack step checks it, and a new value rolls the pods. */
  readonly sha256: string;
  /** Where the parts are mounted, read-only, for the unpack step. */
  readonly partsDir: string;
  /** Where the unpacked collector is written (an emptyDir) and read by the collector container. */
  readonly appDir: string;
  /** The unpack (init) container's command: joins the parts, gunzips, checks sha256, writes `appDir/collector.js`. */
  readonly unpackCommand: string[];
  /** The collector container's command. */
  readonly runCommand: string[];
}

const PARTS_DIR = '/var/run/cni-metrics-helper/bundle';
const APP_DIR = '/app';
const COLLECTOR_FILE = 'collector.js';

/**
 * The unpack step, run with `node -e SCRIPT partsDir outFile sha256`. It writes a real file rather
 * than evaluating the code in place so that the collector starts as `node /app/collector.js`, just
 * as in the image (its entry point only runs when it is the main module).
 */
const UNPACK_SCRIPT = [
  "const fs = require('fs'), path = require('path'), zlib = require('zlib'), crypto = require('crypto');",
  'const [partsDir, outFile, expected] = process.argv.slice(1);',
  'const parts = fs.readdirSync(partsDir).filter((f) => /^part-[0-9]{3}$/.test(f)).sort();',
  'let code;',
  'try {',
  '  code = zlib.gunzipSync(Buffer.concat(parts.map((f) => fs.readFileSync(path.join(partsDir, f)))));',
  '} catch (err) {',
  '  console.error(`collector bundle: cannot unpack ${parts.length} parts in ${partsDir} (${err.message}); re-apply the manifest`);',
  '  process.exit(1);',
  '}',
  "const actual = crypto.createHash('sha256').update(code).digest('hex');",
  'if (actual !== expected) {',
  '  console.error(`collector bundle: sha256 of ${parts.length} parts is ${actual}, expected ${expected}; re-apply the manifest`);',
  '  process.exit(1);',
  '}',
  'fs.writeFileSync(outFile, code, { mode: 0o444 });',
  'console.log(`collector bundle: unpacked ${code.length} bytes from ${parts.length} parts to ${outFile}`);',
].join('\n');

/**
 * Path of this package's collector bundle, dist/collector.js.
 *
 * When it (or the THIRD-PARTY-NOTICES.txt beside it) is missing and the collector's sources are
 * present (a fresh clone after `npm ci`), it is built first, with the options of runtime/build.js, so that `npx cdk synth` works without a
 * separate build step. An existing bundle is used as it is: run `npm run build:collector` after
 * changing runtime/.
 */
export function collectorBundlePath(): string {
  return ensureCollectorBundle(packageRoot());
}

/**
 * The root directory of this package (the one holding its package.json), found from this file's
 * place: lib/ when run from source, dist/lib/ when compiled.
 */
export function packageRoot(): string {
  let dir = __dirname;
  for (;;) {
    const manifest = path.join(dir, 'package.json');
    if (fs.existsSync(manifest) && readPackageName(manifest) === PACKAGE_NAME) return dir;
    const parent = path.dirname(dir);
    if (parent === dir) {
      throw new Error(`Cannot find the ${PACKAGE_NAME} package root above ${__dirname}: no package.json named "${PACKAGE_NAME}"`);
    }
    dir = parent;
  }
}

function readPackageName(manifestPath: string): string | undefined {
  try {
    return JSON.parse(fs.readFileSync(manifestPath, 'utf8')).name;
  } catch {
    return undefined;
  }
}

/**
 * The bundle of the package at `root`, built from `root/runtime/main.ts` when it is missing.
 * Exported for tests; use collectorBundlePath().
 */
export function ensureCollectorBundle(root: string): string {
  const bundle = path.join(root, BUNDLE_RELATIVE_PATH);
  // A bundle without its notices is from a build before they existed: built again when it can be.
  const notices = path.join(path.dirname(bundle), NOTICES_FILE_NAME);
  if (fs.existsSync(bundle) && (fs.existsSync(notices) || !fs.existsSync(path.join(root, ENTRY_RELATIVE_PATH)))) return bundle;
  const entry = path.join(root, ENTRY_RELATIVE_PATH);
  if (!fs.existsSync(entry)) {
    throw new Error(
      `The collector bundle ${bundle} is missing and there is no ${entry} to build it from: ` +
        'in a source checkout run `npm ci && npm run build:collector`; in an installed package, reinstall it ' +
        '(its dist/collector.js should be part of it), or use CollectorImage.fromRegistry(uri).',
    );
  }
  buildBundle(entry, bundle);
  return bundle;
}

function buildBundle(entry: string, outfile: string): void {
  // The same build as `npm run build:collector`; only a source checkout gets here.
  const build: { buildCollector(entry: string, outfile: string): string } = require(path.join(packageRoot(), 'runtime', 'build.js'));
  build.buildCollector(entry, outfile);
}

/**
 * Gzips the bundle at `bundlePath` and splits it into ConfigMap-sized parts.
 *
 * Deterministic: the gzip header carries no time and no operating system, so the same bundle gives
 * the same manifest on every machine. Fails when the gzipped bundle is over MAX_BUNDLE_GZIP_BYTES.
 */
export function packCollectorBundle(bundlePath: string): CollectorBundleMount {
  const code = fs.readFileSync(bundlePath);
  const gzipped = zlib.gzipSync(code, { level: zlib.constants.Z_BEST_COMPRESSION });
  // Byte 9 of a gzip header names the OS that wrote it (3 on Unix, 10/11 elsewhere); 255 is "unknown".
  gzipped[9] = 0xff;
  if (gzipped.length > MAX_BUNDLE_GZIP_BYTES) {
    throw new Error(
      `CollectorImage.fromBundle(): the gzipped collector bundle ${bundlePath} is ${gzipped.length} bytes, over the ` +
        `${MAX_BUNDLE_GZIP_BYTES}-byte (1 MiB) ConfigMap limit this mode keeps to; use CollectorImage.fromAsset() ` +
        'or CollectorImage.fromRegistry(uri) instead.',
    );
  }
  const parts: CollectorBundlePart[] = [];
  for (let offset = 0; offset < gzipped.length; offset += BUNDLE_PART_BYTES) {
    parts.push({
      key: `part-${String(parts.length).padStart(3, '0')}`,
      base64: gzipped.subarray(offset, offset + BUNDLE_PART_BYTES).toString('base64'),
    });
  }
  const sha256 = crypto.createHash('sha256').update(code).digest('hex');
  const collectorFile = path.posix.join(APP_DIR, COLLECTOR_FILE);
  return {
    parts,
    sha256,
    partsDir: PARTS_DIR,
    appDir: APP_DIR,
    unpackCommand: ['node', '-e', UNPACK_SCRIPT, PARTS_DIR, collectorFile, sha256],
    runCommand: ['node', collectorFile],
  };
}

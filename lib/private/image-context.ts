/**
 * The collector image's Docker build context: runtime/Dockerfile, the bundle and its third-party
 * notices, staged in a directory of their own (used by CollectorImage.fromAsset()).
 */
import * as crypto from 'crypto';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { NOTICES_FILE_NAME, packageRoot } from '../collector-bundle';

/** Path of the Dockerfile the image is built from. */
export function collectorDockerfilePath(): string {
  return path.join(packageRoot(), 'runtime', 'Dockerfile');
}

/** The three files of the image's build context, by name (runtime/Dockerfile COPYs the last two). */
const CONTEXT_FILES = { dockerfile: 'Dockerfile', bundle: 'collector.js', notices: NOTICES_FILE_NAME } as const;

/**
 * Writes the image's build context, the Dockerfile, the bundle and the bundle's notices (the
 * THIRD-PARTY-NOTICES.txt beside it) and nothing else, to a directory under `stagingRoot` named by
 * their content hash, and returns that directory. An existing directory with the same content is
 * reused; a new one appears whole (written aside, then renamed).
 *
 * Why not build from runtime/ with a .dockerignore: the bundle lives in dist/, so that context would
 * be the package root, whose fingerprint walks node_modules on every synth; and an installed copy
 * of this package ships neither a .dockerignore nor runtime sources.
 */
export function stageImageContext(bundlePath: string, stagingRoot: string = os.tmpdir()): string {
  const dockerfilePath = collectorDockerfilePath();
  if (!fs.existsSync(dockerfilePath)) {
    throw new Error(
      `CollectorImage.fromAsset(): ${dockerfilePath} is missing from this installation of the package; ` +
        'use CollectorImage.fromRegistry(uri) or CollectorImage.fromBundle() instead.',
    );
  }
  const contents: Record<string, Buffer> = {
    [CONTEXT_FILES.dockerfile]: fs.readFileSync(dockerfilePath),
    [CONTEXT_FILES.bundle]: fs.readFileSync(bundlePath),
    [CONTEXT_FILES.notices]: noticesFor(bundlePath),
  };
  const hash = crypto.createHash('sha256');
  for (const [name, data] of Object.entries(contents)) {
    hash.update(`${name}\0${data.length}\0`).update(data);
  }
  const parent = path.join(stagingRoot, 'cdk-cni-metrics-helper');
  const dir = path.join(parent, `image-context-${hash.digest('hex').slice(0, 32)}`);
  if (hasExactly(dir, contents)) return dir;

  fs.mkdirSync(parent, { recursive: true });
  const aside = fs.mkdtempSync(path.join(parent, 'staging-'));
  for (const [name, data] of Object.entries(contents)) {
    fs.writeFileSync(path.join(aside, name), data);
  }
  fs.rmSync(dir, { recursive: true, force: true });
  try {
    fs.renameSync(aside, dir);
  } catch (err) {
    // Another synth staged the same content at the same moment: use theirs.
    fs.rmSync(aside, { recursive: true, force: true });
    if (!hasExactly(dir, contents)) throw err;
  }
  return dir;
}

/**
 * The notices written beside the bundle by runtime/build.js. A bundle of the user's own (fromAsset's
 * `bundlePath`) may have none: the image then says so rather than carry notices of another bundle.
 */
function noticesFor(bundlePath: string): Buffer {
  const notices = path.join(path.dirname(bundlePath), NOTICES_FILE_NAME);
  if (fs.existsSync(notices)) return fs.readFileSync(notices);
  return Buffer.from(`No ${NOTICES_FILE_NAME} was found beside ${path.basename(bundlePath)} when this image was built.\n`);
}

function hasExactly(dir: string, contents: Record<string, Buffer>): boolean {
  if (!fs.existsSync(dir)) return false;
  const names = fs.readdirSync(dir).sort();
  const expected = Object.keys(contents).sort();
  if (names.join('\0') !== expected.join('\0')) return false;
  return expected.every((name) => fs.readFileSync(path.join(dir, name)).equals(contents[name]));
}

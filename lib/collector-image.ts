/**
 * How the collector's container image is chosen: built from this package as a CDK Docker image
 * asset (the default), an image the user names, or no image of our own at all (the bundle in
 * ConfigMaps, run by a stock Node image).
 */
import * as crypto from 'crypto';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { Token } from 'aws-cdk-lib';
import { DockerImageAsset, Platform } from 'aws-cdk-lib/aws-ecr-assets';
import { Construct, IConstruct } from 'constructs';
import { CollectorBundleMount, collectorBundlePath, packCollectorBundle, packageRoot } from './collector-bundle';

/**
 * The Node 20 image the collector runs on: the FROM of runtime/Dockerfile (a test keeps the two
 * equal) and fromBundle's default. Pinned by version tag on the ECR Public mirror of Docker
 * Official Images, which EKS nodes pull from without Docker Hub limits.
 */
export const DEFAULT_NODE_IMAGE = 'public.ecr.aws/docker/library/node:20.20.2-alpine3.23';

/** What the chart needs to know about the chosen image. */
export interface CollectorImageConfig {
  /** The image reference for the collector's containers (may hold CDK tokens for an asset). */
  readonly imageUri: string;
  /**
   * The collector bundle to mount and run, when the image is a stock Node image.
   *
   * @default - none: the image runs the collector by itself
   */
  readonly bundle?: CollectorBundleMount;
}

/** CPU architectures the collector image can be built for. */
export type CollectorImagePlatform = 'linux/amd64' | 'linux/arm64';

export interface CollectorAssetImageOptions {
  /**
   * The platform to build the image for; match your nodes' architecture.
   *
   * @default 'linux/amd64'
   */
  readonly platform?: CollectorImagePlatform;

  /**
   * The collector bundle to put in the image.
   *
   * @default - this package's dist/collector.js
   */
  readonly bundlePath?: string;
}

export interface CollectorBundleImageOptions {
  /**
   * The Node.js 20 (or later) image that runs the bundle; it needs `node` on its PATH.
   *
   * @default DEFAULT_NODE_IMAGE
   */
  readonly nodeImage?: string;

  /**
   * The collector bundle to mount.
   *
   * @default - this package's dist/collector.js
   */
  readonly bundlePath?: string;
}

/** The collector's container image. Choose one with a static factory. */
export abstract class CollectorImage {
  /**
   * Builds the image from runtime/Dockerfile as a CDK Docker image asset: `cdk deploy` builds it
   * (Docker or a compatible builder is needed) and pushes it to the CDK bootstrap ECR repository.
   *
   * The build context is a directory holding only the Dockerfile and collector.js, keyed by their
   * content hash, so the asset hash is the same on every machine and nothing else (node_modules,
   * cdk.out) is ever sent to the builder.
   */
  public static fromAsset(options: CollectorAssetImageOptions = {}): CollectorImage {
    return new AssetCollectorImage(options);
  }

  /** An image you built and pushed yourself; it must run the collector as its entry point. */
  public static fromRegistry(imageUri: string): CollectorImage {
    return new RegistryCollectorImage(imageUri);
  }

  /**
   * No image build and no registry of your own: the bundled collector, gzipped, travels in
   * ConfigMaps (binaryData) and a stock Node image unpacks and runs it.
   *
   * The manifest then holds a few ConfigMaps of up to about 171 KiB each. In a cluster managed
   * elsewhere, `kubectl apply --server-side -f` is the most robust way to apply it (no
   * last-applied-configuration copy of each object); plain `kubectl apply` works too because each
   * part stays under the 256 KiB annotation limit.
   */
  public static fromBundle(options: CollectorBundleImageOptions = {}): CollectorImage {
    return new BundleCollectorImage(options);
  }

  /** The image reference, and the bundle to mount when the image does not hold the collector. */
  public abstract bind(scope: Construct): CollectorImageConfig;
}

class AssetCollectorImage extends CollectorImage {
  private readonly assets = new WeakMap<IConstruct, DockerImageAsset>();
  private readonly platform: Platform;

  constructor(private readonly options: CollectorAssetImageOptions) {
    super();
    this.platform = toAssetPlatform(options.platform ?? 'linux/amd64');
  }

  public bind(scope: Construct): CollectorImageConfig {
    let asset = this.assets.get(scope);
    if (!asset) {
      asset = new DockerImageAsset(scope, 'CollectorImage', {
        directory: stageImageContext(bundleFile('CollectorImage.fromAsset()', this.options.bundlePath)),
        platform: this.platform,
      });
      this.assets.set(scope, asset);
    }
    return { imageUri: asset.imageUri };
  }
}

function toAssetPlatform(platform: string): Platform {
  switch (platform) {
    case 'linux/amd64':
      return Platform.LINUX_AMD64;
    case 'linux/arm64':
      return Platform.LINUX_ARM64;
    default:
      throw new Error(`CollectorImage.fromAsset(): 'platform' must be 'linux/amd64' or 'linux/arm64', got ${JSON.stringify(platform)}`);
  }
}

class RegistryCollectorImage extends CollectorImage {
  constructor(private readonly imageUri: string) {
    super();
    if (!Token.isUnresolved(imageUri) && (imageUri.trim() === '' || /\s/.test(imageUri))) {
      throw new Error(
        `CollectorImage.fromRegistry(): 'imageUri' must be an image reference such as ` +
          `123456789012.dkr.ecr.eu-west-1.amazonaws.com/cni-metrics-helper:1.0.0, got ${JSON.stringify(imageUri)}`,
      );
    }
  }

  public bind(_scope: Construct): CollectorImageConfig {
    return { imageUri: this.imageUri };
  }
}

class BundleCollectorImage extends CollectorImage {
  private readonly nodeImage: string;
  private bundle?: CollectorBundleMount;

  constructor(private readonly options: CollectorBundleImageOptions) {
    super();
    this.nodeImage = options.nodeImage ?? DEFAULT_NODE_IMAGE;
    if (!Token.isUnresolved(this.nodeImage) && this.nodeImage.trim() === '') {
      throw new Error(`CollectorImage.fromBundle(): 'nodeImage' must be a Node.js image reference such as ${DEFAULT_NODE_IMAGE}, got ""`);
    }
  }

  public bind(_scope: Construct): CollectorImageConfig {
    // Packed once: the bundle is read and gzipped at the first bind only.
    this.bundle ??= packCollectorBundle(bundleFile('CollectorImage.fromBundle()', this.options.bundlePath));
    return { imageUri: this.nodeImage, bundle: this.bundle };
  }
}

/** The bundle to use: the one given, checked to be a file (not a bare ENOENT later), or this package's. */
function bundleFile(factory: string, bundlePath: string | undefined): string {
  if (bundlePath === undefined) return collectorBundlePath();
  if (!fs.statSync(bundlePath, { throwIfNoEntry: false })?.isFile()) {
    throw new Error(
      `${factory}: 'bundlePath' ${JSON.stringify(bundlePath)} is not a file — build the collector bundle with ` +
        "`npm run build:collector` (it writes dist/collector.js) and pass its path, or leave bundlePath out to use this package's",
    );
  }
  return bundlePath;
}

/** Path of the Dockerfile the image is built from. */
export function collectorDockerfilePath(): string {
  return path.join(packageRoot(), 'runtime', 'Dockerfile');
}

/** The two files of the image's build context, by name. */
const CONTEXT_FILES = { dockerfile: 'Dockerfile', bundle: 'collector.js' } as const;

/**
 * Writes the image's build context, the Dockerfile and the bundle and nothing else, to a directory
 * under `stagingRoot` named by their content hash, and returns that directory. An existing
 * directory with the same content is reused; a new one appears whole (written aside, then renamed).
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

function hasExactly(dir: string, contents: Record<string, Buffer>): boolean {
  if (!fs.existsSync(dir)) return false;
  const names = fs.readdirSync(dir).sort();
  const expected = Object.keys(contents).sort();
  if (names.join('\0') !== expected.join('\0')) return false;
  return expected.every((name) => fs.readFileSync(path.join(dir, name)).equals(contents[name]));
}

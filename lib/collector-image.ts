/**
 * How the collector's container image is chosen: built from this package as a CDK Docker image
 * asset (the default), an image the user names, or no image of our own at all (the bundle in
 * ConfigMaps, run by a stock Node image).
 */
import * as fs from 'fs';
import { Token } from 'aws-cdk-lib';
import { DockerImageAsset, Platform } from 'aws-cdk-lib/aws-ecr-assets';
import { Construct, IConstruct } from 'constructs';
import { CollectorBundleMount, collectorBundlePath, packCollectorBundle } from './collector-bundle';
import { stageImageContext } from './private/image-context';

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
  /**
   * The node architecture the image runs on (the `kubernetes.io/arch` node label: `amd64` or
   * `arm64`), when it holds one platform only; the chart pins the pod to nodes with that label.
   *
   * @default - any: the image runs on every architecture of its nodes
   */
  readonly nodeArchitecture?: string;
}

/**
 * A CPU architecture the collector image can be built for (a CDK Docker image asset builds one
 * platform).
 */
export class CollectorImagePlatform {
  /** x86-64 nodes (`kubernetes.io/arch=amd64`). */
  public static readonly LINUX_AMD64 = new CollectorImagePlatform('linux/amd64', 'amd64');
  /** Graviton and other 64-bit Arm nodes (`kubernetes.io/arch=arm64`). */
  public static readonly LINUX_ARM64 = new CollectorImagePlatform('linux/arm64', 'arm64');

  /** The Docker platform built, e.g. `linux/arm64`. */
  public readonly platform: string;
  /** The `kubernetes.io/arch` label of the nodes it runs on, e.g. `arm64`. */
  public readonly architecture: string;

  private constructor(platform: string, architecture: string) {
    this.platform = platform;
    this.architecture = architecture;
  }
}

/** Options of `CollectorImage.fromAsset()`. */
export interface CollectorAssetImageOptions {
  /**
   * The platform to build the image for. The collector's pod is pinned to nodes of that
   * architecture (`kubernetes.io/arch`): pick the one your cluster has nodes of, or use
   * `CollectorImage.fromBundle()`, whose public Node image runs on both.
   *
   * @default CollectorImagePlatform.LINUX_AMD64
   */
  readonly platform?: CollectorImagePlatform;

  /**
   * The collector bundle to put in the image (the THIRD-PARTY-NOTICES.txt beside it goes in too).
   *
   * @default - this package's dist/collector.js
   */
  readonly bundlePath?: string;
}

/** Options of `CollectorImage.fromBundle()`. */
export interface CollectorBundleImageOptions {
  /**
   * The Node.js image that runs the bundle: Node 20 or later, with `node` on its PATH, for every
   * architecture of your nodes.
   *
   * @default CollectorImage.DEFAULT_NODE_IMAGE
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
   * The Node image the collector runs on: node 24 (LTS) on Alpine, from the ECR Public mirror of
   * Docker Official Images (EKS nodes pull it without Docker Hub limits), pinned by the digest of
   * its multi-arch index (linux/amd64 and linux/arm64), with the tag beside it for people. It is
   * the FROM of runtime/Dockerfile (a test keeps the two equal; that file says how to refresh it)
   * and fromBundle's default.
   */
  public static readonly DEFAULT_NODE_IMAGE =
    'public.ecr.aws/docker/library/node:24.18.0-alpine3.23@sha256:595398b0081eacda8e1c4c5b97b76cd1020e4d58a8ebcb4843b9bca1e79e7436';

  /**
   * Builds the image from runtime/Dockerfile as a CDK Docker image asset: `cdk deploy` builds it
   * (Docker or a compatible builder is needed) and pushes it to the CDK bootstrap ECR repository.
   *
   * A CDK image asset holds one platform, so the image is built for `options.platform` (amd64 by
   * default) and the collector's pod is pinned to nodes of that architecture. The build has no RUN
   * step, so either platform builds on any machine without emulation.
   *
   * The build context is a directory holding only the Dockerfile, collector.js and its
   * THIRD-PARTY-NOTICES.txt, keyed by their content hash, so the asset hash is the same on every
   * machine and nothing else (node_modules, cdk.out) is ever sent to the builder.
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
   * ConfigMaps (binaryData) and a stock Node image unpacks and runs it. The default image is
   * multi-arch, so the pod runs on amd64 and arm64 nodes alike.
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
  private readonly platform: CollectorImagePlatform;

  constructor(private readonly options: CollectorAssetImageOptions) {
    super();
    this.platform = options.platform ?? CollectorImagePlatform.LINUX_AMD64;
    // A caller without types (JavaScript, or a string where the class belongs) gets a clear error. The
    // check is on the value, not instanceof: a platform from a second copy of this package is as good.
    if (this.platform?.platform !== 'linux/amd64' && this.platform?.platform !== 'linux/arm64') {
      throw new Error(
        "CollectorImage.fromAsset(): 'platform' must be CollectorImagePlatform.LINUX_AMD64 or CollectorImagePlatform.LINUX_ARM64, " +
          `got ${JSON.stringify(this.platform)}`,
      );
    }
  }

  public bind(scope: Construct): CollectorImageConfig {
    let asset = this.assets.get(scope);
    if (!asset) {
      asset = new DockerImageAsset(scope, 'CollectorImage', {
        directory: stageImageContext(bundleFile('CollectorImage.fromAsset()', this.options.bundlePath)),
        platform: this.platform.platform === CollectorImagePlatform.LINUX_ARM64.platform ? Platform.LINUX_ARM64 : Platform.LINUX_AMD64,
      });
      this.assets.set(scope, asset);
    }
    return { imageUri: asset.imageUri, nodeArchitecture: this.platform.architecture };
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
    this.nodeImage = options.nodeImage ?? CollectorImage.DEFAULT_NODE_IMAGE;
    if (!Token.isUnresolved(this.nodeImage) && this.nodeImage.trim() === '') {
      throw new Error(`CollectorImage.fromBundle(): 'nodeImage' must be a Node.js image reference such as ${CollectorImage.DEFAULT_NODE_IMAGE}, got ""`);
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

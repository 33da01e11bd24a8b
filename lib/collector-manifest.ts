/**
 * The collector's manifest as plain YAML, for clusters managed outside this CDK app (kubectl apply,
 * GitOps). The writer itself lives in lib/private/manifest-writer.ts.
 */
import * as cdk8s from 'cdk8s';
import { IConstruct } from 'constructs';
import { chartToYaml } from './private/manifest-writer';

/** How a chart becomes YAML. */
export interface CollectorManifestYamlOptions {
  /**
   * Resolve CDK tokens in the manifest against this construct's stack. Only AWS pseudo
   * parameters can be resolved (account, region, URL suffix, partition) and only when the stack
   * has an explicit account and region: that covers the URI of an image asset.
   *
   * @default - tokens are not resolved: any CDK token in the manifest is an error
   */
  readonly resolveTokensIn?: IConstruct;
}

/** Turns the collector's chart into the YAML a cluster managed elsewhere applies. */
export class CollectorManifest {
  /**
   * The chart as multi-document YAML, in the chart's order (ServiceAccount, RBAC, ConfigMaps,
   * Deployment), with sorted keys; the same chart gives the same text. A CDK token left unresolved
   * fails with the place it was found and the way out.
   */
  public static toYaml(chart: cdk8s.Chart, options: CollectorManifestYamlOptions = {}): string {
    return chartToYaml(chart, options);
  }

  private constructor() {}
}

/**
 * The collector's choices as enum-like classes (jsii: every CDK language gets them as constants),
 * each holding the value the collector reads from its environment (common/settings.ts).
 */
import { CniLogLevel, ScrapeMode as ScrapeModeValue } from '../common/settings';

/** How the collector reaches each node's ipamd metrics. */
export class ScrapeMode {
  /**
   * Through the API server's pod proxy, as upstream does: no network path from the collector to
   * the nodes is needed. The collector's Role also gets `get` on `pods/proxy`.
   */
  public static readonly PROXY = new ScrapeMode('proxy');

  /** Straight to each node's IP on the ipamd port: needs a network path from the collector's pod to the nodes. */
  public static readonly DIRECT = new ScrapeMode('direct');

  /** The value of the collector's SCRAPE_MODE setting. */
  public readonly value: string;

  private constructor(value: ScrapeModeValue) {
    this.value = value;
  }
}

/** The collector's log level (AWS_VPC_K8S_CNI_LOGLEVEL, as upstream). */
export class CollectorLogLevel {
  public static readonly DEBUG = new CollectorLogLevel('DEBUG');
  public static readonly INFO = new CollectorLogLevel('INFO');
  public static readonly WARN = new CollectorLogLevel('WARN');
  public static readonly ERROR = new CollectorLogLevel('ERROR');

  /** The value of the collector's AWS_VPC_K8S_CNI_LOGLEVEL setting. */
  public readonly value: string;

  private constructor(value: CniLogLevel) {
    this.value = value;
  }
}

import { ConfigError, loadConfig } from '../../runtime/config';
import { DEFAULTS } from '../../common/settings';

const base = { AWS_CLUSTER_ID: 'prod-eu', AWS_REGION: 'eu-west-1' };

describe('loadConfig', () => {
  test('gives the documented defaults when only the cluster is set', () => {
    const config = loadConfig(base);
    expect(config).toMatchObject({
      clusterId: 'prod-eu',
      useCloudWatch: true,
      usePrometheus: false,
      intervalSeconds: 30,
      logLevel: 'INFO',
      scrapeMode: 'proxy',
      scrapeConcurrency: DEFAULTS.scrapeConcurrency,
      scrapeTimeoutMs: DEFAULTS.scrapeTimeoutMs,
      awsNodeNamespace: 'kube-system',
      awsNodeLabelSelector: 'k8s-app=aws-node',
      cloudWatchNamespace: 'Kubernetes',
      ipamdPort: 61678,
      watchPods: true,
      scrapeWorkers: 0,
    });
    expect(config.region).toBe('eu-west-1');
  });

  test('reads every variable it documents', () => {
    const config = loadConfig({
      ...base,
      AWS_REGION: 'eu-west-1',
      USE_CLOUDWATCH: 'false',
      USE_PROMETHEUS: 'true',
      METRIC_UPDATE_INTERVAL: '1',
      AWS_VPC_K8S_CNI_LOGLEVEL: 'debug',
      SCRAPE_MODE: 'direct',
      SCRAPE_CONCURRENCY: '8',
      SCRAPE_TIMEOUT_MS: '250',
      SCRAPE_WORKERS: '2',
      SCRAPE_MAX_BYTES: '65536',
      IPAMD_METRICS_PORT: '9100',
      AWS_NODE_NAMESPACE: 'cni',
      AWS_NODE_LABEL_SELECTOR: 'app=ipamd',
      POD_LIST_PAGE_SIZE: '50',
      AWS_NODE_WATCH: 'false',
      CLOUDWATCH_NAMESPACE: 'Custom/CNI',
      CLOUDWATCH_BUFFER_MAX_DATUMS: '100',
      PROMETHEUS_PORT: '9999',
      HEALTH_PORT: '0',
      UNREADY_AFTER_PUBLISH_FAILURES: '5',
      SUBNET_IDS: 'subnet-0123456789abcdef0, subnet-89abcdef',
      SUBNET_REFRESH_SECONDS: '60',
      LEADER_ELECTION: 'true',
      POD_NAME: 'cni-metrics-helper-7d9f-abcde',
      POD_NAMESPACE: 'kube-system',
      LEASE_NAME: 'cni-ha',
      LEASE_DURATION_SECONDS: '20',
      LEASE_RENEW_DEADLINE_SECONDS: '12',
      LEASE_RETRY_PERIOD_SECONDS: '3',
    });
    expect(config).toEqual({
      clusterId: 'prod-eu', region: 'eu-west-1', useCloudWatch: false, usePrometheus: true, intervalSeconds: 1,
      logLevel: 'DEBUG', scrapeMode: 'direct', scrapeConcurrency: 8, scrapeTimeoutMs: 250, scrapeWorkers: 2, scrapeMaxBytes: 65536,
      ipamdPort: 9100, awsNodeNamespace: 'cni', awsNodeLabelSelector: 'app=ipamd', listPageSize: 50, watchPods: false,
      cloudWatchNamespace: 'Custom/CNI', bufferMaxDatums: 100, prometheusPort: 9999, healthPort: 0,
      unreadyAfterPublishFailures: 5,
      subnets: { subnetIds: ['subnet-0123456789abcdef0', 'subnet-89abcdef'], refreshSeconds: 60 },
      leaderElection: {
        identity: 'cni-metrics-helper-7d9f-abcde', namespace: 'kube-system', leaseName: 'cni-ha',
        leaseDurationSeconds: 20, renewDeadlineSeconds: 12, retryPeriodSeconds: 3,
      },
    });
  });

  test('subnets and leader election are off unless asked for', () => {
    const config = loadConfig(base);
    expect(config.subnets).toBeUndefined();
    expect(config.leaderElection).toBeUndefined();
  });

  test('the defaults of the subnet and Lease settings are the documented ones', () => {
    const config = loadConfig({ ...base, SUBNET_IDS: 'subnet-89abcdef', LEADER_ELECTION: 'true', POD_NAME: 'p', POD_NAMESPACE: 'ns' });
    expect(config.subnets).toEqual({ subnetIds: ['subnet-89abcdef'], refreshSeconds: DEFAULTS.subnetRefreshSeconds });
    expect(config.leaderElection).toEqual({
      identity: 'p', namespace: 'ns', leaseName: DEFAULTS.leaseName, leaseDurationSeconds: DEFAULTS.leaseDurationSeconds,
      renewDeadlineSeconds: DEFAULTS.leaseRenewDeadlineSeconds, retryPeriodSeconds: DEFAULTS.leaseRetryPeriodSeconds,
    });
  });

  test('SUBNET_IDS needs a region even with CloudWatch off', () => {
    expect(() => loadConfig({ USE_CLOUDWATCH: 'false', SUBNET_IDS: 'subnet-89abcdef' })).toThrow(ConfigError);
    expect(() => loadConfig({ USE_CLOUDWATCH: 'false', SUBNET_IDS: 'subnet-89abcdef' })).toThrow(/SUBNET_IDS is set but AWS_REGION is not/);
    expect(loadConfig({ USE_CLOUDWATCH: 'false', SUBNET_IDS: 'subnet-89abcdef', AWS_REGION: 'eu-west-1' }).subnets?.subnetIds).toEqual(['subnet-89abcdef']);
  });

  test.each([
    ['SUBNET_IDS', 'subnet-XYZ', /SUBNET_IDS: item 1 "subnet-XYZ" is not a subnet id/],
    ['SUBNET_REFRESH_SECONDS', '5', /SUBNET_REFRESH_SECONDS="5" is invalid: use a whole number of whole seconds from 30/],
    ['LEADER_ELECTION', 'sure', /LEADER_ELECTION="sure" is not a boolean/],
    ['LEASE_RENEW_DEADLINE_SECONDS', '20', /must be longer than the renew deadline/],
  ])('%s=%s stops start-up as a configuration error naming the variable', (name, value, message) => {
    const env = { ...base, SUBNET_IDS: 'subnet-89abcdef', LEADER_ELECTION: 'true', POD_NAME: 'p', POD_NAMESPACE: 'ns', [name]: value };
    expect(() => loadConfig(env)).toThrow(ConfigError);
    expect(() => loadConfig(env)).toThrow(message);
  });

  test('LEADER_ELECTION=true without POD_NAME names the variable and the downward API fix', () => {
    expect(() => loadConfig({ ...base, LEADER_ELECTION: 'true', POD_NAMESPACE: 'ns' })).toThrow(/POD_NAME is not set: .*downward API/);
  });

  test.each([
    ['UNREADY_AFTER_PUBLISH_FAILURES', '0', /UNREADY_AFTER_PUBLISH_FAILURES="0" is invalid: use a whole number of consecutive cycles from 1 to 10000/],
    ['METRIC_UPDATE_INTERVAL', '0', /METRIC_UPDATE_INTERVAL="0" is invalid: use a whole number of whole seconds from 1/],
    ['METRIC_UPDATE_INTERVAL', 'abc', /METRIC_UPDATE_INTERVAL="abc" is invalid/],
    ['METRIC_UPDATE_INTERVAL', '1.5', /METRIC_UPDATE_INTERVAL="1.5" is invalid/],
    ['METRIC_UPDATE_INTERVAL', '-3', /METRIC_UPDATE_INTERVAL="-3" is invalid/],
    ['SCRAPE_MODE', 'sideways', /SCRAPE_MODE="sideways" is invalid: use one of proxy, direct/],
    ['USE_CLOUDWATCH', 'maybe', /USE_CLOUDWATCH="maybe" is not a boolean/],
    ['AWS_VPC_K8S_CNI_LOGLEVEL', 'LOUD', /AWS_VPC_K8S_CNI_LOGLEVEL="LOUD" is invalid: use one of DEBUG, INFO, WARN, ERROR/],
    ['SCRAPE_CONCURRENCY', '0', /SCRAPE_CONCURRENCY="0" is invalid/],
    ['IPAMD_METRICS_PORT', '70000', /IPAMD_METRICS_PORT="70000" is invalid/],
  ])('%s=%s stops start-up with a line naming the variable', (name, value, message) => {
    expect(() => loadConfig({ ...base, [name]: value })).toThrow(ConfigError);
    expect(() => loadConfig({ ...base, [name]: value })).toThrow(message);
  });

  test('a missing cluster id is an error only while CloudWatch is on', () => {
    expect(() => loadConfig({})).toThrow(/AWS_CLUSTER_ID is not set/);
    expect(loadConfig({ USE_CLOUDWATCH: 'false' }).clusterId).toBe('');
  });

  test('a missing region is an error only while CloudWatch is on, and AWS_DEFAULT_REGION counts', () => {
    expect(() => loadConfig({ AWS_CLUSTER_ID: 'c' })).toThrow(/AWS_REGION is not set/);
    expect(loadConfig({ AWS_CLUSTER_ID: 'c', AWS_DEFAULT_REGION: 'us-east-2' }).region).toBe('us-east-2');
    expect(loadConfig({ USE_CLOUDWATCH: 'false' }).region).toBeUndefined();
  });

  test('a CloudWatch namespace outside CloudWatch\'s rule stops start-up naming the variable and the rule', () => {
    expect(() => loadConfig({ ...base, CLOUDWATCH_NAMESPACE: 'AWS/EKS' })).toThrow(/CLOUDWATCH_NAMESPACE="AWS\/EKS" is invalid: .*reserves for AWS services/);
    expect(() => loadConfig({ ...base, CLOUDWATCH_NAMESPACE: 'x'.repeat(256) })).toThrow(/must be 1 to 255 characters long, got 256/);
    expect(loadConfig({ ...base, CLOUDWATCH_NAMESPACE: 'Team/CNI' }).cloudWatchNamespace).toBe('Team/CNI');
  });

  test('blank values fall back to defaults', () => {
    expect(loadConfig({ ...base, METRIC_UPDATE_INTERVAL: '  ', SCRAPE_MODE: '' }).intervalSeconds).toBe(30);
  });
});

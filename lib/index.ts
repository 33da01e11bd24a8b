// The package's public API, named one by one: what is not here (lib/private/, constants, helpers)
// may change in any release. Every name here is jsii-compatible, for every CDK language.
export {
  CniMetricsHelper,
  type CniMetricsHelperProps,
  type CollectorOptions,
  type CniMetricsHelperAlarmsOptions,
  type CniMetricsHelperDashboardOptions,
  type CniMetricsHelperSubnetMetricsOptions,
} from './cni-metrics-helper';
export { CniMetricsPolicy, type CniMetricsPolicyProps, type IRoleAttachable } from './cni-metrics-policy';
export { NodeRoles, type NodeRoleSources } from './node-roles';
export { AwsAuthMapRoles, type AwsAuthRoleMapping } from './aws-auth';
export {
  CollectorIdentity,
  CollectorIdentityType,
  type CollectorIdentityBindOptions,
  type CollectorIdentityBinding,
  type PodIdentityOptions,
} from './collector-identity';
export { CniMetricsDashboard, type CniMetricsDashboardProps } from './cni-metrics-dashboard';
export {
  CniMetricsAlarms,
  type CniMetricsAlarmsProps,
  type CniMetricsAlarmsOptions,
  type IpUtilizationAlarmOptions,
  type IpamdErrorsAlarmOptions,
  type CollectorSilentAlarmOptions,
  type MinSubnetAvailableIpsAlarmOptions,
  type MaxNodeIpUtilizationAlarmOptions,
} from './cni-metrics-alarms';
export { CniMetricFactory, type CniMetricFactoryProps, type CniMetricOptions } from './metric-factory';
export { CollectorChart, type CollectorChartOptions, type CollectorChartProps, type CollectorLeaderElectionOptions } from './collector-chart';
export { ScrapeMode, CollectorLogLevel } from './collector-settings';
export { CollectorManifest, type CollectorManifestYamlOptions } from './collector-manifest';
export {
  CollectorImage,
  CollectorImagePlatform,
  type CollectorImageConfig,
  type CollectorAssetImageOptions,
  type CollectorBundleImageOptions,
} from './collector-image';
export { type CollectorBundleMount, type CollectorBundlePart } from './collector-bundle';

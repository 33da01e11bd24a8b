// The package entry: the construct users compose, and the parts they may want alone.
export * from './cni-metrics-helper';
export * from './cni-metrics-policy';
export * from './node-roles';
export * from './aws-auth';
export * from './collector-identity';
export * from './cni-metrics-dashboard';
export * from './cni-metrics-alarms';
export * from './metric-factory';
export * from './collector-chart';
export * from './collector-image';
export { chartToYaml, writeManifestOnSynth } from './manifest-yaml';
export type { ChartToYamlOptions } from './manifest-yaml';
export { CATALOG, DEFAULT_NAMESPACE, CLUSTER_DIMENSION } from '../common/catalog';
export type { CatalogMetric } from '../common/catalog';

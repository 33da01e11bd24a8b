import * as fs from 'node:fs';
import * as path from 'node:path';
import {
  CATALOG, IPAMD_FAMILIES, PROCESS_START_FAMILY, SCRAPED_FAMILIES, catalogMetric, type Aggregation, type CloudWatchStatistic,
} from '../../common/catalog';
import { parseExposition } from '../../runtime/parse';

const UPSTREAM_NAMES = [
  'assignIPAddresses', 'totalIPAddresses', 'totalIPv4Prefixes', 'totalAssignedIPv4sPerCidr', 'eniAllocated',
  'eniMaxAvailable', 'maxIPAddresses', 'ipamdActionInProgress', 'awsAPIErr', 'awsUtilErr', 'ipamdErr',
  'forceRemoveENI', 'forceRemoveIPs', 'reconcileCount', 'addReqCount', 'delReqCount', 'podENIErr',
  'ec2ApiReqCount', 'ec2ApiErrCount', 'awsAPILatency',
];

describe('catalog', () => {
  test('holds every upstream CloudWatch name, marked upstream', () => {
    const upstream = CATALOG.filter((m) => m.upstream).map((m) => m.metricName).sort();
    expect(upstream).toEqual([...UPSTREAM_NAMES].sort());
  });

  test('metric names are unique', () => {
    const names = CATALOG.map((m) => m.metricName);
    expect(new Set(names).size).toBe(names.length);
  });

  test('every ipamd metric names an awscni_ family and health and EC2 metrics name none', () => {
    for (const m of CATALOG) {
      if (m.aggregation === 'health' || m.aggregation === 'ec2Subnet') expect(m.family).toBeUndefined();
      else expect(m.family).toMatch(/^awscni_[a-z0-9_]+$/);
    }
  });

  test('scraped families cover the catalog families', () => {
    for (const m of CATALOG) if (m.family) expect(SCRAPED_FAMILIES.has(m.family)).toBe(true);
  });

  test('an unknown name fails with the list of known names', () => {
    expect(() => catalogMetric('assignedIPs' as string)).toThrow(/Unknown catalog metric 'assignedIPs'; known: .*assignIPAddresses/);
  });

  test('a literal name that is not in the catalog does not compile', () => {
    // `npm test` type-checks this file: the directive fails the build if the typo ever compiles.
    // @ts-expect-error 'addReqCont' is not a CatalogMetricName
    expect(() => catalogMetric('addReqCont')).toThrow(/Unknown catalog metric 'addReqCont'/);
  });

  test('scraped families are the ipamd families plus the process start, which alone is no ipamd payload', () => {
    expect(SCRAPED_FAMILIES).toEqual(new Set([...IPAMD_FAMILIES, PROCESS_START_FAMILY]));
    expect(IPAMD_FAMILIES.has(PROCESS_START_FAMILY)).toBe(false);
    expect(IPAMD_FAMILIES.has('awscni_assigned_ip_addresses')).toBe(true);
  });
});

describe('catalog couplings are fields', () => {
  const STATISTIC_OF: Record<Exclude<Aggregation, 'health'>, CloudWatchStatistic> = {
    gaugeSum: 'Average', latencyMean: 'Average', counterDelta: 'Sum', minAvailableIps: 'Minimum',
    latencyMaxP99: 'Maximum', distinctCount: 'Maximum',
    // The fullest node of the period, the most nodes full at once, the least headroom left.
    maxNodeUtilization: 'Maximum', nodesAtCapacity: 'Maximum', minNodeHeadroom: 'Minimum',
    // Subnet figures are free-IP minimums; their refresh errors a count (checked below by name).
    ec2Subnet: 'Minimum',
  };

  test('each ipamd metric is read with the statistic its aggregation calls for', () => {
    for (const m of CATALOG) {
      if (m.metricName === 'subnetRefreshErrors') expect(m.statistic).toBe('Sum');
      else if (m.aggregation !== 'health') expect([m.metricName, m.statistic]).toEqual([m.metricName, STATISTIC_OF[m.aggregation]]);
    }
  });

  test('drop counts add up (Sum); node counts read as the typical cycle, failures and durations as the worst', () => {
    const health = Object.fromEntries(CATALOG.filter((m) => m.aggregation === 'health').map((m) => [m.metricName, m.statistic]));
    expect(health).toEqual({
      collectorNodesDiscovered: 'Average', collectorNodesScraped: 'Average', collectorNodesFailed: 'Maximum',
      collectorCycleDuration: 'Maximum', collectorDatumsDropped: 'Sum', collectorSeriesDropped: 'Sum', collectorNonFiniteDropped: 'Sum',
    });
  });

  test('the Prometheus names kept from upstream are the six gauges its helper re-exports, under their family names', () => {
    const kept = CATALOG.filter((m) => m.prometheusName !== undefined);
    expect(kept.map((m) => m.prometheusName).sort()).toEqual([
      'awscni_assigned_ip_addresses', 'awscni_eni_allocated', 'awscni_eni_max', 'awscni_ip_max',
      'awscni_total_ip_addresses', 'awscni_total_ipv4_prefixes',
    ]);
    for (const m of kept) expect([m.metricName, m.prometheusName, m.aggregation]).toEqual([m.metricName, m.family, 'gaugeSum']);
  });

  test('aggregation parameters sit only on the aggregations that read them', () => {
    for (const m of CATALOG) {
      expect([m.metricName, m.subtractsFamily !== undefined]).toEqual([m.metricName, m.aggregation === 'minAvailableIps']);
      expect([m.metricName, m.distinctLabel !== undefined]).toEqual([m.metricName, m.aggregation === 'distinctCount']);
      const worstNode = ['maxNodeUtilization', 'nodesAtCapacity', 'minNodeHeadroom'].includes(m.aggregation);
      expect([m.metricName, m.capacityFamily !== undefined]).toEqual([m.metricName, worstNode]);
      expect([m.metricName, m.extraDimensions !== undefined]).toEqual([m.metricName, m.metricName === 'subnetAvailableIPs']);
      if (m.seriesMatch) expect(m.aggregation).toBe('counterDelta');
    }
    expect(catalogMetric('minAvailableIPsPerNode').subtractsFamily).toBe(catalogMetric('assignIPAddresses').family);
    // The worst-node figures read assigned IPs against each node's maximum IPs.
    for (const name of ['maxNodeIPUtilization', 'nodesAtIPCapacity', 'minFreeIPCapacityPerNode'] as const) {
      expect([name, catalogMetric(name).family, catalogMetric(name).capacityFamily])
        .toEqual([name, catalogMetric('assignIPAddresses').family, catalogMetric('maxIPAddresses').family]);
    }
  });

  test('the connmark and build-info families and labels are the ones a current ipamd serves', () => {
    // GIVEN a v1.20+ ipamd payload (test/fixtures/ipamd/node-a.prom)
    const text = fs.readFileSync(path.resolve(__dirname, '..', 'fixtures', 'ipamd', 'node-a.prom'), 'utf8');
    const parsed = parseExposition(text, SCRAPED_FAMILIES);
    const connmark = catalogMetric('connmarkReconcileErr');
    const versions = catalogMetric('cniVersionCount');
    // THEN the error series the metric matches and the label it counts are there
    const [[label, value]] = Object.entries(connmark.seriesMatch ?? {});
    expect(parsed.get(connmark.family as string)?.samples.some((s) => s.labels[label] === value)).toBe(true);
    expect(parsed.get(versions.family as string)?.samples[0].labels[versions.distinctLabel as string]).toBe('v1.20.1');
    expect(parsed.get(PROCESS_START_FAMILY)?.samples[0].value).toBe(1.76408922081e9);
  });
});

import { CATALOG, catalogMetric, SCRAPED_FAMILIES } from '../../common/catalog';

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

  test('every ipamd metric names an awscni_ family and health metrics name none', () => {
    for (const m of CATALOG) {
      if (m.aggregation === 'health') expect(m.family).toBeUndefined();
      else expect(m.family).toMatch(/^awscni_[a-z0-9_]+$/);
    }
  });

  test('scraped families cover the catalog families', () => {
    for (const m of CATALOG) if (m.family) expect(SCRAPED_FAMILIES.has(m.family)).toBe(true);
  });

  test('an unknown name fails with the list of known names', () => {
    expect(() => catalogMetric('assignedIPs' as string)).toThrow(/Unknown catalog metric 'assignedIPs'; known: .*assignIPAddresses/);
  });
});

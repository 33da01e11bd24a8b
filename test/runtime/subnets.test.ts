import { createLogger, type Logger } from '../../runtime/log';
import { ENV } from '../../common/settings';
import { ConfigError } from '../../runtime/env-reader';
import { loadSubnetSettings, parseSubnetIds } from '../../runtime/subnet-settings';
import { MAX_FILTER_VALUES, SUBNET_METRICS, SubnetWatcher, type DimensionedDatum, type SubnetWatcherOptions } from '../../runtime/subnets';
import { createTestEc2Client, startEc2Server, type Ec2Server, type LoopbackSubnet } from '../support/ec2-server';
import { isolateFromAwsEnvironment } from '../support/isolated-aws-env';

// No test may read ~/.aws or reach AWS.
isolateFromAwsEnvironment('AWS_ENDPOINT_URL_EC2');

/** The 17-hex-digit id of subnet number `n`. */
const subnetId = (n: number): string => `subnet-${n.toString(16).padStart(17, '0')}`;
const T = new Date('2026-11-29T12:00:00.000Z');

describe('SUBNET_IDS and SUBNET_REFRESH_SECONDS', () => {
  test('unset or blank SUBNET_IDS turns subnet metrics off', () => {
    expect(loadSubnetSettings({})).toBeUndefined();
    expect(loadSubnetSettings({ [ENV.subnetIds]: '  ' })).toBeUndefined();
  });

  test('ids of 8 and 17 hex digits are read in order, trimmed, each once; the refresh defaults to 300 s', () => {
    const settings = loadSubnetSettings({ SUBNET_IDS: ' subnet-0123abcd, subnet-0123456789abcdef0 ,subnet-0123abcd' });
    expect(settings).toEqual({ subnetIds: ['subnet-0123abcd', 'subnet-0123456789abcdef0'], refreshSeconds: 300 });
    expect(loadSubnetSettings({ SUBNET_IDS: 'subnet-0123abcd', SUBNET_REFRESH_SECONDS: '60' })?.refreshSeconds).toBe(60);
  });

  test.each([
    ['subnet-0123abc', /SUBNET_IDS: item 1 "subnet-0123abc" is not a subnet id: use subnet- followed by 8 or 17/],
    ['subnet-0123abcd,sg-0123abcd', /item 2 "sg-0123abcd" is not a subnet id/],
    ['subnet-0123ABCD', /is not a subnet id \(EC2 ids are lowercase\)/],
    ['subnet-0123456789abcdef', /item 1 .* is not a subnet id/],
    ['subnet-0123abcd,,subnet-0123abce', /SUBNET_IDS=.* has an empty item at position 2/],
    ['subnet-0123abcd,', /has an empty item at position 2/],
  ])('SUBNET_IDS=%j is refused with a message naming the variable and the fix', (raw, message) => {
    expect(() => loadSubnetSettings({ SUBNET_IDS: raw })).toThrow(ConfigError);
    expect(() => loadSubnetSettings({ SUBNET_IDS: raw })).toThrow(message);
  });

  test('more than 1000 subnets are refused', () => {
    const ids = Array.from({ length: 1001 }, (_, i) => subnetId(i + 1)).join(',');
    expect(() => parseSubnetIds(ids)).toThrow(/SUBNET_IDS lists 1001 subnets; at most 1000/);
  });

  test.each(['abc', '29', '86401', '1.5', '-60'])('SUBNET_REFRESH_SECONDS=%j is refused with the allowed range', (raw) => {
    expect(() => loadSubnetSettings({ SUBNET_IDS: 'subnet-0123abcd', SUBNET_REFRESH_SECONDS: raw }))
      .toThrow(/SUBNET_REFRESH_SECONDS=.* is invalid: use a whole number of whole seconds from 30 to 86400/);
  });
});

/** Log lines as parsed objects. */
function captureLogger(): { logger: Logger; lines: Record<string, unknown>[] } {
  const lines: Record<string, unknown>[] = [];
  return { logger: createLogger('debug', (l) => lines.push(JSON.parse(l) as Record<string, unknown>)), lines };
}

const valuesOf = (datums: readonly DimensionedDatum[], metricName: string): DimensionedDatum[] =>
  datums.filter((d) => d.metricName === metricName);

describe('SubnetWatcher against a loopback EC2 endpoint', () => {
  let server: Ec2Server | undefined;
  const watchers: SubnetWatcher[] = [];
  afterEach(async () => {
    await Promise.all(watchers.splice(0).map((w) => w.stop()));
    await server?.close();
    server = undefined;
  });

  async function setUp(
    subnets: readonly LoopbackSubnet[],
    watched: readonly string[],
    options: Partial<SubnetWatcherOptions> = {},
    serverOptions: { pageSize?: number } = {},
    clientAttempts = 1,
  ): Promise<{ ec2: Ec2Server; watcher: SubnetWatcher }> {
    const ec2 = await startEc2Server({ subnets, ...serverOptions });
    server = ec2;
    const watcher = new SubnetWatcher({
      subnetIds: watched,
      refreshMs: 300_000,
      client: createTestEc2Client(ec2.endpoint, { maxAttempts: clientAttempts }),
      ...options,
    });
    watchers.push(watcher);
    return { ec2, watcher };
  }

  test('publishes each subnet\'s available IPs with its SubnetId and AvailabilityZone, and the fewest of them', async () => {
    // GIVEN three subnets in three zones
    const subnets = [
      { subnetId: 'subnet-0aaaaaaaaaaaaaaa1', availabilityZone: 'eu-west-1a', availableIps: 8000 },
      { subnetId: 'subnet-0bbbbbbbbbbbbbbb2', availabilityZone: 'eu-west-1b', availableIps: 173 },
      { subnetId: 'subnet-0ccccccc', availabilityZone: 'eu-west-1c', availableIps: 4091 },
    ];
    const { ec2, watcher } = await setUp(subnets, subnets.map((s) => s.subnetId));

    // WHEN it reads them
    expect(await watcher.start()).toBe(true);
    const datums = watcher.datums(T);

    // THEN one datum per subnet, with its dimensions, and the minimum over them: 173
    expect(valuesOf(datums, SUBNET_METRICS.availableIps)).toEqual(subnets.map((s) => ({
      metricName: 'subnetAvailableIPs', unit: 'Count', value: s.availableIps, timestamp: T,
      dimensions: { SubnetId: s.subnetId, AvailabilityZone: s.availabilityZone },
    })));
    expect(valuesOf(datums, SUBNET_METRICS.minAvailableIps)).toEqual([
      { metricName: 'minSubnetAvailableIPs', unit: 'Count', value: 173, timestamp: T },
    ]);
    expect(datums).toHaveLength(4);
    // AND the request is the SDK's real query request, signed for ec2 in the client's region
    expect(ec2.requests).toHaveLength(1);
    const [request] = ec2.requests;
    expect(request).toMatchObject({
      action: 'DescribeSubnets', version: '2016-11-15', maxResults: 1000, subnetIds: [],
      signedFor: { accessKeyId: 'AKIDLOOPBACKEC2', region: 'eu-west-1', service: 'ec2' },
    });
    expect([...request.filters]).toEqual([['subnet-id', subnets.map((s) => s.subnetId)]]);
  });

  test('450 subnets go in filters of at most 200 ids, and every page of a paged answer is read', async () => {
    // GIVEN 450 subnets, one of them nearly full, and an endpoint that pages by 70
    const subnets = Array.from({ length: 450 }, (_, i) => ({
      subnetId: subnetId(i + 1), availabilityZone: `eu-west-1${'abc'[i % 3]}`, availableIps: i === 321 ? 7 : 1000 + i,
    }));
    const { ec2, watcher } = await setUp(subnets, subnets.map((s) => s.subnetId), {}, { pageSize: 70 });

    // WHEN it reads them
    expect(await watcher.refresh()).toBe(true);
    const datums = watcher.datums(T);

    // THEN chunks of 200, 200 and 50 ids, paged in 3 + 3 + 1 requests
    const filterSizes = ec2.requests.map((r) => r.filters.get('subnet-id')?.length);
    expect(filterSizes).toEqual([200, 200, 200, 200, 200, 200, 50]);
    expect(Math.max(...(filterSizes as number[]))).toBeLessThanOrEqual(MAX_FILTER_VALUES);
    expect(ec2.requests.map((r) => r.nextToken === undefined)).toEqual([true, false, false, true, false, false, true]);
    // AND all 450 figures arrive, each its own, and the minimum is the nearly full one
    const perSubnet = valuesOf(datums, SUBNET_METRICS.availableIps);
    expect(perSubnet).toHaveLength(450);
    expect(perSubnet[321]).toMatchObject({ value: 7, dimensions: { SubnetId: subnetId(322), AvailabilityZone: 'eu-west-1a' } });
    expect(perSubnet[449]).toMatchObject({ value: 1449, dimensions: { SubnetId: subnetId(450) } });
    expect(valuesOf(datums, SUBNET_METRICS.minAvailableIps)[0].value).toBe(7);
  });

  test('a watched subnet EC2 does not know is left out, logged once, and the others are still published', async () => {
    const present = { subnetId: subnetId(1), availabilityZone: 'eu-west-1a', availableIps: 250 };
    const { logger, lines } = captureLogger();
    const { watcher } = await setUp([present], [subnetId(1), subnetId(2)], { logger });

    expect(await watcher.refresh()).toBe(true);
    expect(await watcher.refresh()).toBe(true);

    expect(watcher.snapshot?.missing).toEqual([subnetId(2)]);
    const datums = watcher.datums(T);
    expect(datums.map((d) => [d.metricName, d.value])).toEqual([['subnetAvailableIPs', 250], ['minSubnetAvailableIPs', 250]]);
    expect(lines.filter((l) => String(l.msg).startsWith('watched subnets not found'))).toEqual([
      expect.objectContaining({ level: 'warn', missing: [subnetId(2)] }),
    ]);
  });

  test('after failed refreshes the last figures are kept for two refresh periods, then withheld, and the failures are counted', async () => {
    // GIVEN a clock the test moves, and a first good read at t = 0
    let now = 0;
    const { logger, lines } = captureLogger();
    const subnet = { subnetId: subnetId(1), availabilityZone: 'eu-west-1a', availableIps: 500 };
    const { ec2, watcher } = await setUp([subnet], [subnetId(1)], { logger, now: () => now, refreshMs: 300_000 });
    expect(await watcher.refresh()).toBe(true);

    // WHEN the subnet fills up but EC2 refuses the next refreshes
    ec2.setSubnet({ ...subnet, availableIps: 12 });
    ec2.injectFaults('unauthorized', 'unauthorized');
    now = 300_000;
    expect(await watcher.refresh()).toBe(false);

    // THEN the cycle still gets the figures read at t = 0 (500, never a guess), and one failure
    expect(watcher.datums(T).map((d) => [d.metricName, d.value])).toEqual([
      ['subnetRefreshErrors', 1], ['subnetAvailableIPs', 500], ['minSubnetAvailableIPs', 500],
    ]);
    now = 600_000;
    expect(await watcher.refresh()).toBe(false);
    // at exactly two periods they are still published; the failure count is since the previous cycle
    expect(watcher.datums(T).map((d) => [d.metricName, d.value])).toEqual([
      ['subnetRefreshErrors', 1], ['subnetAvailableIPs', 500], ['minSubnetAvailableIPs', 500],
    ]);
    // one millisecond later they are withheld, cycle after cycle, with one error line
    now = 600_001;
    expect(watcher.datums(T)).toEqual([]);
    now = 630_000;
    expect(watcher.datums(T)).toEqual([]);
    expect(watcher.withheldCycles).toBe(2);
    expect(watcher.refreshFailures).toBe(2);
    expect(lines.filter((l) => l.level === 'error').map((l) => l.msg)).toEqual([
      'subnet figures withheld: the last DescribeSubnets answer is older than two refresh periods',
    ]);
    // AND the failure log says what to grant
    expect(lines.filter((l) => l.level === 'warn')[0]).toMatchObject({
      error: { name: 'UnauthorizedOperation', httpStatus: 403, hint: 'the collector\'s IAM identity needs ec2:DescribeSubnets' },
    });

    // WHEN EC2 answers again, the new figure is published
    now = 640_000;
    expect(await watcher.refresh()).toBe(true);
    expect(watcher.datums(T).map((d) => [d.metricName, d.value])).toEqual([['subnetAvailableIPs', 12], ['minSubnetAvailableIPs', 12]]);
  });

  test('an answer without an available IP count fails the refresh and leaves the last figures in place', async () => {
    const subnets = [
      { subnetId: subnetId(1), availabilityZone: 'eu-west-1a', availableIps: 40 },
      { subnetId: subnetId(2), availabilityZone: 'eu-west-1b', availableIps: 90 },
    ];
    const { ec2, watcher } = await setUp(subnets, [subnetId(1), subnetId(2)]);
    expect(await watcher.refresh()).toBe(true);
    ec2.setSubnet({ ...subnets[1], availableIps: 3 });
    ec2.injectFaults('malformed');

    expect(await watcher.refresh()).toBe(false);

    expect(watcher.datums(T).map((d) => [d.metricName, d.value])).toEqual([
      ['subnetRefreshErrors', 1], ['subnetAvailableIPs', 40], ['subnetAvailableIPs', 90], ['minSubnetAvailableIPs', 40],
    ]);
  });

  test('throttling is retried by the SDK within the bounded attempts', async () => {
    const { ec2, watcher } = await setUp(
      [{ subnetId: subnetId(1), availabilityZone: 'eu-west-1a', availableIps: 61 }], [subnetId(1)], {}, {}, 3,
    );
    ec2.injectFaults('throttle', 'internalError');

    expect(await watcher.refresh()).toBe(true);

    expect(ec2.requests.map((r) => r.errorCode ?? 'ok')).toEqual(['RequestLimitExceeded', 'InternalError', 'ok']);
    expect(watcher.datums(T).map((d) => d.value)).toEqual([61, 61]);
  });

  test('three failures in a row exhaust the three attempts, and the refresh fails', async () => {
    const { ec2, watcher } = await setUp(
      [{ subnetId: subnetId(1), availabilityZone: 'eu-west-1a', availableIps: 61 }], [subnetId(1)], {}, {}, 3,
    );
    ec2.injectFaults('internalError', 'internalError', 'internalError', 'internalError');

    expect(await watcher.refresh()).toBe(false);

    expect(ec2.requests).toHaveLength(3);
    expect(watcher.snapshot).toBeUndefined();
    expect(watcher.datums(T).map((d) => [d.metricName, d.value])).toEqual([['subnetRefreshErrors', 1]]);
  });

  test('a call that gets no answer ends at its deadline, and stop() ends one at once', async () => {
    const { ec2, watcher } = await setUp(
      [{ subnetId: subnetId(1), availabilityZone: 'eu-west-1a', availableIps: 61 }], [subnetId(1)], { callTimeoutMs: 400 },
    );
    ec2.injectFaults('hang');
    let started = Date.now();
    expect(await watcher.refresh()).toBe(false);
    const deadlineMs = Date.now() - started;
    expect(deadlineMs).toBeGreaterThanOrEqual(390);
    expect(deadlineMs).toBeLessThan(2_000);

    ec2.injectFaults('hang');
    const pending = watcher.refresh();
    await new Promise((r) => setTimeout(r, 100));
    started = Date.now();
    await watcher.stop();
    expect(await pending).toBe(false);
    expect(Date.now() - started).toBeLessThan(500);
    // the stop is not a DescribeSubnets failure
    expect(watcher.refreshFailures).toBe(1);
  });

  test('start() reads at once and then every refresh period until stop()', async () => {
    const { ec2, watcher } = await setUp(
      [{ subnetId: subnetId(1), availabilityZone: 'eu-west-1a', availableIps: 61 }], [subnetId(1)], { refreshMs: 150 },
    );
    expect(await watcher.start()).toBe(true);
    expect(ec2.requests).toHaveLength(1);
    await new Promise((r) => setTimeout(r, 520));
    await watcher.stop();
    const seen = ec2.requests.length;
    // reads at about 0, 150, 300 and 450 ms (later under load, never more)
    expect(seen).toBeGreaterThanOrEqual(3);
    expect(seen).toBeLessThanOrEqual(4);
    await new Promise((r) => setTimeout(r, 300));
    expect(ec2.requests).toHaveLength(seen);
  });

  test('AWS_ENDPOINT_URL_EC2 aims the watcher\'s own client at the endpoint', async () => {
    const ec2 = await startEc2Server({ subnets: [{ subnetId: subnetId(9), availabilityZone: 'eu-west-1b', availableIps: 33 }] });
    server = ec2;
    process.env.AWS_ENDPOINT_URL_EC2 = ec2.endpoint;
    process.env.AWS_ACCESS_KEY_ID = 'AKIDFROMENV';
    process.env.AWS_SECRET_ACCESS_KEY = 'secret-from-env';
    try {
      const watcher = new SubnetWatcher({ subnetIds: [subnetId(9)], refreshMs: 300_000, region: 'ap-southeast-2', maxAttempts: 1 });
      watchers.push(watcher);
      expect(await watcher.refresh()).toBe(true);
      expect(watcher.datums(T).map((d) => d.value)).toEqual([33, 33]);
      expect(ec2.requests[0].signedFor).toEqual({ accessKeyId: 'AKIDFROMENV', region: 'ap-southeast-2', service: 'ec2' });
    } finally {
      delete process.env.AWS_ENDPOINT_URL_EC2;
      delete process.env.AWS_ACCESS_KEY_ID;
      delete process.env.AWS_SECRET_ACCESS_KEY;
    }
  });
});

describe('the loopback EC2 endpoint', () => {
  test('refuses unsigned requests, filters over 200 values and unknown ids in SubnetId.N as EC2 does', async () => {
    const ec2 = await startEc2Server({ subnets: [{ subnetId: subnetId(1), availabilityZone: 'eu-west-1a', availableIps: 5 }] });
    try {
      const unsigned = await fetch(ec2.endpoint, {
        method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded' }, body: 'Action=DescribeSubnets&Version=2016-11-15',
      });
      expect(unsigned.status).toBe(401);
      expect(await unsigned.text()).toMatch(/<Code>AuthFailure<\/Code>/);

      const client = createTestEc2Client(ec2.endpoint);
      const { DescribeSubnetsCommand } = await import('@aws-sdk/client-ec2');
      await expect(client.send(new DescribeSubnetsCommand({ Filters: [{ Name: 'subnet-id', Values: Array.from({ length: 201 }, (_, i) => subnetId(i)) }] })))
        .rejects.toMatchObject({ name: 'FilterLimitExceeded' });
      await expect(client.send(new DescribeSubnetsCommand({ SubnetIds: [subnetId(1), subnetId(2)] })))
        .rejects.toMatchObject({ name: 'InvalidSubnetID.NotFound', $metadata: { httpStatusCode: 400 } });
      const answer = await client.send(new DescribeSubnetsCommand({ SubnetIds: [subnetId(1)] }));
      expect(answer.Subnets?.map((s) => [s.SubnetId, s.AvailableIpAddressCount, s.AvailabilityZone, s.State])).toEqual([
        [subnetId(1), 5, 'eu-west-1a', 'available'],
      ]);
      client.destroy();
    } finally {
      await ec2.close();
    }
  });
});

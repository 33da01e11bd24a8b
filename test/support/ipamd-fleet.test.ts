/**
 * Slices of an ipamd fleet: endpoints firstIndex..firstIndex+count-1 of a slice have the addresses
 * and names the same indexes have in one whole fleet, so fleets in several processes add up to it.
 */
import * as http from 'node:http';
import { fleetEndpoints, loopbackAddresses, startIpamdFleet, type IpamdFleet } from './ipamd-fleet';

/** The address rule written out the slow way: count up through 127/8, skipping .0 and .255. */
function addressesByCounting(count: number): string[] {
  const hosts: string[] = [];
  for (let n = 2; hosts.length < count; n++) {
    const last = n & 0xff;
    if (last === 0 || last === 255) continue;
    hosts.push(`127.${(n >> 16) & 0xff}.${(n >> 8) & 0xff}.${last}`);
  }
  return hosts;
}

describe('loopbackAddresses', () => {
  test('hand-checked indexes: the first /24 holds .2 to .254, then .1 to .254 per /24', () => {
    expect(loopbackAddresses(1)).toEqual(['127.0.0.2']);
    // Index 252 is the last of 127.0.0.x (.2 to .254: 253 addresses), 253 the first of 127.0.1.x.
    expect(loopbackAddresses(3, 251)).toEqual(['127.0.0.253', '127.0.0.254', '127.0.1.1']);
    // 99,999 - 253 = 99,746 = 392 x 254 + 178: the 179th address (.179) of the 393rd /24 after
    // 127.0.0.x, and 393 = 1 x 256 + 137.
    expect(loopbackAddresses(1, 99_999)).toEqual(['127.1.137.179']);
  });

  test('a slice equals the same indexes of the whole list, across /24 boundaries', () => {
    const whole = addressesByCounting(2_000);
    expect(loopbackAddresses(2_000)).toEqual(whole);
    expect(loopbackAddresses(700, 1_000)).toEqual(whole.slice(1_000, 1_700));
  });

  test('refuses an index past 127.255.255.254', () => {
    // 127/8 has 65,536 /24s of 254 usable addresses, less 127.0.0.1: 16,646,143 endpoints.
    expect(loopbackAddresses(1, 16_646_142)).toEqual(['127.255.255.254']);
    expect(() => loopbackAddresses(1, 16_646_143)).toThrow(/no room for endpoint 16646143/);
  });
});

describe('fleetEndpoints', () => {
  test('slices of 100,000 put together are the whole fleet', () => {
    const whole = fleetEndpoints({ count: 100_000, port: 61678 });
    const sliceSize = 16_667;
    const joined = [];
    for (let first = 0; first < 100_000; first += sliceSize) {
      joined.push(...fleetEndpoints({ count: Math.min(sliceSize, 100_000 - first), firstIndex: first, fleetSize: 100_000, port: 61678 }));
    }
    expect(joined).toEqual(whole);
  });

  test('hand-checked names and addresses: padded to the width of the whole fleet', () => {
    const slice = fleetEndpoints({ count: 10, firstIndex: 99_990, fleetSize: 100_000, port: 61678 });
    expect(slice[9]).toEqual({ index: 99_999, host: '127.1.137.179', port: 61678, nodeName: 'node-99999', podName: 'aws-node-99999' });
    const head = fleetEndpoints({ count: 1, firstIndex: 253, fleetSize: 100_000, port: 61678 });
    expect(head).toEqual([{ index: 253, host: '127.0.1.1', port: 61678, nodeName: 'node-00253', podName: 'aws-node-00253' }]);
    // Without fleetSize the slice is taken to end the fleet: 254 endpoints are padded to 3 digits.
    expect(fleetEndpoints({ count: 1, firstIndex: 253, port: 1 })[0].nodeName).toBe('node-253');
  });

  test('refuses a slice that does not fit its fleet', () => {
    expect(() => fleetEndpoints({ count: 10, firstIndex: 95, fleetSize: 100, port: 1 })).toThrow(/fleetSize \(100\) must be .* at least firstIndex \+ count \(105\)/);
    expect(() => fleetEndpoints({ count: 10, firstIndex: -1, port: 1 })).toThrow(/firstIndex must be a whole number/);
    expect(() => fleetEndpoints({ count: 0, port: 1 })).toThrow(/count must be a positive integer/);
  });
});

function get(host: string, port: number): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const req = http.get({ host, port, path: '/metrics', agent: false, timeout: 5_000 }, (res) => {
      let body = '';
      res.setEncoding('utf8').on('data', (chunk: string) => { body += chunk; }).on('end', () => resolve({ status: res.statusCode ?? 0, body }));
    });
    req.on('timeout', () => req.destroy(new Error(`no answer from ${host}:${port} within 5 s`)));
    req.on('error', reject);
  });
}

describe('two started slices serve one fleet of 300 (loopback)', () => {
  const fleets: IpamdFleet[] = [];
  afterAll(async () => { await Promise.all(fleets.map((f) => f.close())); });

  test('each endpoint answers at its whole-fleet address with its whole-fleet index', async () => {
    const options = {
      fleetSize: 300,
      keepAlive: false,
      payload: (i: number) => `ipamd_test_endpoint ${i}\n`,
      behaviour: (i: number) => (i === 250 ? 'http500' as const : 'ok' as const),
    };
    const first = await startIpamdFleet({ ...options, count: 200 });
    fleets.push(first);
    const second = await startIpamdFleet({ ...options, count: 100, firstIndex: 200, port: first.port });
    fleets.push(second);

    expect([...first.endpoints, ...second.endpoints]).toEqual(fleetEndpoints({ count: 300, port: first.port }));
    expect(second.endpoints[53]).toMatchObject({ index: 253, host: '127.0.1.1', nodeName: 'node-253' });

    // Endpoint 253 (127.0.1.1) is the second slice's 54th; endpoint 10 (127.0.0.12) the first's 11th.
    expect(await get('127.0.1.1', first.port)).toEqual({ status: 200, body: 'ipamd_test_endpoint 253\n' });
    expect(await get('127.0.0.12', first.port)).toEqual({ status: 200, body: 'ipamd_test_endpoint 10\n' });
    // behaviour() takes whole-fleet indexes: 250 is 127.0.0.252, in the second slice.
    expect((await get('127.0.0.252', first.port)).status).toBe(500);
    // setPayload too.
    second.setPayload(299, 'overridden 299\n');
    expect((await get(fleetEndpoints({ count: 1, firstIndex: 299, port: 0 })[0].host, first.port)).body).toBe('overridden 299\n');

    expect(first.counters.requests).toBe(1);
    expect(first.counters.requestsPerEndpoint[10]).toBe(1);
    expect(second.counters.requests).toBe(3);
    expect(second.counters.requestsPerEndpoint[53]).toBe(1);
    expect(second.counters.requestsPerEndpoint[50]).toBe(1);
    expect(second.counters.requestsPerEndpoint[99]).toBe(1);
  });
});

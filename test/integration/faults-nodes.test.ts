/**
 * Node faults, end to end: the bundled collector scrapes a loopback fleet where nodes hang, reset
 * mid-body, send too much, send bytes that are not UTF-8, restart ipamd, join and leave; the cluster
 * figures stay exact and each bad node fails alone, named in the log.
 */
import * as http from 'node:http';
import { startCollector } from '../support/collector-process';
import { loopbackAddresses } from '../support/ipamd-fleet';
import { kubePod, type KubePod } from '../support/kube-api-server';
import {
  ADD_REQ, ASSIGNED, GAUGES_A_PLUS_B, LoopbackCluster, NODE_A, NODE_B, PrintedCycle, SCRAPE_TIMEOUT_MS, asStored, logsNamed,
  printedCycles as printedCyclesOf, printedDatums, startLoopbackCluster, storedCycleTimestamps, storedValuesAt, nextPrintedCycle, withAddReq,
} from '../support/loopback-cluster';

const MAX_BYTES = 24_000;
/** node-a padded with comment lines past MAX_BYTES (node-a itself is 18,420 bytes). */
const OVERSIZE = NODE_A + '# padding line that ipamd would never write, here to pass the size cap\n'.repeat(200);
/** Line of node-a that holds the `awscni_eni_allocated 2` sample. */
const ENI_ALLOCATED_LINE = NODE_A.split('\n').indexOf('awscni_eni_allocated 2') + 1;

/** A later process start than the fixtures' (process_start_time_seconds), for restarted ipamds. */
const RESTARTED_SECONDS = 1.7671e9;

/** A fixture payload served by an ipamd process started at `seconds`. */
function withProcessStart(payload: string, seconds: number): string {
  const changed = payload.replace(/^process_start_time_seconds .+$/m, `process_start_time_seconds ${seconds}`);
  if (changed === payload) throw new Error('payload has no process_start_time_seconds line to change');
  return changed;
}

/** `text` as UTF-8 with the first `search` replaced by raw `bytes`. */
function withRawBytes(text: Buffer, search: string, bytes: Buffer): Buffer {
  const at = text.indexOf(search);
  if (at === -1) throw new Error(`'${search}' is not in the payload`);
  return Buffer.concat([text.subarray(0, at), bytes, text.subarray(at + Buffer.byteLength(search))]);
}

/** node-b with bytes that are not UTF-8 in a HELP text and in a kept label value: still valid exposition. */
const NODE_B_BAD_UTF8_IN_TEXT = withRawBytes(
  withRawBytes(Buffer.from(NODE_B), 'assigned per cidr', Buffer.from([0x61, 0xc3, 0x28, 0xff])),
  'cidr="10.0.64.20/32"', Buffer.concat([Buffer.from('cidr="10.0.'), Buffer.from([0xff, 0xfe]), Buffer.from('.20/32"')]),
);
/** node-a with a byte that is not UTF-8 inside a sample name: invalid exposition at that line. */
const NODE_A_BAD_UTF8_IN_NAME = withRawBytes(Buffer.from(NODE_A), 'awscni_eni_allocated 2', Buffer.from([
  ...Buffer.from('awscni_eni_'), 0xc3, 0x28, ...Buffer.from('allocated 2'),
]));

/** An endpoint on its own loopback address and the fleet's port that answers `body` as is (no gzip). */
async function startRawEndpoint(host: string, port: number, body: Buffer): Promise<http.Server> {
  const server = http.createServer((_req, res) => {
    res.writeHead(200, { 'content-type': 'text/plain; version=0.0.4; charset=utf-8', 'content-length': body.length });
    res.end(body);
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen({ host, port, exclusive: true }, () => resolve());
  });
  return server;
}

describe('bundled collector: node faults', () => {
  let cluster: LoopbackCluster | undefined;
  const rawEndpoints: http.Server[] = [];
  afterEach(async () => {
    for (const server of rawEndpoints.splice(0)) {
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    }
    await cluster?.stop();
    cluster = undefined;
  });

  test('a timeout, a reset mid-body, an oversize body, a trickling body, a 500 and a bad byte in a name each fail only their node', async () => {
    // GIVEN node-a healthy, node-b served with bytes that are not UTF-8 in a HELP text and a label value,
    // AND six nodes that each break in their own way
    cluster = await startLoopbackCluster(
      [NODE_A, NODE_A, NODE_A, OVERSIZE, NODE_A, NODE_A],
      ['ok', 'hang', 'reset', 'ok', 'slow-body', 'http500'],
      { SCRAPE_MAX_BYTES: String(MAX_BYTES) },
    );
    const { fleet, kube } = cluster;
    const [utf8TextHost, utf8NameHost] = loopbackAddresses(fleet.endpoints.length + 2).slice(-2);
    rawEndpoints.push(await startRawEndpoint(utf8TextHost, fleet.port, NODE_B_BAD_UTF8_IN_TEXT));
    rawEndpoints.push(await startRawEndpoint(utf8NameHost, fleet.port, NODE_A_BAD_UTF8_IN_NAME));
    const pods: KubePod[] = fleet.endpoints.map((e) => kubePod({ name: e.podName, nodeName: e.nodeName, podIP: e.host }));
    pods.push(kubePod({ name: 'aws-node-utf8-text', nodeName: 'node-utf8-text', podIP: utf8TextHost }));
    pods.push(kubePod({ name: 'aws-node-utf8-name', nodeName: 'node-utf8-name', podIP: utf8NameHost }));
    kube.setPods(pods);

    // WHEN the bundle runs one cycle
    const run = startCollector(['--once', '--print'], cluster.env, 30_000);
    const code = await run.exited;

    // THEN the cycle counts node-a and node-b exactly, and CloudWatch stored what was printed
    expect(code).toBe(0);
    const { collectorCycleDuration, ...values } = storedValuesAt(cluster.cloudWatch.datums, storedCycleTimestamps(cluster.cloudWatch.datums)[0]);
    expect(values).toEqual({ ...GAUGES_A_PLUS_B, collectorNodesDiscovered: 8, collectorNodesScraped: 2, collectorNodesFailed: 6 });
    expect(collectorCycleDuration).toBeGreaterThanOrEqual(SCRAPE_TIMEOUT_MS);
    expect(cluster.cloudWatch.datums).toEqual(printedDatums(run).map(asStored));

    // AND each failed node is logged with its own cause
    const errors = Object.fromEntries(logsNamed(run, 'nodes failed this cycle')
      .flatMap((l) => l.named as Array<{ node: string; error: string }>).map((n) => [n.node, n.error]));
    expect(Object.keys(errors).sort()).toEqual(['node-1', 'node-2', 'node-3', 'node-4', 'node-5', 'node-utf8-name']);
    expect(errors['node-1']).toMatch(new RegExp(`timed out after ${SCRAPE_TIMEOUT_MS} ms while connecting and waiting for response headers`));
    expect(errors['node-2']).toMatch(/connection reset by the peer while reading the body|connection closed after \d+ bytes, before the body was complete/);
    expect(errors['node-3']).toMatch(new RegExp(`payload larger than ${MAX_BYTES} bytes after gzip decoding`));
    expect(errors['node-4']).toMatch(new RegExp(`timed out after ${SCRAPE_TIMEOUT_MS} ms while reading the body`));
    expect(errors['node-5']).toMatch(/HTTP 500 Internal Server Error: ipamd: internal error collecting metrics/);
    expect(errors['node-utf8-name']).toMatch(new RegExp(`invalid exposition text at line ${ENI_ALLOCATED_LINE}: invalid metric name`));
  }, 30_000);

  test('direct mode never connects where a pod\'s podIP points when it is not an IP, and a failed body reaches the log only as a short printable excerpt', async () => {
    // GIVEN node-a and node-b healthy, a "victim" listening at another loopback address on port 8080,
    // pods whose podIP would steer a pasted URL to it, and a node answering 500 with a hostile body
    cluster = await startLoopbackCluster([NODE_A, NODE_B]);
    const { fleet, kube } = cluster;
    const [victimHost, hostileHost] = loopbackAddresses(fleet.endpoints.length + 2).slice(-2);
    let victimRequests = 0;
    const victim = http.createServer((_req, res) => {
      victimRequests++;
      res.end('stolen');
    });
    await new Promise<void>((resolve) => victim.listen(8080, victimHost, resolve));
    rawEndpoints.push(victim);
    const secretBody = `\u001b]0;owned\u0007\u001b[2J${'A'.repeat(500)} SECRET-IN-BODY\n`;
    const hostile = http.createServer((_req, res) => {
      res.writeHead(500);
      res.end(secretBody);
    });
    await new Promise<void>((resolve) => hostile.listen(fleet.port, hostileHost, resolve));
    rawEndpoints.push(hostile);
    kube.setPods([
      ...fleet.endpoints.map((e) => kubePod({ name: e.podName, nodeName: e.nodeName, podIP: e.host })),
      kubePod({ name: 'aws-node-steal', nodeName: 'node-steal', podIP: `${victimHost}:8080/steal?x=#`, hostIP: victimHost }),
      kubePod({ name: 'aws-node-userinfo', nodeName: 'node-userinfo', podIP: `u:p@${victimHost}:8080` }),
      kubePod({ name: 'aws-node-hostile', nodeName: 'node-hostile', podIP: hostileHost }),
    ]);

    // WHEN the bundle runs one cycle
    const run = startCollector(['--once', '--print'], cluster.env, 30_000);
    await run.exited;

    // THEN node-a and node-b are counted exactly, nothing reached the victim
    const [cycle] = printedCyclesOf(run);
    expect(cycle.values).toMatchObject({ ...GAUGES_A_PLUS_B, collectorNodesScraped: 2 });
    expect(victimRequests).toBe(0);
    // AND the hostile body is quoted only as 160 printable characters: no escape sequence, no secret
    const everything = run.logs().map((l) => JSON.stringify(l)).join('\n');
    expect(everything).not.toContain('SECRET-IN-BODY');
    expect(everything).not.toMatch(/\\u001b|\\u0007/);
    const failed = logsNamed(run, 'nodes failed this cycle')
      .flatMap((l) => l.named as Array<{ node: string; error: string }>).find((n) => n.node === 'node-hostile');
    expect(String(failed?.error)).toMatch(/HTTP 500 Internal Server Error: \?\]0;owned\?\?\[2JA+\.\.\. \(GET /);
  }, 30_000);

  test('ipamd restarts count from zero, joining nodes start as baselines, and a node that left and came back is a baseline again', async () => {
    // Pods of three endpoints; the node names and pod names are the test's to choose.
    cluster = await startLoopbackCluster([withAddReq(NODE_A, ADD_REQ.a), NODE_B, NODE_A]);
    const { fleet, kube } = cluster;
    const START = '2026-01-01T00:00:00Z';
    const pod = (index: number, name = fleet.endpoints[index].podName, containerStartedAt = START): KubePod =>
      kubePod({ name, nodeName: fleet.endpoints[index].nodeName, podIP: fleet.endpoints[index].host, startTime: START, containerStartedAt });

    // GIVEN node-0 (node-a) and node-1 (node-b) running
    kube.setPods([pod(0), pod(1)]);
    const run = startCollector(['--print'], cluster.env, 40_000);
    const readCycle = nextPrintedCycle(run);
    const cycles: PrintedCycle[] = [];
    const nextCycle = async (): Promise<PrintedCycle> => {
      cycles.push(await readCycle());
      return cycles[cycles.length - 1];
    };

    // THEN the first cycle is a baseline: gauges, no counter datum
    const baseline = await nextCycle();
    expect(baseline.values).toMatchObject({ assignIPAddresses: ASSIGNED.a + ASSIGNED.b, collectorNodesDiscovered: 2, collectorNodesScraped: 2 });
    expect(baseline.values.addReqCount).toBeUndefined();

    // WHEN node-0's ipamd restarts (its counter drops to 5), node-1's aws-node container restarts
    // (a new process and container start time; its counter reads 2200, above the old 2187) and node-2 joins
    fleet.setPayload(0, withProcessStart(withAddReq(NODE_A, 5), RESTARTED_SECONDS));
    fleet.setPayload(1, withProcessStart(withAddReq(NODE_B, 2200), RESTARTED_SECONDS));
    const restartedAt = new Date().toISOString();
    kube.setPods([pod(0), pod(1, undefined, restartedAt), pod(2)]);
    // THEN both restarted nodes count from zero and node-2 only gives its baseline
    const restarts = await nextCycle();
    expect(restarts.values).toMatchObject({ addReqCount: 5 + 2200, assignIPAddresses: 2 * ASSIGNED.a + ASSIGNED.b, collectorNodesDiscovered: 3 });
    // AND with nothing changed the next cycle reads 0 (the restart is not counted twice)
    expect((await nextCycle()).values).toMatchObject({ addReqCount: 0, assignIPAddresses: 2 * ASSIGNED.a + ASSIGNED.b });

    // WHEN node-1 leaves, node-0 adds 20, and node-2's aws-node pod is replaced by a new one whose
    // own ipamd (a new process) reads 1400
    fleet.setPayload(0, withProcessStart(withAddReq(NODE_A, 25), RESTARTED_SECONDS));
    fleet.setPayload(2, withProcessStart(withAddReq(NODE_A, 1400), RESTARTED_SECONDS + 60));
    kube.setPods([pod(0), pod(2, 'aws-node-2-replaced')]);
    // THEN the new pod counts from zero: 20 + 1400, not 20 + (1400 - 1342)
    expect((await nextCycle()).values).toMatchObject({ addReqCount: 20 + 1400, assignIPAddresses: 2 * ASSIGNED.a, collectorNodesDiscovered: 2 });

    // WHEN node-1 comes back with 2300 (100 more than when it left) and node-0 adds 1
    fleet.setPayload(0, withProcessStart(withAddReq(NODE_A, 26), RESTARTED_SECONDS));
    fleet.setPayload(1, withAddReq(NODE_B, 2300));
    kube.setPods([pod(0), pod(1, undefined, restartedAt), pod(2, 'aws-node-2-replaced')]);
    // THEN its state was released when it left: it is a baseline, and only node-0's 1 counts
    expect((await nextCycle()).values).toMatchObject({ addReqCount: 1, assignIPAddresses: 2 * ASSIGNED.a + ASSIGNED.b, collectorNodesDiscovered: 3 });

    run.child.kill('SIGTERM');
    expect(await run.exited).toBe(0);
    // AND CloudWatch stored every printed cycle, each with its own timestamp
    expect(cluster.cloudWatch.datums).toEqual(printedDatums(run).map(asStored));
    expect(storedCycleTimestamps(cluster.cloudWatch.datums).slice(0, cycles.length)).toEqual(cycles.map((c) => c.timestampMs));
  }, 40_000);
});

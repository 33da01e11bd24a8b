/**
 * Counters through a DaemonSet rollout and an empty payload, end to end (issue 9): the bundled
 * collector scrapes a loopback fleet while the pod list and the payloads change between cycles;
 * every printed figure is worked out by hand from the fixtures (test/fixtures/ipamd/README.md).
 */
import { startCollector } from '../support/collector-process';
import { kubePod, type KubePod } from '../support/kube-api-server';
import {
  ADD_REQ, ASSIGNED, LoopbackCluster, NODE_A, NODE_B, PrintedCycle, asStored, printedDatums, startLoopbackCluster,
  nextPrintedCycle, withAddReq,
} from '../support/loopback-cluster';

const START = '2026-01-01T00:00:00Z';

let cluster: LoopbackCluster | undefined;
afterEach(async () => {
  await cluster?.stop();
  cluster = undefined;
});

/** node-b's payload with its build_info version replaced. */
function withVersion(payload: string, version: string): string {
  const changed = payload.replace(/version="v[0-9.]+"/, `version="${version}"`);
  if (changed === payload) throw new Error('payload has no build_info version to change');
  return changed;
}

async function runScenario(
  body: (step: {
    cluster: LoopbackCluster;
    pod: (index: number, name?: string) => KubePod;
    nextCycle: () => Promise<PrintedCycle>;
  }) => Promise<void>,
): Promise<void> {
  cluster = await startLoopbackCluster([NODE_A, NODE_B]);
  const { fleet, kube } = cluster;
  const pod = (index: number, name = fleet.endpoints[index].podName): KubePod =>
    kubePod({ name, nodeName: fleet.endpoints[index].nodeName, podIP: fleet.endpoints[index].host, startTime: START });
  kube.setPods([pod(0), pod(1)]);
  const run = startCollector(['--print'], cluster.env, 40_000);
  const nextCycle = nextPrintedCycle(run);
  await body({ cluster, pod, nextCycle });
  run.child.kill('SIGTERM');
  expect(await run.exited).toBe(0);
  // AND CloudWatch stored what was printed
  expect(cluster.cloudWatch.datums).toEqual(printedDatums(run).map(asStored));
}

describe('bundled collector: counters through rollouts and empty payloads', () => {
  test('a rollout\'s new pod that still reaches the old ipamd counts only the increase, and the version count shows the skew', async () => {
    await runScenario(async ({ cluster: { fleet, kube }, pod, nextCycle }) => {
      // GIVEN both nodes scraped once (a baseline)
      const baseline = await nextCycle();
      expect(baseline.values.addReqCount).toBeUndefined();
      expect(baseline.values.cniVersionCount).toBe(1);

      // WHEN the DaemonSet rolls node-0: a new pod (new name and uid) whose proxy still reaches the old
      // ipamd (same process_start_time_seconds), 10 requests later; node-1 already runs the new version
      fleet.setPayload(0, withAddReq(NODE_A, ADD_REQ.a + 10));
      fleet.setPayload(1, withVersion(withAddReq(NODE_B, ADD_REQ.b + 3), 'v1.21.0'));
      kube.setPods([pod(0, 'aws-node-0-rolled'), pod(1)]);
      const rolled = await nextCycle();
      // THEN 10 + 3 count, not node-0's whole history (1352 + 3); two versions run
      expect(rolled.values).toMatchObject({ addReqCount: 13, cniVersionCount: 2, collectorNodesScraped: 2, collectorNodesFailed: 0 });
    });
  }, 40_000);

  test('an empty 200 body fails the node with its state kept: the next good scrape counts 11, not 1353', async () => {
    await runScenario(async ({ cluster: { fleet }, nextCycle }) => {
      await nextCycle();
      // WHEN node-0 answers an empty body for a cycle while node-1 adds 2
      fleet.setPayload(0, '');
      fleet.setPayload(1, withAddReq(NODE_B, ADD_REQ.b + 2));
      const empty = await nextCycle();
      // THEN node-0 counts as failed and only node-1's 2 count; the gauges are node-1's alone
      expect(empty.values).toMatchObject({ addReqCount: 2, collectorNodesScraped: 1, collectorNodesFailed: 1, assignIPAddresses: ASSIGNED.b });
      // WHEN node-0 serves again, 11 requests after its last good scrape
      fleet.setPayload(0, withAddReq(NODE_A, ADD_REQ.a + 11));
      const back = await nextCycle();
      // THEN its 11 count (and node-1's 0)
      expect(back.values).toMatchObject({ addReqCount: 11, collectorNodesScraped: 2, collectorNodesFailed: 0 });
    });
  }, 40_000);
});

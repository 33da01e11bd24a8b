/**
 * createPipeline, the wiring main.ts and the soak use, in process against loopback servers: the
 * real Kubernetes client lists pods, the scraper reads the ipamd fleet, each node is folded into the
 * aggregator as it arrives, and the real AWS SDK publishes to a CloudWatch that decodes its wire format.
 */
import { KubeConfig } from '@kubernetes/client-node';
import { loadConfig } from '../../runtime/config';
import { silentLogger } from '../../runtime/log';
import { createPipeline, type Pipeline } from '../../runtime/pipeline';
import { CloudWatchServer, createTestCloudWatchClient, startCloudWatchServer } from '../support/cloudwatch-server';
import { IpamdFleet, fleetKubePods, startIpamdFleet } from '../support/ipamd-fleet';
import { KubeApiServer, startKubeApiServer } from '../support/kube-api-server';
import { ADD_REQ, GAUGES_A_PLUS_B, NODE_A, NODE_B, TOKEN, storedValuesAt, withAddReq } from '../support/loopback-cluster';

describe('createPipeline on loopback', () => {
  let fleet: IpamdFleet;
  let kube: KubeApiServer;
  let cloudWatch: CloudWatchServer;
  let pipeline: Pipeline | undefined;
  let destroyClient = (): void => {};

  afterEach(async () => {
    await pipeline?.close();
    destroyClient();
    await Promise.all([fleet.close(), kube.close(), cloudWatch.close()]);
  });

  test('two cycles give the exact cluster figures, name the failed node, and reach CloudWatch in full', async () => {
    // GIVEN node-a and node-b healthy and a third node answering HTTP 500
    fleet = await startIpamdFleet({ count: 3, payload: (i) => [NODE_A, NODE_B, NODE_A][i], behaviour: (i) => (i === 2 ? 'http500' : 'ok') });
    kube = await startKubeApiServer({ token: TOKEN, pods: fleetKubePods(fleet) });
    cloudWatch = await startCloudWatchServer();
    const kubeConfig = new KubeConfig();
    kubeConfig.loadFromString(kube.kubeconfigYaml);
    const { client } = createTestCloudWatchClient(cloudWatch.url);
    destroyClient = () => client.destroy();
    // AND the collector's settings read from the environment as main.ts reads them
    const config = loadConfig({
      AWS_CLUSTER_ID: 'pipeline-cluster', AWS_REGION: 'us-east-1', SCRAPE_MODE: 'direct',
      IPAMD_METRICS_PORT: String(fleet.port), SCRAPE_TIMEOUT_MS: '2000', POD_LIST_PAGE_SIZE: '2',
    });
    pipeline = createPipeline(config, { kubeConfig, cloudWatchClient: client, logger: silentLogger });
    await pipeline.open();

    // WHEN a cycle runs, both counters grow (node-a by 10, node-b by 5), and a second cycle runs
    const first = await pipeline.runner.run();
    fleet.setPayload(0, withAddReq(NODE_A, ADD_REQ.a + 10));
    fleet.setPayload(1, withAddReq(NODE_B, ADD_REQ.b + 5));
    const second = await pipeline.runner.run();

    // THEN both cycles carry node-a + node-b's gauges, the second the counter delta 10 + 5
    const values = (datums: typeof first.datums): Record<string, number> => Object.fromEntries(datums.map((d) => [d.metricName, d.value]));
    expect(values(first.datums)).toMatchObject({ ...GAUGES_A_PLUS_B, collectorNodesDiscovered: 3, collectorNodesScraped: 2, collectorNodesFailed: 1 });
    expect(values(first.datums)).not.toHaveProperty('addReqCount');
    expect(values(second.datums)).toMatchObject({ ...GAUGES_A_PLUS_B, addReqCount: 15 });
    // AND the failing node is named with its cause
    expect(second.failedNodes).toEqual([expect.objectContaining({ nodeName: fleet.endpoints[2].nodeName, ok: false, error: expect.stringMatching(/HTTP 500/) })]);
    // AND CloudWatch stored every datum of both cycles with its own cycle's time; nothing is owed
    for (const cycle of [first, second]) {
      expect(storedValuesAt(cloudWatch.datums, cycle.cycleTime.getTime())).toEqual(values(cycle.datums));
    }
    expect(cloudWatch.datums).toHaveLength(first.datums.length + second.datums.length);
    expect([first.publishSettled, second.publishSettled, second.publishFailureStreak]).toEqual([true, true, 0]);
    expect(pipeline.runner.outstanding()).toEqual({ held: 0, dropsUnreported: 0 });
    expect(pipeline.aggregator.trackedNodeCount).toBe(2);
  });
});

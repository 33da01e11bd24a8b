/**
 * Property: for random sequences of scrapes, failures, empty payloads, restarts, rollouts, missing
 * families and nodes leaving, the published counter deltas add up to the true increase of every
 * ipamd process that ran, as far as any scraper could see it.
 *
 * The truth comes from a model of ipamd processes, not from the aggregator's rules: each process
 * counts requests; every increment is owed to the cluster once, from the moment its node has a
 * baseline, and paid when a scrape shows the series. Increments no scrape can ever show are not
 * owed: those before a node's baseline (the baseline value absorbs them), those of a process after
 * its last scrape (it died), and those of a node after discovery stopped listing it.
 */
import fc from 'fast-check';
import { ClusterAggregator } from '../../runtime/aggregate';
import { catalogMetric } from '../../common/catalog';
import type { AwsNodePod, ClusterDatum, NodeScrapeResult } from '../../runtime/types';
import { runAggregatorCycle } from './aggregator-cycle';
import { metrics, okNode, POD_START_MS } from './parsed-metrics-builder';

const ADD_REQ = catalogMetric('addReqCount').family as string;
const EC2_REQ = catalogMetric('ec2ApiReqCount').family as string;
const ENI_MAX = catalogMetric('eniMaxAvailable').family as string;
/** The series of the model: one plain counter and two labelled ones (created at their first increment). */
const SERIES = ['add', 'ec2:CreateTags', 'ec2:AttachNetworkInterface'] as const;
type Series = (typeof SERIES)[number];

type Event =
  | 'scrape'
  | 'fail' // the scrape fails: refused, timed out, or credentials could not be built
  | 'empty' // the node answers 200 with no ipamd family
  | 'restart' // ipamd restarts in the same pod (container restart)
  | 'rollout' // a new aws-node pod is listed, still reaching the old ipamd on the host port
  | 'rolloutRestart' // a new aws-node pod whose own ipamd serves (a new process)
  | 'missingAdd' // one scrape lacks awscni_add_ip_req_count
  | 'missingEc2' // one scrape lacks awscni_ec2api_req_count
  | 'missingSeries' // one scrape lacks one labelled series
  | 'gone'; // discovery does not list the node this cycle

interface Step {
  readonly event: Event;
  /** Increments of each series during the cycle, before the scrape. */
  readonly increments: readonly [number, number, number];
  /** How far the reported process start wanders from the true one (boot-time adjustments). */
  readonly jitter: number;
}

interface Process {
  readonly startSeconds: number;
  readonly values: Record<Series, number>;
}

interface ModelNode {
  readonly name: string;
  process: Process;
  pod: { podName: string; podUid: string; containerID: string; restartCount: number; startTimeMs: number };
  /** The aggregator holds a baseline for the node. */
  tracked: boolean;
  /** Increments owed to the cluster, per series, not yet paid by a scrape. */
  owed: Record<Series, number>;
  generation: number;
}

const zero = (): Record<Series, number> => ({ add: 0, 'ec2:CreateTags': 0, 'ec2:AttachNetworkInterface': 0 });

function newNode(index: number): ModelNode {
  return {
    name: `node-${index}`,
    process: { startSeconds: POD_START_MS / 1000 + index, values: zero() },
    pod: { podName: `aws-node-${index}-0`, podUid: `uid-${index}-0`, containerID: `containerd://${index}-0`, restartCount: 0, startTimeMs: POD_START_MS },
    tracked: false,
    owed: zero(),
    generation: 0,
  };
}

/** What the node's ipamd serves, with the parts the event leaves out. */
function payload(node: ModelNode, step: Step, withProcessStart: boolean): NodeScrapeResult {
  const built = metrics();
  if (withProcessStart) built.processStart(node.process.startSeconds + step.jitter);
  if (step.event === 'empty') return okNode(node.name, withProcessStart ? built : metrics(), node.pod);
  const v = node.process.values;
  // ipamd's plain gauges are always there
  built.gauge(ENI_MAX, 4);
  if (step.event !== 'missingAdd') built.counter(ADD_REQ, v.add);
  if (step.event !== 'missingEc2') {
    // ipamd creates a labelled series at its first increment
    if (v['ec2:CreateTags'] > 0) built.counter(EC2_REQ, v['ec2:CreateTags'], { fn: 'CreateTags' });
    if (v['ec2:AttachNetworkInterface'] > 0 && step.event !== 'missingSeries') {
      built.counter(EC2_REQ, v['ec2:AttachNetworkInterface'], { fn: 'AttachNetworkInterface' });
    }
  }
  return okNode(node.name, built, node.pod);
}

/** The series a scrape with this event shows (a labelled one only once created). */
function shown(node: ModelNode, event: Event): Series[] {
  if (event === 'fail' || event === 'empty' || event === 'gone') return [];
  return SERIES.filter((s) => {
    if (s === 'add') return event !== 'missingAdd';
    if (event === 'missingEc2' || node.process.values[s] === 0) return false;
    return !(s === 'ec2:AttachNetworkInterface' && event === 'missingSeries');
  });
}

function restartProcess(node: ModelNode): void {
  node.generation += 1;
  // A new process starts at least 10 s after the old one
  node.process = { startSeconds: node.process.startSeconds + 10 + node.generation, values: zero() };
  // What the old process counted since its last scrape died with it
  node.owed = zero();
}

function counterTotal(datums: readonly ClusterDatum[]): number | undefined {
  const values = datums.filter((d) => d.metricName === 'addReqCount' || d.metricName === 'ec2ApiReqCount').map((d) => d.value);
  return values.length === 0 ? undefined : values.reduce((a, b) => a + b, 0);
}

function events(withProcessStart: boolean): fc.Arbitrary<Event> {
  const all: Event[] = ['scrape', 'scrape', 'fail', 'empty', 'restart', 'rolloutRestart', 'missingAdd', 'missingEc2', 'missingSeries', 'gone'];
  // Without the process start nothing tells a rollout's old ipamd from a new one: only rollouts with a new process then.
  return fc.constantFrom(...(withProcessStart ? [...all, 'rollout' as const] : all));
}

function check(withProcessStart: boolean): void {
  const step = fc.record({
    event: events(withProcessStart),
    increments: fc.tuple(fc.nat(40), fc.nat(5), fc.nat(3)),
    jitter: fc.constantFrom(0, 0.25, -0.4),
  });
  const scenario = fc.array(fc.array(step, { minLength: 1, maxLength: 4 }), { minLength: 2, maxLength: 12 })
    .map((cycles) => {
      const nodeCount = Math.max(...cycles.map((c) => c.length));
      return cycles.map((c) => Array.from({ length: nodeCount }, (_, i) => c[i % c.length]));
    });

  fc.assert(fc.property(scenario, (cycles) => {
    const aggregator = new ClusterAggregator();
    const nodes = cycles[0].map((_, i) => newNode(i));
    let published = 0;
    let owedTotal = 0;
    cycles.forEach((steps, n) => {
      const pods: AwsNodePod[] = [];
      const results: NodeScrapeResult[] = [];
      let paid = 0;
      let compared = 0;
      nodes.forEach((node, i) => {
        // A series missing from the scrape that makes a node's baseline cannot be told from one the
        // node creates later, which counts whole (the README names this case): not generated.
        const missing = steps[i].event.startsWith('missing');
        const s: Step = missing && !node.tracked ? { ...steps[i], event: 'scrape' } : steps[i];
        // The process lives through the cycle: restarts first, then its increments
        if (s.event === 'restart') {
          restartProcess(node);
          node.pod = { ...node.pod, containerID: `${node.pod.containerID}r`, restartCount: node.pod.restartCount + 1, startTimeMs: node.pod.startTimeMs + 1000 };
        }
        if (s.event === 'rollout' || s.event === 'rolloutRestart') {
          const next = node.generation + 1;
          if (s.event === 'rolloutRestart') restartProcess(node);
          node.pod = { podName: `aws-node-${i}-${next}`, podUid: `uid-${i}-${next}`, containerID: `containerd://${i}-${next}`, restartCount: 0, startTimeMs: node.pod.startTimeMs + 2000 };
          if (s.event === 'rollout') node.generation = next;
        }
        SERIES.forEach((series, k) => {
          node.process.values[series] += s.increments[k];
          if (node.tracked) node.owed[series] += s.increments[k];
        });
        if (s.event === 'gone') {
          // Released: whatever it counts until it is listed again is never owed
          node.tracked = false;
          node.owed = zero();
          return;
        }
        const pod = { namespace: 'kube-system', nodeName: node.name, ...node.pod };
        pods.push(pod);
        if (s.event === 'fail') {
          results.push({ ok: false, pod, error: 'connect ECONNREFUSED', durationMs: 1 });
          return;
        }
        results.push(payload(node, s, withProcessStart));
        if (s.event === 'empty') return;
        if (!node.tracked) {
          // The first scrape is a baseline: nothing owed yet
          node.tracked = true;
          node.owed = zero();
          return;
        }
        compared += 1;
        for (const series of shown(node, s.event)) {
          paid += node.owed[series];
          node.owed[series] = 0;
        }
      });
      const { datums } = runAggregatorCycle(aggregator, results, new Date(Date.UTC(2026, 0, 1, 1, n)), pods);
      const value = counterTotal(datums);
      // THEN each cycle publishes exactly what its scrapes paid, and nothing when no node was compared
      expect(value).toBe(compared > 0 ? paid : undefined);
      published += value ?? 0;
      owedTotal += paid;
    });
    expect(published).toBe(owedTotal);
  }), { numRuns: 300 });
}

describe('published counter deltas equal the true increase of every ipamd process (property)', () => {
  test('payloads that carry process_start_time_seconds: rollouts keep the process, restarts start anew', () => {
    check(true);
  });

  test('payloads without it: restarts told by the pod uid, container ID and restart count', () => {
    check(false);
  });
});

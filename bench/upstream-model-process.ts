/**
 * Process entry of the upstream MODEL (bench/upstream-model.ts), so that it runs, and is measured,
 * in its own process like our collector. Reads its settings from the environment and writes one
 * JSON result line on stdout; progress goes to stderr as `progress <done> <total>`.
 *
 *   BENCH_KUBE_API=http://127.0.0.1:PORT IPAMD_METRICS_PORT=61678 AWS_CLUSTER_ID=x \
 *   AWS_REGION=us-east-1 AWS_ENDPOINT_URL_CLOUDWATCH=http://127.0.0.1:PORT npx tsx bench/upstream-model-process.ts
 */
import { runUpstreamModelCycle } from './upstream-model';
import { DEFAULTS } from '../common/settings';

async function main(): Promise<void> {
  const apiServer = process.env.BENCH_KUBE_API;
  if (!apiServer) throw new Error('BENCH_KUBE_API is not set: give the loopback kube API server URL');
  let lastReport = 0;
  const result = await runUpstreamModelCycle({
    apiServer,
    namespace: 'kube-system',
    labelSelector: 'k8s-app=aws-node',
    ipamdPort: Number(process.env.IPAMD_METRICS_PORT ?? DEFAULTS.ipamdPort),
    clusterId: process.env.AWS_CLUSTER_ID ?? 'bench-cluster',
    onNode: (done, total) => {
      const now = Date.now();
      if (now - lastReport >= 1000 || done === total) {
        lastReport = now;
        process.stderr.write(`progress ${done} ${total}\n`);
      }
    },
  });
  process.stdout.write(JSON.stringify(result) + '\n');
}

main().then(
  () => process.exit(0),
  (err) => {
    process.stderr.write(`upstream model failed: ${err instanceof Error ? err.message : String(err)}\n`);
    process.exit(1);
  },
);

/**
 * Finds the Kubernetes credentials the collector talks to the API server with.
 *
 * Precedence is controller-runtime's `GetConfig`, which upstream cni-metrics-helper uses:
 *   1. KUBECONFIG, when set (a list separated by ':' is merged as kubectl merges it),
 *   2. the pod's service account (KUBERNETES_SERVICE_HOST set and the token file present),
 *   3. ~/.kube/config.
 * An explicit KUBECONFIG wins over the ambient service account so that a collector started with
 * KUBECONFIG inside some other pod (a CI runner, a test) talks to the cluster it was pointed at.
 *
 * `KubeConfig.loadFromDefault` is not used: in 1.4 it falls back silently to
 * http://localhost:8080 when nothing is found, and it reads process.env and fixed paths, which
 * tests cannot redirect.
 */
import * as fs from 'node:fs';
import * as net from 'node:net';
import * as os from 'node:os';
import * as path from 'node:path';
import { KubeConfig } from '@kubernetes/client-node';

/** Where a pod's service account credentials are mounted. */
export const SERVICE_ACCOUNT_DIR = '/var/run/secrets/kubernetes.io/serviceaccount';

/** Where loadKubeConfig looks; every field defaults to the real process and machine. */
export interface KubeConfigSources {
  /** @default process.env */
  readonly env?: NodeJS.ProcessEnv;
  /** @default SERVICE_ACCOUNT_DIR */
  readonly serviceAccountDir?: string;
  /** @default - os.homedir() */
  readonly homeDir?: string;
}

export function loadKubeConfig(sources: KubeConfigSources = {}): KubeConfig {
  const env = sources.env ?? process.env;
  const serviceAccountDir = sources.serviceAccountDir ?? SERVICE_ACCOUNT_DIR;
  const homeConfig = path.join(sources.homeDir ?? os.homedir(), '.kube', 'config');

  const kubeconfigList = env.KUBECONFIG?.split(path.delimiter).filter((f) => f.length > 0) ?? [];
  if (kubeconfigList.length > 0) return loadKubeconfigFiles(kubeconfigList, 'KUBECONFIG');

  const tokenFile = path.join(serviceAccountDir, 'token');
  if (env.KUBERNETES_SERVICE_HOST && fs.existsSync(tokenFile)) {
    return loadInCluster(env, serviceAccountDir);
  }
  if (fs.existsSync(homeConfig)) return loadKubeconfigFiles([homeConfig], homeConfig);

  throw new Error(
    'No Kubernetes credentials found: KUBECONFIG is not set, '
    + (env.KUBERNETES_SERVICE_HOST ? `the service account token ${tokenFile} does not exist` : 'KUBERNETES_SERVICE_HOST is not set (not running in a pod)')
    + `, and ${homeConfig} does not exist. In the cluster, mount the service account token `
    + '(automountServiceAccountToken: true); elsewhere, set KUBECONFIG to a kubeconfig file.',
  );
}

/** Loads and merges kubeconfig files the way kubectl does: missing files are skipped, the first file's current-context wins. */
function loadKubeconfigFiles(files: readonly string[], origin: string): KubeConfig {
  const existing = files.filter((f) => fs.existsSync(f));
  if (existing.length === 0) {
    throw new Error(`${origin} names no existing file (${files.join(', ')}): point it at a kubeconfig file`);
  }
  const kc = new KubeConfig();
  for (const [i, file] of existing.entries()) {
    try {
      if (i === 0) {
        kc.loadFromFile(file);
      } else {
        const more = new KubeConfig();
        more.loadFromFile(file);
        // kubectl keeps the first definition of a name; mergeConfig would throw on duplicates.
        const known = (list: readonly { name: string }[], name: string): boolean => list.some((e) => e.name === name);
        for (const c of more.getClusters()) if (!known(kc.getClusters(), c.name)) kc.addCluster(c);
        for (const u of more.getUsers()) if (!known(kc.getUsers(), u.name)) kc.addUser(u);
        for (const c of more.getContexts()) if (!known(kc.getContexts(), c.name)) kc.addContext(c);
        if (!kc.getCurrentContext()) kc.setCurrentContext(more.getCurrentContext());
      }
    } catch (err) {
      throw new Error(`Cannot read kubeconfig ${file} (from ${origin}): ${err instanceof Error ? err.message : String(err)}`);
    }
  }
  const context = kc.getCurrentContext();
  if (!context || !kc.getContextObject(context)) {
    throw new Error(`Kubeconfig ${existing.join(', ')} has no usable current-context`
      + `${context ? ` ('${context}' is not defined)` : ''}: run 'kubectl config use-context <name>' or set current-context`);
  }
  if (!kc.getCurrentCluster()) {
    throw new Error(`Kubeconfig ${existing.join(', ')}: context '${context}' names a cluster that is not defined`);
  }
  return kc;
}

/** The pod's service account: token re-read by the client every minute (bound tokens rotate), cluster CA. */
function loadInCluster(env: NodeJS.ProcessEnv, serviceAccountDir: string): KubeConfig {
  const caFile = path.join(serviceAccountDir, 'ca.crt');
  if (!fs.existsSync(caFile)) {
    throw new Error(`In-cluster credentials incomplete: ${caFile} does not exist next to the service account token`);
  }
  const host = env.KUBERNETES_SERVICE_HOST as string;
  const port = env.KUBERNETES_SERVICE_PORT || '443';
  const server = `https://${net.isIPv6(host) ? `[${host}]` : host}:${port}`;
  const kc = new KubeConfig();
  kc.loadFromClusterAndUser(
    { name: 'in-cluster', server, caFile, skipTLSVerify: false },
    { name: 'service-account', authProvider: { name: 'tokenFile', config: { tokenFile: path.join(serviceAccountDir, 'token') } } },
  );
  return kc;
}

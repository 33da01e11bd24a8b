/**
 * aws-node pods as an EKS API server returns them: the DaemonSet's full spec (env, probes, mounts,
 * the init container and the network-policy agent), owner references, managedFields and a full
 * status, about 9 KB of JSON each. The collector reads a dozen fields of this; decoding the rest is
 * the real cost of a pod list, so the benchmark lists pods of this size (bench --plain-pods for
 * the bare test pods).
 */
import type { KubePod } from '../test/support/kube-api-server';

const CNI_ENV: Record<string, string> = {
  ADDITIONAL_ENI_TAGS: '{}', ANNOTATE_POD_IP: 'false', AWS_VPC_CNI_NODE_PORT_SUPPORT: 'true',
  AWS_VPC_ENI_MTU: '9001', AWS_VPC_K8S_CNI_CUSTOM_NETWORK_CFG: 'false', AWS_VPC_K8S_CNI_EXTERNALSNAT: 'false',
  AWS_VPC_K8S_CNI_LOGLEVEL: 'DEBUG', AWS_VPC_K8S_CNI_LOG_FILE: '/host/var/log/aws-routed-eni/ipamd.log',
  AWS_VPC_K8S_CNI_RANDOMIZESNAT: 'prng', AWS_VPC_K8S_CNI_VETHPREFIX: 'eni', AWS_VPC_K8S_PLUGIN_LOG_FILE: '/var/log/aws-routed-eni/plugin.log',
  AWS_VPC_K8S_PLUGIN_LOG_LEVEL: 'DEBUG', CLUSTER_NAME: 'prod-large-cluster', DISABLE_INTROSPECTION: 'false',
  DISABLE_METRICS: 'false', DISABLE_NETWORK_RESOURCE_PROVISIONING: 'false', ENABLE_IPv4: 'true', ENABLE_IPv6: 'false',
  ENABLE_POD_ENI: 'false', ENABLE_PREFIX_DELEGATION: 'false', ENABLE_SUBNET_DISCOVERY: 'true', NETWORK_POLICY_ENFORCING_MODE: 'standard',
  VPC_CNI_VERSION: 'v1.19.2', VPC_ID: 'vpc-0123456789abcdef0', WARM_ENI_TARGET: '1', WARM_PREFIX_TARGET: '1',
};

/** The pod with the rest of what the API server returns for an aws-node pod. */
export function realisticAwsNodePod(pod: KubePod, index: number): KubePod {
  const node = pod.spec.nodeName ?? '';
  const ip = pod.status.podIP ?? '';
  const started = pod.status.startTime ?? '2026-01-01T00:00:00Z';
  const hash = (index * 2654435761 >>> 0).toString(16).padStart(8, '0');
  const ownerUid = '6f1c2a8e-3b7d-4c55-9e2f-0a1b2c3d4e5f';
  const fieldsSpec = {
    'f:metadata': { 'f:generateName': {}, 'f:labels': { '.': {}, 'f:app.kubernetes.io/instance': {}, 'f:app.kubernetes.io/name': {}, 'f:controller-revision-hash': {}, 'f:k8s-app': {}, 'f:pod-template-generation': {} }, 'f:ownerReferences': { '.': {}, [`k:{"uid":"${ownerUid}"}`]: {} } },
    'f:spec': {
      'f:affinity': { '.': {}, 'f:nodeAffinity': { '.': {}, 'f:requiredDuringSchedulingIgnoredDuringExecution': {} } },
      'f:containers': Object.fromEntries(['aws-node', 'aws-eks-nodeagent'].map((c) => [`k:{"name":"${c}"}`, {
        '.': {}, 'f:env': c === 'aws-node' ? Object.fromEntries(Object.keys(CNI_ENV).slice(0, 4).map((k) => [`k:{"name":"${k}"}`, { '.': {}, 'f:name': {}, 'f:value': {} }])) : {},
        'f:image': {}, 'f:imagePullPolicy': {}, 'f:name': {}, 'f:resources': { '.': {}, 'f:requests': { '.': {}, 'f:cpu': {} } },
        'f:securityContext': { '.': {}, 'f:capabilities': { '.': {}, 'f:add': {} } }, 'f:terminationMessagePath': {}, 'f:volumeMounts': {},
      }])),
      'f:dnsPolicy': {}, 'f:enableServiceLinks': {}, 'f:hostNetwork': {}, 'f:initContainers': {}, 'f:priorityClassName': {},
      'f:restartPolicy': {}, 'f:schedulerName': {}, 'f:securityContext': {}, 'f:serviceAccount': {}, 'f:serviceAccountName': {},
      'f:terminationGracePeriodSeconds': {}, 'f:tolerations': {}, 'f:volumes': {},
    },
  };
  const mounts = [
    { mountPath: '/host/opt/cni/bin', name: 'cni-bin-dir' }, { mountPath: '/host/etc/cni/net.d', name: 'cni-net-dir' },
    { mountPath: '/host/var/log/aws-routed-eni', name: 'log-dir' }, { mountPath: '/var/run/aws-node', name: 'run-dir' },
    { mountPath: '/run/xtables.lock', name: 'xtables-lock' },
    { mountPath: '/var/run/secrets/kubernetes.io/serviceaccount', name: 'kube-api-access-x7k2p', readOnly: true },
  ];
  const condition = (type: string) => ({ lastProbeTime: null, lastTransitionTime: started, status: 'True', type });
  const wire = {
    metadata: {
      ...pod.metadata,
      generateName: 'aws-node-',
      creationTimestamp: started,
      labels: { ...pod.metadata.labels, 'app.kubernetes.io/instance': 'aws-vpc-cni', 'app.kubernetes.io/name': 'aws-node', 'controller-revision-hash': '5d8f7c9b6d', 'pod-template-generation': '7' },
      ownerReferences: [{ apiVersion: 'apps/v1', blockOwnerDeletion: true, controller: true, kind: 'DaemonSet', name: 'aws-node', uid: ownerUid }],
      managedFields: [
        { apiVersion: 'v1', fieldsType: 'FieldsV1', fieldsV1: fieldsSpec, manager: 'kube-controller-manager', operation: 'Update', time: started },
        { apiVersion: 'v1', fieldsType: 'FieldsV1', fieldsV1: { 'f:status': { 'f:conditions': {}, 'f:containerStatuses': {}, 'f:hostIP': {}, 'f:podIP': {}, 'f:startTime': {} } }, manager: 'kubelet', operation: 'Update', subresource: 'status', time: started },
      ],
    },
    spec: {
      ...pod.spec,
      affinity: { nodeAffinity: { requiredDuringSchedulingIgnoredDuringExecution: { nodeSelectorTerms: [{ matchFields: [{ key: 'metadata.name', operator: 'In', values: [node] }] }, { matchExpressions: [{ key: 'kubernetes.io/os', operator: 'In', values: ['linux'] }, { key: 'eks.amazonaws.com/compute-type', operator: 'NotIn', values: ['fargate', 'hybrid', 'auto'] }] }] } } },
      containers: [
        {
          name: 'aws-node', image: '602401143452.dkr.ecr.us-west-2.amazonaws.com/amazon-k8s-cni:v1.19.2-eksbuild.1', imagePullPolicy: 'IfNotPresent',
          env: [...Object.entries(CNI_ENV).slice(0, 8).map(([name, value]) => ({ name, value })), { name: 'MY_NODE_NAME', valueFrom: { fieldRef: { apiVersion: 'v1', fieldPath: 'spec.nodeName' } } }, { name: 'MY_POD_NAME', valueFrom: { fieldRef: { apiVersion: 'v1', fieldPath: 'metadata.name' } } }],
          readinessProbe: { exec: { command: ['/app/grpc-health-probe', '-addr=:50051', '-connect-timeout=5s', '-rpc-timeout=5s'] }, failureThreshold: 3, initialDelaySeconds: 1, periodSeconds: 10, successThreshold: 1, timeoutSeconds: 10 },
          ports: [{ containerPort: 61678, hostPort: 61678, name: 'metrics', protocol: 'TCP' }],
          resources: { requests: { cpu: '25m' } }, securityContext: { capabilities: { add: ['NET_ADMIN', 'NET_RAW'] } },
          livenessProbe: { exec: { command: ['/app/grpc-health-probe', '-addr=:50051'] }, initialDelaySeconds: 60, timeoutSeconds: 10 },
          terminationMessagePath: '/dev/termination-log', terminationMessagePolicy: 'File', volumeMounts: mounts,
        },
        {
          name: 'aws-eks-nodeagent', image: '602401143452.dkr.ecr.us-west-2.amazonaws.com/amazon/aws-network-policy-agent:v1.1.6-eksbuild.1',
          args: ['--enable-ipv6=false', '--enable-network-policy=false', '--metrics-bind-addr=:8162'],
          env: [{ name: 'MY_NODE_NAME', valueFrom: { fieldRef: { apiVersion: 'v1', fieldPath: 'spec.nodeName' } } }],
          imagePullPolicy: 'IfNotPresent', resources: { requests: { cpu: '25m' } }, securityContext: { capabilities: { add: ['NET_ADMIN'] }, privileged: true },
          terminationMessagePath: '/dev/termination-log', terminationMessagePolicy: 'File',
          volumeMounts: [{ mountPath: '/sys/fs/bpf', name: 'bpf-pin-path' }, { mountPath: '/var/run/aws-node', name: 'run-dir' }],
        },
      ],
      initContainers: [{ name: 'aws-vpc-cni-init', image: '602401143452.dkr.ecr.us-west-2.amazonaws.com/amazon-k8s-cni-init:v1.19.2-eksbuild.1', env: [{ name: 'DISABLE_TCP_EARLY_DEMUX', value: 'false' }, { name: 'ENABLE_IPv6', value: 'false' }], imagePullPolicy: 'IfNotPresent', resources: { requests: { cpu: '25m' } }, securityContext: { privileged: true }, volumeMounts: [{ mountPath: '/host/opt/cni/bin', name: 'cni-bin-dir' }] }],
      dnsPolicy: 'ClusterFirst', enableServiceLinks: true, nodeName: node, preemptionPolicy: 'PreemptLowerPriority', priority: 2000001000,
      priorityClassName: 'system-node-critical', restartPolicy: 'Always', schedulerName: 'default-scheduler', securityContext: {},
      serviceAccount: 'aws-node', serviceAccountName: 'aws-node', terminationGracePeriodSeconds: 10,
      tolerations: [{ operator: 'Exists' }, ...['not-ready', 'unreachable', 'disk-pressure', 'memory-pressure', 'pid-pressure', 'unschedulable', 'network-unavailable'].map((t) => ({ effect: 'NoSchedule', key: `node.kubernetes.io/${t}`, operator: 'Exists' }))],
      volumes: [
        { hostPath: { path: '/sys/fs/bpf', type: '' }, name: 'bpf-pin-path' }, { hostPath: { path: '/opt/cni/bin', type: '' }, name: 'cni-bin-dir' },
        { hostPath: { path: '/etc/cni/net.d', type: '' }, name: 'cni-net-dir' }, { hostPath: { path: '/var/log/aws-routed-eni', type: 'DirectoryOrCreate' }, name: 'log-dir' },
        { hostPath: { path: '/var/run/aws-node', type: 'DirectoryOrCreate' }, name: 'run-dir' }, { hostPath: { path: '/run/xtables.lock', type: 'FileOrCreate' }, name: 'xtables-lock' },
        { name: 'kube-api-access-x7k2p', projected: { defaultMode: 420, sources: [{ serviceAccountToken: { expirationSeconds: 3607, path: 'token' } }, { configMap: { items: [{ key: 'ca.crt', path: 'ca.crt' }], name: 'kube-root-ca.crt' } }, { downwardAPI: { items: [{ fieldRef: { apiVersion: 'v1', fieldPath: 'metadata.namespace' }, path: 'namespace' }] } }] } },
      ],
    },
    status: {
      ...pod.status,
      conditions: ['PodReadyToStartContainers', 'Initialized', 'Ready', 'ContainersReady', 'PodScheduled'].map(condition),
      hostIPs: [{ ip }], podIPs: [{ ip }], qosClass: 'Burstable',
      containerStatuses: [
        ...(pod.status.containerStatuses ?? []).map((c) => ({ ...c, image: 'amazon-k8s-cni:v1.19.2-eksbuild.1', imageID: `602401143452.dkr.ecr.us-west-2.amazonaws.com/amazon-k8s-cni@sha256:${hash.repeat(8)}`, lastState: {}, started: true })),
        { containerID: `containerd://${hash.repeat(8)}`, image: 'aws-network-policy-agent:v1.1.6-eksbuild.1', imageID: `602401143452.dkr.ecr.us-west-2.amazonaws.com/amazon/aws-network-policy-agent@sha256:${hash.repeat(8)}`, lastState: {}, name: 'aws-eks-nodeagent', ready: true, restartCount: 0, started: true, state: { running: { startedAt: started } } },
      ],
      initContainerStatuses: [{ containerID: `containerd://${hash.repeat(8)}`, image: 'amazon-k8s-cni-init:v1.19.2-eksbuild.1', lastState: {}, name: 'aws-vpc-cni-init', ready: true, restartCount: 0, started: false, state: { terminated: { containerID: `containerd://${hash.repeat(8)}`, exitCode: 0, finishedAt: started, reason: 'Completed', startedAt: started } } }],
    },
  };
  return wire as unknown as KubePod;
}

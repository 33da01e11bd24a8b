/**
 * The aws-auth ConfigMap as the AWS guide shows it (`kubectl describe configmap -n kube-system aws-auth`):
 * one node group role mapped to system:nodes. Replace it with your cluster's own output.
 */
export const SAMPLE_AWS_AUTH = `Name:         aws-auth
Namespace:    kube-system
Labels:       <none>
Annotations:  <none>

Data
====
mapRoles:
----
- groups:
  - system:bootstrappers
  - system:nodes
  rolearn: arn:aws:iam::111122223333:role/eksctl-my-cluster-nodegroup-my-node-NodeInstanceRole-1XLS7754U3ZPA
  username: system:node:{{EC2PrivateDNSName}}

Events:  <none>
`;

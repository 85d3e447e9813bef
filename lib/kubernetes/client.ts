import { ApplicationFailure } from '@temporalio/common';
import { FailureType } from '../../common/failures';
import type { KubernetesAccess } from '../../config/kubernetesSchema';
import type { RabbitvaultConfig } from '../../config/schema';
import { clusterConfig } from '../clusterConfig';

// @kubernetes/client-node is an ES module: loaded with import() from this
// CommonJS code, once, on first use (workers without Kubernetes never load it).
type ClientNode = typeof import('@kubernetes/client-node', { with: { 'resolution-mode': 'import' } });
let loaded: Promise<ClientNode> | undefined;
export function clientNode(): Promise<ClientNode> {
  loaded ??= import('@kubernetes/client-node');
  return loaded;
}

export interface KubernetesApis {
  k8s: ClientNode;
  core: InstanceType<ClientNode['CoreV1Api']>;
  apps: InstanceType<ClientNode['AppsV1Api']>;
  // "cluster https://... namespace mq": for messages, without any credential.
  describe: string;
}

// A kubeconfig file (its credentials stay in the worker's memory), or the worker pod's service account.
export async function loadKubeConfig(kubeconfig: string, context?: string) {
  const k8s = await clientNode();
  const kc = new k8s.KubeConfig();
  if (kubeconfig === 'in-cluster') kc.loadFromCluster();
  else kc.loadFromFile(kubeconfig);
  if (context) kc.setCurrentContext(context);
  return kc;
}

// Clients for the cluster's Kubernetes API from its kubeconfig (or the pod's service account).
export async function kubernetesApis(access: KubernetesAccess): Promise<KubernetesApis> {
  const k8s = await clientNode();
  const kc = await loadKubeConfig(access.kubeconfig, access.context);
  const server = kc.getCurrentCluster()?.server ?? 'unknown server';
  return { k8s, core: kc.makeApiClient(k8s.CoreV1Api), apps: kc.makeApiClient(k8s.AppsV1Api), describe: `Kubernetes API ${server}, namespace ${access.namespace}` };
}

// The cluster's kubernetes section of the worker's config, or a non-retryable failure naming it.
export function kubernetesAccess(config: RabbitvaultConfig, cluster: string): KubernetesAccess {
  const access = clusterConfig(config, cluster).kubernetes;
  if (!access) {
    throw ApplicationFailure.create({ message: `cluster "${cluster}" has no kubernetes section in the worker's config (clusters.${cluster}.kubernetes)`, type: FailureType.UnknownCluster, nonRetryable: true });
  }
  return access;
}

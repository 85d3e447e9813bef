import { ApplicationFailure } from '@temporalio/common';
import { FailureType } from '../../common/failures';
import type { NodeConfig } from '../../config/nodeSchema';
import type { RabbitvaultConfig } from '../../config/schema';
import { clusterConfig } from '../clusterConfig';
import type { NodeHost } from './access';
import { KubernetesNodeHost } from './kubernetesHost';
import { LocalNodeHost } from './localHost';
import { RabbitNode } from './rabbitNode';

// A node of a cluster of the worker's config, as activities name it.
export interface NodeRef {
  cluster: string;
  node: string;
}

// A node and where its set lives (<cluster>/<component>/<set id>).
export interface NodeSetRef extends NodeRef {
  storage?: string;
  prefix: string;
}

export function configuredNodes(config: RabbitvaultConfig, cluster: string): NodeConfig[] {
  const nodes = clusterConfig(config, cluster).nodes;
  if (nodes.length === 0) {
    throw ApplicationFailure.create({
      message: `cluster "${cluster}" has no nodes in the worker's config (clusters.${cluster}.nodes): data-directory and configuration backups need node access`,
      type: FailureType.UnknownNode,
      nonRetryable: true,
    });
  }
  return nodes;
}

export function nodeConfig(config: RabbitvaultConfig, cluster: string, node: string): NodeConfig {
  const nodes = configuredNodes(config, cluster);
  const found = nodes.find((n) => n.name === node);
  if (!found) {
    throw ApplicationFailure.create({
      message: `node "${node}" is not configured in cluster "${cluster}" (it has ${nodes.map((n) => n.name).join(', ')})`,
      type: FailureType.UnknownNode,
      nonRetryable: true,
    });
  }
  return found;
}

export function hostFor(config: RabbitvaultConfig, cluster: string, node: string): NodeHost {
  const found = nodeConfig(config, cluster, node);
  switch (found.access.type) {
    case 'local':
      return new LocalNodeHost(found.name, found.access);
    case 'kubernetes':
      return new KubernetesNodeHost(found.name, found.access, clusterConfig(config, cluster).kubernetes);
  }
}

// The task queue a node's steps run on: the node's own host worker for
// local access; any worker (the main queue) for pod exec.
export function nodeTaskQueue(config: RabbitvaultConfig, cluster: string, node: string): string {
  const access = nodeConfig(config, cluster, node).access;
  return access.type === 'local' ? access.taskQueue : config.temporal.taskQueue;
}

// signal: the running step's cancellation (see stepNode in activities/).
export function rabbitNode(config: RabbitvaultConfig, cluster: string, node: string, signal?: AbortSignal): RabbitNode {
  return new RabbitNode(hostFor(config, cluster, node), node, signal);
}

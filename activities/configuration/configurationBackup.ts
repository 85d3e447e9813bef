import { ApplicationFailure } from '@temporalio/common';
import { nodeConfigurationArtifact } from '../../common/backupSetLayout';
import type { NodeConfigFile } from '../../common/configurationDetails';
import { FailureType } from '../../common/failures';
import type { Artifact } from '../../common/manifest';
import { storeArtifact } from '../../lib/backupSets/artifacts';
import { clusterConfig } from '../../lib/clusterConfig';
import { configFilesOf, readNodeFile, statNodeFile } from '../../lib/configuration/nodeConfigFiles';
import { nodeTaskQueue, type NodeSetRef } from '../../lib/nodeAccess/hosts';
import { stepNode } from '../stepNode';
import type { ActivityDeps } from '../deps';

export interface CapturedNodeConfiguration {
  storage: string;
  node: string;
  rabbitmqVersion: string;
  files: NodeConfigFile[];
  artifacts: Artifact[];
}

// captureNodeConfiguration runs on the node's own task queue (a worker on the node's host).
export function createConfigurationBackupActivities(deps: ActivityDeps) {
  return {
    // Main queue: which nodes (in config order, on which node task queue) and whether the cluster's Kubernetes objects are backed up.
    async planConfigurationSources(input: { cluster: string; nodes?: string[] }): Promise<{ nodes: Array<{ name: string; taskQueue: string }>; kubernetes: boolean }> {
      const cluster = clusterConfig(deps.config, input.cluster);
      const kubernetes = cluster.kubernetes !== undefined;
      if (!kubernetes && cluster.nodes.length === 0) {
        throw ApplicationFailure.create({
          message: `cluster "${input.cluster}" has neither nodes nor kubernetes in the worker's config (clusters.${input.cluster}.nodes, clusters.${input.cluster}.kubernetes): nothing to read its configuration from`,
          type: FailureType.UnknownNode,
          nonRetryable: true,
        });
      }
      const wanted = input.nodes ?? cluster.nodes.map((n) => n.name);
      return { nodes: wanted.map((name) => ({ name, taskQueue: nodeTaskQueue(deps.config, input.cluster, name) })), kubernetes };
    },

    // The files the node says it runs with, byte for byte, with mode and owner. Idempotent: a retry rewrites the same keys.
    async captureNodeConfiguration(input: NodeSetRef): Promise<CapturedNodeConfiguration> {
      const node = stepNode(deps.config, input);
      const { name: storage, backend } = deps.openStorage(input.storage);
      const rabbitmqVersion = (await node.ctl(['eval', 'rabbit_misc:version().'])).trim().replace(/^"|"$/g, '');
      const files: NodeConfigFile[] = [];
      const artifacts: Artifact[] = [];
      for (const { kind, path } of await configFilesOf(node)) {
        const bytes = await readNodeFile(node, path);
        const stat = await statNodeFile(node, path);
        const artifact = await storeArtifact(backend, input.prefix, nodeConfigurationArtifact(input.node, path), bytes, 'application/octet-stream');
        artifacts.push(artifact);
        files.push({ kind, path, ...stat, artifact: artifact.name, size: artifact.size, sha256: artifact.sha256 });
      }
      if (files.length === 0) {
        throw node.failure(`${input.node} reports no configuration file that exists (rabbitmq-diagnostics status lists none)`, FailureType.NodeCommandFailed, true);
      }
      return { storage, node: input.node, rabbitmqVersion, files, artifacts };
    },
  };
}

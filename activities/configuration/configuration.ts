import { ApplicationFailure } from '@temporalio/common';
import { FailureType } from '../../common/failures';
import type { Artifact } from '../../common/manifest';
import { refuseUntrusted } from '../../common/untrusted';
import { readSmallObject, storeArtifact } from '../../lib/backupSets/artifacts';
import { clusterConfig } from '../../lib/clusterConfig';
import type { ActivityDeps } from '../deps';
import { nodeConfig, rabbitNode } from '../../lib/nodeAccess/hosts';
import {
  configFilesOf,
  isRegularFile,
  nodeConfigPaths,
  nodeFileSha256,
  previousCopyPath,
  putBackNodeFile,
  readNodeFile,
  replaceNodeFile,
  reportedPathFor,
  sha256,
  statNodeFile,
} from '../../lib/configuration/nodeConfigFiles';
import type { NodeConfigFile } from '../../common/configurationDetails';
import type { RabbitNode } from '../../lib/nodeAccess/rabbitNode';

export interface CapturedNodeConfiguration {
  storage: string;
  node: string;
  rabbitmqVersion: string;
  files: NodeConfigFile[];
  artifacts: Artifact[];
}

// identical: the node has the backed-up bytes already; replace: it has other
// bytes; create: the file is missing on the node.
export type ConfigFileAction = 'identical' | 'replace' | 'create';
export interface PlannedConfigFile {
  kind: NodeConfigFile['kind'];
  path: string;
  action: ConfigFileAction;
  // Where the replaced file is kept (replace only).
  previous: string | null;
}

interface NodeSetRef {
  cluster: string;
  node: string;
  storage?: string;
  // <source cluster>/configuration/<set id>
  prefix: string;
}

// Artifact names: <node>--<path with "/" as "--">, unique per node and file.
export function configArtifactName(node: string, path: string): string {
  return `${node}${path.replace(/\//g, '--')}`;
}

// A set's files are written only where the target node itself says it reads
// that kind of file: a path from the set is never trusted (issue 10).
async function refuseUnreportedPaths(node: RabbitNode, files: NodeConfigFile[], setId: string): Promise<void> {
  const paths = await nodeConfigPaths(node);
  for (const [i, file] of files.entries()) {
    const source = { set: setId, artifact: file.artifact };
    const found = reportedPathFor(file, paths);
    if ('refused' in found) {
      throw refuseUntrusted(source, `${file.kind} file for ${node.nodeName} at ${file.path}: ${found.refused}`, FailureType.ConfigurationPathRefused);
    }
    if (files.findIndex((f) => f.path === file.path) !== i) {
      throw refuseUntrusted(source, `${file.path} is named twice for ${node.nodeName}`, FailureType.ConfigurationPathRefused);
    }
  }
}

// All but planConfigurationSources run on the node's own task queue (a worker on the node's host).
export function createConfigurationActivities(deps: ActivityDeps) {
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
      return { nodes: wanted.map((name) => ({ name, taskQueue: nodeConfig(deps.config, input.cluster, name).access.taskQueue })), kubernetes };
    },

    // The files the node says it runs with, byte for byte, with mode and owner. Idempotent: a retry rewrites the same keys.
    async captureNodeConfiguration(input: NodeSetRef): Promise<CapturedNodeConfiguration> {
      const node = rabbitNode(deps.config, input.cluster, input.node);
      const { name: storage, backend } = deps.openStorage(input.storage);
      const rabbitmqVersion = (await node.ctl(['eval', 'rabbit_misc:version().'])).trim().replace(/^"|"$/g, '');
      const files: NodeConfigFile[] = [];
      const artifacts: Artifact[] = [];
      for (const { kind, path } of await configFilesOf(node)) {
        const bytes = await readNodeFile(node, path);
        const stat = await statNodeFile(node, path);
        const artifact = await storeArtifact(backend, input.prefix, configArtifactName(input.node, path), bytes, 'application/octet-stream');
        artifacts.push(artifact);
        files.push({ kind, path, ...stat, artifact: artifact.name, size: artifact.size, sha256: artifact.sha256 });
      }
      if (files.length === 0) {
        throw node.failure(`${input.node} reports no configuration file that exists (rabbitmq-diagnostics status lists none)`, FailureType.NodeCommandFailed, true);
      }
      return { storage, node: input.node, rabbitmqVersion, files, artifacts };
    },

    // What a restore of these files would change on the node; touches nothing.
    // Refuses a file whose path the node does not report for its kind.
    async planConfigurationRestore(input: { cluster: string; node: string; files: NodeConfigFile[]; restoreTag: string; setId?: string }): Promise<PlannedConfigFile[]> {
      const node = rabbitNode(deps.config, input.cluster, input.node);
      await refuseUnreportedPaths(node, input.files, input.setId ?? 'being restored');
      const planned: PlannedConfigFile[] = [];
      for (const file of input.files) {
        const current = await nodeFileSha256(node, file.path);
        const action: ConfigFileAction = current === null ? 'create' : current === file.sha256 ? 'identical' : 'replace';
        planned.push({ kind: file.kind, path: file.path, action, previous: action === 'replace' ? previousCopyPath(file.path, input.restoreTag) : null });
      }
      return planned;
    },

    // Writes the planned files from the set, re-checking each artifact's
    // checksum on the way. A retry skips files already written.
    async writeConfigurationFiles(input: NodeSetRef & { files: NodeConfigFile[]; plan: PlannedConfigFile[] }): Promise<{ written: string[] }> {
      const node = rabbitNode(deps.config, input.cluster, input.node);
      const { backend } = deps.openStorage(input.storage);
      // Again here, as the planning did: this activity writes as root, whatever called it.
      await refuseUnreportedPaths(node, input.files, input.prefix);
      const written: string[] = [];
      for (const step of input.plan.filter((p) => p.action !== 'identical')) {
        const file = input.files.find((f) => f.path === step.path);
        if (!file) throw ApplicationFailure.create({ message: `the plan names ${step.path}, which is no file of the set`, type: FailureType.InvalidInput, nonRetryable: true });
        if ((await nodeFileSha256(node, file.path)) === file.sha256) {
          written.push(file.path);
          continue;
        }
        const bytes = await readSmallObject(backend, `${input.prefix}/${file.artifact}`, 16 * 1024 * 1024);
        if (sha256(bytes) !== file.sha256) {
          throw ApplicationFailure.create({ message: `${file.artifact} changed in storage since it was verified (SHA-256 differs)`, type: FailureType.ManifestChecksumMismatch, nonRetryable: true });
        }
        await replaceNodeFile(node, file, bytes, step.previous);
        written.push(file.path);
      }
      return { written };
    },

    // Compensation: every planned file back as it was before the restore. Idempotent.
    async rollBackConfigurationFiles(input: { cluster: string; node: string; files: NodeConfigFile[]; plan: PlannedConfigFile[] }): Promise<{ putBack: string[] }> {
      const node = rabbitNode(deps.config, input.cluster, input.node);
      const putBack: string[] = [];
      for (const step of input.plan) {
        if (step.action === 'replace' && step.previous && (await isRegularFile(node, step.previous))) {
          await putBackNodeFile(node, step.path, step.previous);
          putBack.push(step.path);
        } else if (step.action === 'create' && (await nodeFileSha256(node, step.path)) === input.files.find((f) => f.path === step.path)?.sha256) {
          await putBackNodeFile(node, step.path, null);
          putBack.push(step.path);
        }
      }
      return { putBack };
    },

    // The node's files now hold the set's bytes (after a restart: the node runs again).
    async checkConfigurationFiles(input: { cluster: string; node: string; files: NodeConfigFile[] }): Promise<{ differing: string[] }> {
      const node = rabbitNode(deps.config, input.cluster, input.node);
      const differing: string[] = [];
      for (const file of input.files) if ((await nodeFileSha256(node, file.path)) !== file.sha256) differing.push(file.path);
      return { differing };
    },

    async stopNodeVm(input: { cluster: string; node: string }): Promise<void> {
      await rabbitNode(deps.config, input.cluster, input.node).stopVm();
    },
  };
}

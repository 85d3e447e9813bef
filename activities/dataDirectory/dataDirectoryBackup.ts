import { ApplicationFailure } from '@temporalio/common';
import { dataDirectoryArtifact, RESTIC_SNAPSHOT_FILE, resticSetTags, setKeyParts } from '../../common/backupSetLayout';
import type { DataDirectoryMethod } from '../../common/dataDirectoryMethod';
import { FailureType } from '../../common/failures';
import type { Artifact } from '../../common/manifest';
import { ARCHIVE_CONTENT_TYPE, compressor } from '../../lib/archive/compression';
import { HashingCounter } from '../../lib/storage/hashingCounter';
import { storeArtifact } from '../../lib/backupSets/artifacts';
import type { ActivityDeps } from '../deps';
import { Restic } from '../../lib/restic/restic';
import { resticRepository } from '../../lib/restic/repository';
import { configuredNodes, nodeConfig, rabbitNode, type NodeRef } from '../../lib/nodeAccess/hosts';
import type { NodeFacts } from '../../lib/nodeAccess/rabbitNode';
import { streamWatch } from './streaming';

export interface StreamedDataDirectory {
  artifact: Artifact;
  tarBytes: number;
  tarSha256: string;
  restic?: { repository: string; snapshotId: string; dataAdded: number; file: string };
}


export function createDataDirectoryBackupActivities(deps: ActivityDeps) {
  return {
    // Main queue: which nodes, in which order, on which node task queue.
    async planDataDirectoryNodes(input: { cluster: string; nodes?: string[] }): Promise<Array<{ name: string; taskQueue: string }>> {
      const wanted = input.nodes ?? configuredNodes(deps.config, input.cluster).map((n) => n.name);
      return wanted.map((name) => ({ name, taskQueue: nodeConfig(deps.config, input.cluster, name).access.taskQueue }));
    },

    // Preflight on the node's host: node up and who it says it is, facts, storage reachable.
    async inspectDataDirectoryNode(input: NodeRef & { storage?: string; method?: DataDirectoryMethod }): Promise<NodeFacts> {
      const node = rabbitNode(deps.config, input.cluster, input.node);
      if (!(await node.appRunning())) {
        throw node.failure(`RabbitMQ on ${input.node} is not running (rabbitmq-diagnostics check_running failed)`, FailureType.NodeUnreachable);
      }
      const facts = await node.facts();
      if (facts.nodeName !== input.node) {
        throw node.failure(`the node reached as ${input.node} says it is ${facts.nodeName}: fix clusters.${input.cluster}.nodes`, FailureType.UnknownNode, true);
      }
      if (input.method === 'restic') await new Restic(resticRepository(deps.config, input.storage)).ensureRepository();
      else if (input.method === 'archive') {
        await deps
          .openStorage(input.storage)
          .backend.probe()
          .catch((error: unknown) => {
            throw ApplicationFailure.create({ message: `storage unreachable: ${(error as Error).message}`, type: FailureType.StorageError });
          });
      }
      return facts;
    },

    async stopNodeApp(input: NodeRef): Promise<void> {
      await rabbitNode(deps.config, input.cluster, input.node).stopApp();
    },

    // Idempotent: retried by the workflow until the node runs and accepts connections.
    async startNodeApp(input: NodeRef): Promise<void> {
      const node = rabbitNode(deps.config, input.cluster, input.node);
      await node.startApp();
      await node.acceptsConnections();
    },

    // tar | compress | upload in one streamed pass while the app is stopped: no temp file.
    async streamDataDirectory(
      input: NodeRef & { storage?: string; prefix: string; method: DataDirectoryMethod; dataDirectory: string; dataBytes: number; cluster: string },
    ): Promise<StreamedDataDirectory> {
      const node = rabbitNode(deps.config, input.cluster, input.node);
      const watch = streamWatch(`copying the data directory of ${input.node}`, input.dataBytes);
      const tar = node.tarOut(input.dataDirectory);
      const counter = new HashingCounter({ onBytes: (bytes) => watch.onBytes(bytes), highWaterMark: 1024 * 1024 });
      tar.on('error', (error) => counter.destroy(error));
      const tarStream = tar.pipe(counter);
      watch.watch(tar, counter);
      try {
        if (input.method === 'restic') {
          const repository = resticRepository(deps.config, input.storage);
          const restic = new Restic(repository);
          const setId = setKeyParts(input.prefix)?.setId ?? input.prefix;
          const summary = await restic.backupStdin(tarStream, { filename: RESTIC_SNAPSHOT_FILE, host: input.node, tags: resticSetTags(input.cluster, setId) });
          const record = { repository: repository.location, snapshotId: summary.snapshotId, dataAdded: summary.dataAdded, file: `/${RESTIC_SNAPSHOT_FILE}` };
          const { backend } = deps.openStorage(input.storage);
          const tarSha256 = counter.sha256();
          const body = Buffer.from(`${JSON.stringify({ ...record, tarBytes: counter.bytes, tarSha256 }, null, 2)}\n`);
          const artifact = await storeArtifact(backend, input.prefix, dataDirectoryArtifact(input.node, 'restic'), body, 'application/json');
          return { artifact, tarBytes: counter.bytes, tarSha256, restic: record };
        }
        const { backend } = deps.openStorage(input.storage);
        const compress = compressor();
        counter.on('error', (error) => compress.destroy(error));
        const compressed = tarStream.pipe(compress);
        watch.watch(tar, counter, compress);
        const artifact = await storeArtifact(backend, input.prefix, dataDirectoryArtifact(input.node, 'archive'), compressed, ARCHIVE_CONTENT_TYPE).catch(
          (error: unknown) => {
            throw error instanceof ApplicationFailure
              ? error
              : ApplicationFailure.create({ message: `uploading the data directory of ${input.node} failed: ${(error as Error).message}`, type: FailureType.StorageError });
          },
        );
        return { artifact, tarBytes: counter.bytes, tarSha256: counter.sha256() };
      } finally {
        watch.done();
      }
    },
  };
}

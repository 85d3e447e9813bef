import { ApplicationFailure } from '@temporalio/common';
import type { DataDirectoryMethod } from '../../common/dataDirectoryMethod';
import { FailureType } from '../../common/failures';
import { writeNodeArtifact, type StreamedDataDirectory } from '../../lib/dataDirectory/artifactWriter';
import { configuredNodes, nodeTaskQueue, type NodeRef } from '../../lib/nodeAccess/hosts';
import { stepNode } from '../stepNode';
import type { NodeFacts } from '../../lib/nodeAccess/rabbitNode';
import { HostCommandFailed } from '../../lib/nodeAccess/access';
import { Restic } from '../../lib/restic/restic';
import { resticRepository } from '../../lib/restic/repository';
import type { ActivityDeps } from '../deps';
import { beating } from '../heartbeats';
import { streamWatch } from './streaming';


export function createDataDirectoryBackupActivities(deps: ActivityDeps) {
  return {
    // Main queue: which nodes, in which order, on which node task queue.
    async planDataDirectoryNodes(input: { cluster: string; nodes?: string[] }): Promise<Array<{ name: string; taskQueue: string }>> {
      const wanted = input.nodes ?? configuredNodes(deps.config, input.cluster).map((n) => n.name);
      return wanted.map((name) => ({ name, taskQueue: nodeTaskQueue(deps.config, input.cluster, name) }));
    },

    // Preflight on the node's host: node up and who it says it is, facts, storage reachable.
    async inspectDataDirectoryNode(input: NodeRef & { storage?: string; method?: DataDirectoryMethod }): Promise<NodeFacts> {
      const node = stepNode(deps.config, input);
      // The directory leaves the host (or the pod's container) as tar on
      // stdout: zstd, restic, hashing and upload run in the worker, so tar is
      // the one tool the host must have.
      await node.host.run(['tar', '--version'], { timeoutMs: 60_000 }).catch((error: unknown) => {
        const missing = error instanceof HostCommandFailed && (error.notFound || error.exitCode === 126 || error.exitCode === 127);
        if (!missing) throw error;
        throw node.failure(`${node.host.describe()} has no tar (${error.message}): the data directory is streamed out of it with tar; install GNU tar there (zstd and restic are not needed there, they run in the worker)`, FailureType.NodeCommandFailed, true);
      });
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

    // Heartbeats while stop_app runs: a worker killed here is noticed in
    // seconds and the step retried (stop_app again is a no-op), so the node is
    // never left stopped for a whole attempt timeout before the start follows.
    async stopNodeApp(input: NodeRef): Promise<void> {
      await beating(() => stepNode(deps.config, input).stopApp());
    },

    // Idempotent: retried by the workflow until the node runs and accepts connections.
    async startNodeApp(input: NodeRef): Promise<void> {
      const node = stepNode(deps.config, input);
      await beating(async () => {
        await node.startApp();
        await node.acceptsConnections();
      });
    },

    // tar | compress | upload in one streamed pass while the app is stopped: no temp file.
    async streamDataDirectory(
      input: NodeRef & { storage?: string; prefix: string; method: DataDirectoryMethod; dataDirectory: string; dataBytes: number; cluster: string },
    ): Promise<StreamedDataDirectory> {
      const node = stepNode(deps.config, input);
      const watch = streamWatch(`copying the data directory of ${input.node}`, input.dataBytes);
      try {
        return await writeNodeArtifact(deps, node.tarOut(input.dataDirectory), input, watch);
      } finally {
        watch.done();
      }
    },
  };
}

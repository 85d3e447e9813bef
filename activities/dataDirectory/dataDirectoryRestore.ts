import { ApplicationFailure } from '@temporalio/common';
import { FailureType } from '../../common/failures';
import type { ActivityDeps } from '../deps';
import { readNodeTar, type NodeArtifactRef } from '../../lib/dataDirectory/artifactReader';
import { nodeConfig, type NodeRef } from '../../lib/nodeAccess/hosts';
import { stepNode } from '../stepNode';
import type { QueueFacts } from '../../lib/nodeAccess/rabbitNode';
import { beating } from '../heartbeats';
import { streamWatch } from './streaming';

export function createDataDirectoryRestoreActivities(deps: ActivityDeps) {
  return {
    // With the app stopped: current data directory moved aside (kept until the
    // restore succeeded), the backup extracted in its place, ownership restored.
    // Idempotent, so a retry after a crash starts the extraction over.
    async extractDataDirectory(input: NodeArtifactRef & NodeRef & { dataDirectory: string; asidePath: string }): Promise<{ tarBytes: number }> {
      const node = stepNode(deps.config, input);
      if (await node.appRunning()) {
        throw node.failure(`RabbitMQ on ${input.node} is running: refusing to replace its data directory`, FailureType.NodeCommandFailed);
      }
      if (!(await node.exists(input.asidePath))) {
        if (await node.exists(input.dataDirectory)) await node.fs(['mv', input.dataDirectory, input.asidePath]);
      } else {
        await node.fs(['rm', '-rf', input.dataDirectory]);
      }
      await node.fs(['mkdir', '-p', input.dataDirectory]);
      const watch = streamWatch(`restoring the data directory of ${input.node}`, input.artifact.size);
      let tarBytes: number;
      try {
        ({ tarBytes } = await readNodeTar(deps, input, input.node, (tar) => node.tarIn(input.dataDirectory, tar), watch));
      } finally {
        watch.done();
      }
      const access = nodeConfig(deps.config, input.cluster, input.node).access;
      // In a pod, tar runs as the container's user: the files are already its own.
      const configuredOwner = access.type === 'local' ? access.owner : undefined;
      const owner = configuredOwner ?? ((await node.exists(input.asidePath)) ? (await node.fs(['stat', '-c', '%u:%g', input.asidePath])).trim() : undefined);
      if (owner) await node.fs(['chown', '-R', owner, input.dataDirectory]);
      return { tarBytes };
    },

    // Compensation: the data directory as it was before the restore.
    async putBackDataDirectory(input: NodeRef & { dataDirectory: string; asidePath: string }): Promise<{ putBack: boolean }> {
      const node = stepNode(deps.config, input);
      return beating(async () => {
        if (!(await node.exists(input.asidePath))) return { putBack: false };
        if (await node.appRunning()) await node.stopApp();
        await node.fs(['rm', '-rf', input.dataDirectory]);
        await node.fs(['mv', input.asidePath, input.dataDirectory]);
        return { putBack: true };
      });
    },

    // After a whole-cluster restore: every quorum queue has a leader and every
    // member online (polled: elections take a few seconds after the start).
    async checkQuorumReplicas(input: NodeRef & { timeoutSeconds: number }): Promise<{ quorumQueues: number; replicas: number }> {
      const node = stepNode(deps.config, input);
      const deadline = Date.now() + input.timeoutSeconds * 1000;
      for (;;) {
        const replicas = await node.quorumReplicas();
        const problems = replicas.flatMap((q) => {
          const offline = q.members.filter((m) => !q.online.includes(m));
          if (!q.leader) return [`quorum queue ${q.name} in vhost ${q.vhost} has no leader`];
          return offline.length > 0 ? [`quorum queue ${q.name} in vhost ${q.vhost}: replicas on ${offline.join(', ')} not online`] : [];
        });
        if (problems.length === 0) return { quorumQueues: replicas.length, replicas: replicas.reduce((n, q) => n + q.online.length, 0) };
        if (Date.now() > deadline) {
          throw ApplicationFailure.create({
            message: `after restore: ${problems.slice(0, 10).join('; ')}${problems.length > 10 ? ` (+${problems.length - 10} more)` : ''}`,
            type: FailureType.RestoreVerificationFailed,
            nonRetryable: true,
          });
        }
        await new Promise((r) => setTimeout(r, 1000));
      }
    },

    async removeAsideDataDirectory(input: NodeRef & { asidePath: string }): Promise<void> {
      await stepNode(deps.config, input).fs(['rm', '-rf', input.asidePath]);
    },

    // Node running with every backed-up queue and its message count (polled:
    // quorum queue counts read 0 for a few seconds after start).
    async verifyRestoredNode(input: NodeRef & { expected: QueueFacts[]; timeoutSeconds: number }): Promise<{ queues: number; messages: number }> {
      const node = stepNode(deps.config, input);
      const deadline = Date.now() + input.timeoutSeconds * 1000;
      let differences: string[] = [];
      for (;;) {
        const live = new Map((await node.queues()).map((q) => [`${q.vhost}/${q.name}`, q]));
        differences = input.expected.flatMap((q) => {
          const found = live.get(`${q.vhost}/${q.name}`);
          if (!found) return [`queue ${q.name} in vhost ${q.vhost} is missing`];
          if (found.messages !== q.messages) return [`queue ${q.name} in vhost ${q.vhost} has ${found.messages} messages, the backup ${q.messages}`];
          return [];
        });
        if (differences.length === 0) break;
        if (Date.now() > deadline) {
          throw ApplicationFailure.create({
            message: `${input.node} after restore: ${differences.slice(0, 10).join('; ')}${differences.length > 10 ? ` (+${differences.length - 10} more)` : ''}`,
            type: FailureType.RestoreVerificationFailed,
            nonRetryable: true,
          });
        }
        await new Promise((r) => setTimeout(r, 1000));
      }
      return { queues: input.expected.length, messages: input.expected.reduce((n, q) => n + q.messages, 0) };
    },
  };
}

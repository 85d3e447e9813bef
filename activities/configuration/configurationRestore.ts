import { ApplicationFailure } from '@temporalio/common';
import type { NodeConfigFile } from '../../common/configurationDetails';
import { FailureType } from '../../common/failures';
import { readVerifiedArtifact } from '../../lib/backupSets/artifacts';
import {
  isRegularFile,
  nodeFileSha256,
  previousCopyPath,
  putBackNodeFile,
  refuseUnreportedPaths,
  replaceNodeFile,
} from '../../lib/configuration/nodeConfigFiles';
import { type NodeSetRef } from '../../lib/nodeAccess/hosts';
import { stepNode } from '../stepNode';
import type { ActivityDeps } from '../deps';
import { beating } from '../heartbeats';

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

// Every activity here runs on the node's own task queue (a worker on the node's host).
export function createConfigurationRestoreActivities(deps: ActivityDeps) {
  return {
    // What a restore of these files would change on the node; touches nothing.
    // Refuses a file whose path the node does not report for its kind.
    async planConfigurationRestore(input: { cluster: string; node: string; files: NodeConfigFile[]; restoreTag: string; setId?: string }): Promise<PlannedConfigFile[]> {
      const node = stepNode(deps.config, input);
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
      const node = stepNode(deps.config, input);
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
        const bytes = await readVerifiedArtifact(backend, input.prefix, { name: file.artifact, sha256: file.sha256 }, 16 * 1024 * 1024);
        await replaceNodeFile(node, file, bytes, step.previous);
        written.push(file.path);
      }
      return { written };
    },

    // Compensation: every planned file back as it was before the restore. Idempotent.
    async rollBackConfigurationFiles(input: { cluster: string; node: string; files: NodeConfigFile[]; plan: PlannedConfigFile[] }): Promise<{ putBack: string[] }> {
      const node = stepNode(deps.config, input);
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
      const node = stepNode(deps.config, input);
      const differing: string[] = [];
      for (const file of input.files) if ((await nodeFileSha256(node, file.path)) !== file.sha256) differing.push(file.path);
      return { differing };
    },

    // Heartbeats while RabbitMQ stops: a worker that dies meanwhile is noticed at
    // the heartbeat timeout, not after a whole attempt timeout with the node down.
    async stopNodeVm(input: { cluster: string; node: string }): Promise<void> {
      await beating(() => stepNode(deps.config, input).stopVm());
    },
  };
}

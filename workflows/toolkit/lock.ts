import { ApplicationFailure, CancellationScope, defineSignal, ParentClosePolicy, patched, startChild, workflowInfo } from '@temporalio/workflow';
import { WorkflowExecutionAlreadyStartedError } from '@temporalio/common';
import { FailureType } from '../../common/failures';
import { dataDirectoryLockWorkflowId } from '../../common/workflowIds';
import { DataDirectoryWorkflow, type DataDirectoryLockInput } from '../../contracts/dataDirectory';

// One operation that stops a cluster's nodes at a time (a data-directory
// backup or restore, a configuration restore with restart): two at once
// would stop and start the same nodes under each other and share a node's
// staging directory. The lock is a child workflow with a fixed id
// (workflows/dataDirectoryLock.ts): Temporal runs at most one workflow per id,
// so the start itself is the atomic test, and the parent-close policy ends the
// lock with its holder, even a terminated one, so no lock outlives its holder.

export const releaseLock = defineSignal('release');

// Runs `work` holding the cluster's lock; refuses at once when another holds it.
export async function withDataDirectoryLock<T>(cluster: string, work: () => Promise<T>): Promise<T> {
  const { workflowType, workflowId, runId } = workflowInfo();
  const lockId = dataDirectoryLockWorkflowId(cluster);
  // Started by its type name: no workflow file imports the lock workflow's file.
  const lock = await startChild<(input: DataDirectoryLockInput) => Promise<void>>(DataDirectoryWorkflow.lock, {
    workflowId: lockId,
    args: [{ cluster, holder: { workflowType, workflowId, runId } }],
    parentClosePolicy: ParentClosePolicy.TERMINATE,
  }).catch((error: unknown) => {
    if (!(error instanceof WorkflowExecutionAlreadyStartedError)) throw error;
    throw ApplicationFailure.create({
      message: `cluster ${cluster} is busy: another operation that stops its nodes is running (a data-directory backup or restore, or a configuration restore with restart; it holds workflow ${lockId}; its parent is the holder); nothing was stopped or changed. Wait for it to end and start this again`,
      type: FailureType.ClusterBusy,
      nonRetryable: true,
    });
  });
  try {
    return await work();
  } finally {
    // Released even when cancelled; should the signal fail, the parent-close policy still ends the lock.
    await CancellationScope.nonCancellable(async () => {
      const released = await lock.signal(releaseLock).then(
        () => true,
        () => false,
      );
      // Wait for the lock to end on the release, so it completes rather than
      // racing the parent-close policy's termination when the holder closes
      // first (seen under load). Histories recorded before this do not wait.
      if (released && patched('lock-release-waits-for-the-lock')) await lock.result().catch(() => undefined);
    });
  }
}

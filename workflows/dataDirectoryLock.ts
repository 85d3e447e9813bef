import {
  ApplicationFailure,
  CancellationScope,
  condition,
  defineSignal,
  ParentClosePolicy,
  setHandler,
  startChild,
  workflowInfo,
} from '@temporalio/workflow';
import { WorkflowExecutionAlreadyStartedError } from '@temporalio/common';
import { FailureType } from '../common/failures';
import { dataDirectoryLockWorkflowId } from '../common/workflowIds';

// One operation that stops a cluster's nodes at a time (a data-directory
// backup or restore, a configuration restore with restart): two at once
// would stop and start the same nodes under each other and share a node's
// staging directory. The lock is a child workflow with a fixed id: Temporal
// runs at most one workflow per id, so the start itself is the atomic test,
// and the parent-close policy ends the lock with its holder, even a
// terminated one, so no lock outlives its holder.

export interface DataDirectoryLockInput {
  cluster: string;
  // The workflow holding the lock (also its parent in the Temporal UI).
  holder: { workflowType: string; workflowId: string; runId: string };
}

export const releaseLock = defineSignal('release');

export async function dataDirectoryLock(_input: DataDirectoryLockInput): Promise<void> {
  let released = false;
  setHandler(releaseLock, () => void (released = true));
  await condition(() => released);
}

// Runs `work` holding the cluster's lock; refuses at once when another holds it.
export async function withDataDirectoryLock<T>(cluster: string, work: () => Promise<T>): Promise<T> {
  const { workflowType, workflowId, runId } = workflowInfo();
  const lockId = dataDirectoryLockWorkflowId(cluster);
  const lock = await startChild(dataDirectoryLock, {
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
    await CancellationScope.nonCancellable(() => lock.signal(releaseLock)).catch(() => undefined);
  }
}

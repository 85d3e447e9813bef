import { condition, setHandler } from '@temporalio/workflow';
import type { DataDirectoryLockInput } from '../contracts/dataDirectory';
import { releaseLock } from './toolkit/lock';

// A cluster's lock for operations that stop its nodes: held while this runs
// under the fixed id dataDirectoryLockWorkflowId(cluster), until its holder
// signals release or ends (workflows/toolkit/lock.ts takes and releases it).
export async function dataDirectoryLock(_input: DataDirectoryLockInput): Promise<void> {
  let released = false;
  setHandler(releaseLock, () => void (released = true));
  await condition(() => released);
}

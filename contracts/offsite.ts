import { z } from 'zod';
import type { OffsiteCopyResult } from '../activities/offsite/offsiteCopy';
import { Component, ResourceName, SetRef } from '../common/names';
import { retryField as retry } from './retry';

// Workflow type name: recorded in every history, never renamed.
export const OffsiteWorkflow = { copy: 'copyBackupOffsite' } as const;

export const CopyBackupOffsiteInput = z
  .object({
    cluster: ResourceName,
    component: Component,
    set: SetRef.default('latest'),
    // Source storage (default storage.default) and destination (default offsite.target).
    from: ResourceName.optional(),
    to: ResourceName.optional(),
    retry,
  })
  .strict();
export type CopyBackupOffsiteInput = z.input<typeof CopyBackupOffsiteInput>;

export type CopyBackupOffsiteResult = OffsiteCopyResult;

export interface OffsiteContracts {
  [OffsiteWorkflow.copy]: { input: CopyBackupOffsiteInput; result: CopyBackupOffsiteResult };
}

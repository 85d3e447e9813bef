import { z } from 'zod';
import type { VerificationReport } from '../lib/backupSets/verify';
import { Component, ResourceName, SetRef } from '../common/names';
import { retryField as retry } from './retry';

// Workflow type name: recorded in every history, never renamed.
export const BackupSetsWorkflow = { verify: 'verifyBackup' } as const;

export const VerifyBackupInput = z
  .object({
    cluster: ResourceName,
    component: Component,
    set: SetRef,
    storage: ResourceName.optional(),
    retry,
  })
  .strict();
export type VerifyBackupInput = z.input<typeof VerifyBackupInput>;

export type VerifyBackupResult = VerificationReport;

export interface BackupSetsContracts {
  [BackupSetsWorkflow.verify]: { input: VerifyBackupInput; result: VerifyBackupResult };
}

import { z } from 'zod';
import type { OffsiteCopyResult } from '../activities/offsite/offsiteCopy';
import { Component, ResourceName } from '../common/names';
import { retryField as retry } from './retry';

// Workflow type name: recorded in every history and schedule, never renamed.
export const SchedulesWorkflow = { backup: 'scheduledBackup' } as const;

export const ScheduledBackupInput = z
  .object({
    cluster: ResourceName,
    component: Component,
    // The component's backup workflow, started as a child (config may name its own).
    workflowType: z.string().min(1),
    input: z.record(z.string(), z.unknown()).default({}),
    storage: ResourceName.optional(),
    retry,
  })
  .strict();
export type ScheduledBackupInput = z.input<typeof ScheduledBackupInput>;

export interface ScheduledBackupResult {
  cluster: string;
  component: string;
  backupWorkflowId: string;
  backup: { setId?: string; storage?: string; location?: string } & Record<string, unknown>;
  offsite?: OffsiteCopyResult;
}

export interface SchedulesContracts {
  [SchedulesWorkflow.backup]: { input: ScheduledBackupInput; result: ScheduledBackupResult };
}

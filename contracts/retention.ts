import { z } from 'zod';
import type { NotASet } from '../lib/backupSets/catalog';
import type { RetentionDecision } from '../lib/retention/policy';
import { Component, ResourceName } from '../common/names';
import { retryField as retry } from './retry';

// Workflow type name: recorded in every history and schedule, never renamed.
export const RetentionWorkflow = { prune: 'pruneBackups' } as const;

export const PruneBackupsInput = z
  .object({
    // Default: every storage target of the worker's config.
    storages: z.array(ResourceName).optional(),
    clusters: z.array(ResourceName).optional(),
    components: z.array(Component).optional(),
    // Safe by default: list what would go; the schedule passes false.
    dryRun: z.boolean().default(true),
    retry,
  })
  .strict();
export type PruneBackupsInput = z.input<typeof PruneBackupsInput>;

export interface PruneBackupsResult {
  dryRun: boolean;
  storages: Array<{
    storage: string;
    location: string;
    deleted: RetentionDecision[];
    kept: RetentionDecision[];
    // Restic snapshots of the deleted data-directory sets, forgotten; then `restic prune` (not in a dry run).
    resticSnapshotsForgotten?: number;
    resticPruneSeconds?: number;
    // Deleted restic sets whose snapshots stay: another storage target holds a copy of the set.
    resticSetsKeptForCopies?: string[];
    // Folders under <cluster>/<component>/ whose names are not set ids: left alone.
    notSets?: NotASet[];
    // Sets whose artifacts were read to decide, and verdicts the worker's cache gave.
    setsVerified?: number;
    verdictsCached?: number;
  }>;
  deletedSets: number;
  deletedBytes: number;
}

export interface RetentionContracts {
  [RetentionWorkflow.prune]: { input: PruneBackupsInput; result: PruneBackupsResult };
}

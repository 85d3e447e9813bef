import { z } from 'zod';
import { Component, ResourceName, SetRef } from './names';
import { RetryInput } from './workflowInputs';

const retry = RetryInput.default(RetryInput.parse({}));

// Workflows that back up and restore each component; config (componentWorkflows) may plug in others.
export const BUILT_IN_COMPONENT_WORKFLOWS: Record<Component, { backup: string; restore?: string; restoreInput?: Record<string, unknown> }> = {
  // A test restore or drill target may already hold some of the entities: keep them and prove the rest.
  definitions: { backup: 'backupDefinitions', restore: 'restoreDefinitions', restoreInput: { onConflict: 'keep-target' } },
  messages: { backup: 'backupMessages', restore: 'restoreMessages' },
  // Restoring a data directory stops the target's nodes: validation and drills use it only when
  // componentWorkflows["data-directory"].restore says so.
  'data-directory': { backup: 'backupDataDirectory' },
  // Restoring configuration rewrites files on the nodes (and restarts them with restart: true): likewise only by config.
  configuration: { backup: 'backupConfiguration' },
};

// The guide's "RTO/RPO Targets" table, in seconds; a drill compares against it.
export const GUIDE_TARGETS: Record<Component | 'full', { scenario: string; rtoSeconds: number; rpoSeconds: number }> = {
  definitions: { scenario: 'Definitions restore', rtoSeconds: 15 * 60, rpoSeconds: 6 * 3600 },
  messages: { scenario: 'Messages restore', rtoSeconds: 2 * 3600, rpoSeconds: 24 * 3600 },
  configuration: { scenario: 'Configuration restore', rtoSeconds: 10 * 60, rpoSeconds: 24 * 3600 },
  'data-directory': { scenario: 'Mnesia database restore', rtoSeconds: 30 * 60, rpoSeconds: 24 * 3600 },
  full: { scenario: 'Full disaster recovery', rtoSeconds: 3600, rpoSeconds: 24 * 3600 },
};

// The guide's validation checklist, per component; config may override.
export const DEFAULT_VALIDATION: Record<Component, { minBytes: number; requiredArtifacts: string[] }> = {
  definitions: { minBytes: 64, requiredArtifacts: ['definitions.json'] },
  messages: { minBytes: 1, requiredArtifacts: [] },
  configuration: { minBytes: 1, requiredArtifacts: [] },
  'data-directory': { minBytes: 1, requiredArtifacts: [] },
};

export const ScheduledBackupInput = z
  .object({
    cluster: ResourceName,
    component: Component,
    workflowType: z.string().min(1),
    input: z.record(z.string(), z.unknown()).default({}),
    storage: ResourceName.optional(),
    retry,
  })
  .strict();
export type ScheduledBackupInput = z.input<typeof ScheduledBackupInput>;

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

export const ValidateBackupsInput = z
  .object({
    // Default: every configured cluster and every component that has sets.
    clusters: z.array(ResourceName).optional(),
    components: z.array(Component).optional(),
    storage: ResourceName.optional(),
    // Throwaway cluster for the test restore (default validation.restoreInto); null: skip it.
    restoreInto: ResourceName.nullable().optional(),
    retry,
  })
  .strict();
export type ValidateBackupsInput = z.input<typeof ValidateBackupsInput>;

export const RestoreDrillInput = z
  .object({
    cluster: ResourceName,
    // Drill target (default drills.targetCluster); never the source cluster.
    target: ResourceName.optional(),
    components: z.array(Component).optional(),
    storage: ResourceName.optional(),
    retry,
  })
  .strict()
  .refine((i) => i.target === undefined || i.target !== i.cluster, { message: 'must differ from cluster', path: ['target'] });
export type RestoreDrillInput = z.input<typeof RestoreDrillInput>;

// Reports stored beside the backups: <cluster>/validations/<ts>/, <cluster>/drills/<ts>/.
export const VALIDATIONS_FOLDER = 'validations';
export const DRILLS_FOLDER = 'drills';

export interface CheckResult {
  check: string;
  ok: boolean;
  // A warning is reported but does not fail validation (e.g. live drift since the backup).
  warning?: boolean;
  detail: string;
}

export interface ComponentValidation {
  cluster: string;
  component: Component;
  status: 'ok' | 'failed' | 'no-backups';
  setId?: string;
  location?: string;
  checks: CheckResult[];
}

export interface ValidationReport {
  checkedAt: string;
  ok: boolean;
  results: ComponentValidation[];
  reportLocations: string[];
}

export interface DrillComponent {
  component: Component;
  status: 'restored' | 'failed' | 'no-backups' | 'no-restore-workflow';
  setId?: string;
  setFinishedAt?: string;
  rpoSeconds?: number;
  rpoTargetSeconds: number;
  rpoMet?: boolean;
  restoreSeconds?: number;
  rtoTargetSeconds: number;
  rtoMet?: boolean;
  detail: string;
}

export interface DrillReport {
  cluster: string;
  target: string;
  storage?: string;
  startedAt: string;
  finishedAt: string;
  // RTO: the whole drill (verify + restore every component) against the guide's full-DR target.
  rtoSeconds: number;
  rtoTargetSeconds: number;
  passed: boolean;
  components: DrillComponent[];
}

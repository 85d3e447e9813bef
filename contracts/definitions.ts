import { z } from 'zod';
import type { DefinitionsCounts } from '../lib/definitions/model';
import type { RestorePlan } from '../lib/definitions/plan';
import { TransformName } from '../common/definitionsTransformNames';
import type { Artifact } from '../common/manifest';
import { ResourceName, SetRef } from '../common/names';
import { retryField as retry } from './retry';

// Workflow type names: recorded in every history and schedule, never renamed.
export const DefinitionsWorkflow = { backup: 'backupDefinitions', restore: 'restoreDefinitions' } as const;

export const BackupDefinitionsInput = z
  .object({
    cluster: ResourceName,
    storage: ResourceName.optional(),
    retry,
  })
  .strict();
export type BackupDefinitionsInput = z.input<typeof BackupDefinitionsInput>;

export interface BackupDefinitionsResult {
  cluster: string;
  setId: string;
  storage: string;
  location: string;
  artifact: Artifact;
  // vhosts.json: vhost metadata the source's export left out (RabbitMQ 3.x).
  vhostMetadata?: Artifact;
  counts: DefinitionsCounts;
  rabbitmqVersion: string | null;
  startedAt: string;
  finishedAt: string;
}

export const RestoreDefinitionsInput = z
  .object({
    cluster: ResourceName,
    from: SetRef,
    sourceCluster: ResourceName.optional(),
    storage: ResourceName.optional(),
    dryRun: z.boolean().default(false),
    // abort: refuse to import while any conflict exists. keep-target: import the
    // rest and report each conflicting entity as left as the target has it.
    onConflict: z.enum(['abort', 'keep-target']).default('abort'),
    // Applied to what is imported, never to the stored artifact (lib/definitions/definitionsTransforms.ts).
    transforms: z.array(TransformName).max(16).default([]),
    // Plan against this RabbitMQ version instead of the target's own (a migration planned before the new cluster exists).
    targetVersion: z.string().regex(/^\d{1,3}\.\d{1,3}(\.\d{1,3})?$/, 'must be a RabbitMQ version like 4.1 or 4.1.2').optional(),
    retry,
  })
  .strict();
export type RestoreDefinitionsInput = z.input<typeof RestoreDefinitionsInput>;

export interface RestoreDefinitionsResult {
  cluster: string;
  sourceCluster: string;
  setId: string;
  location: string;
  dryRun: boolean;
  plan: RestorePlan;
  // After the import: the target re-read and compared with the backup.
  verification?: { ok: true; conflictsLeftAsTarget: number };
}

export interface DefinitionsContracts {
  [DefinitionsWorkflow.backup]: { input: BackupDefinitionsInput; result: BackupDefinitionsResult };
  [DefinitionsWorkflow.restore]: { input: RestoreDefinitionsInput; result: RestoreDefinitionsResult };
}

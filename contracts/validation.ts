import { z } from 'zod';
import { Component, ResourceName } from '../common/names';
import { retryField as retry } from './retry';

// Workflow type name: recorded in every history and schedule, never renamed.
export const ValidationWorkflow = { validate: 'validateBackups' } as const;

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

export interface ValidationContracts {
  [ValidationWorkflow.validate]: { input: ValidateBackupsInput; result: ValidationReport };
}

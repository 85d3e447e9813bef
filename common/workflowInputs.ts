import { z } from 'zod';
import { ResourceName, SetRef } from './names';

// Durations are inputs so an operator can tune them and tests can shorten them.
export const RetryInput = z
  .object({
    initialIntervalSeconds: z.number().positive().max(3600).default(2),
    maximumIntervalSeconds: z.number().positive().max(3600).default(60),
    maximumAttempts: z.number().int().min(1).max(1000).default(8),
    // How long one attempt of one step may take before it is retried elsewhere
    // (also how long a step waits for a worker that died mid-attempt).
    attemptTimeoutSeconds: z.number().positive().max(86400).default(600),
  })
  .strict();
export type RetryInput = z.infer<typeof RetryInput>;

const retry = RetryInput.default(RetryInput.parse({}));

export const BackupDefinitionsInput = z
  .object({
    cluster: ResourceName,
    storage: ResourceName.optional(),
    retry,
  })
  .strict();
export type BackupDefinitionsInput = z.input<typeof BackupDefinitionsInput>;

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
    retry,
  })
  .strict();
export type RestoreDefinitionsInput = z.input<typeof RestoreDefinitionsInput>;

export const VerifyBackupInput = z
  .object({
    cluster: ResourceName,
    component: z.enum(['definitions', 'messages', 'configuration', 'data-directory']),
    set: SetRef,
    storage: ResourceName.optional(),
    retry,
  })
  .strict();
export type VerifyBackupInput = z.input<typeof VerifyBackupInput>;

export function describeIssues(error: z.ZodError): string {
  return error.issues
    .map((issue) => `${issue.path.length ? issue.path.join('.') : '(input)'}: ${issue.message}`)
    .join('; ');
}

import { z } from 'zod';
import { Component, ResourceName } from '../common/names';

// Config of issue 5's automation: schedules, retention, off-site copies,
// validation, drills, metrics. Every part is keyed by component so new backup
// kinds plug in by configuration (componentWorkflows) without code here.

export const Duration = z.string().regex(/^\d+(ms|s|m|h|d)$/, 'must be a duration like 30s, 15m, 6h or 1d');

export const OverlapPolicy = z.enum(['skip', 'buffer-one', 'buffer-all', 'cancel-other', 'terminate-other', 'allow-all']);

const scheduleFields = {
  // Exactly one of every (interval) and cron (5-field cron expression, UTC).
  every: Duration.optional(),
  cron: z.string().min(9).optional(),
  // Random delay added to each run, so many clusters do not start at once.
  jitter: Duration.default('0s'),
  overlap: OverlapPolicy.default('skip'),
  // Runs missed while Temporal was down are made up only within this window.
  catchupWindow: Duration.default('1h'),
  paused: z.boolean().default(false),
};
const oneOfEveryOrCron = (s: { every?: string; cron?: string }) => (s.every === undefined) !== (s.cron === undefined);
const oneOfMessage = { message: 'give exactly one of "every" and "cron"' };

export const ScheduleSpec = z.object(scheduleFields).strict().refine(oneOfEveryOrCron, oneOfMessage);
export type ScheduleSpec = z.infer<typeof ScheduleSpec>;

export const BackupSchedule = z
  .object({
    ...scheduleFields,
    // Default: the component's backup workflow (componentWorkflows).
    workflowType: z.string().min(1).optional(),
    // Extra fields merged into the backup workflow's input ({cluster, storage} come first).
    input: z.record(z.string(), z.unknown()).default({}),
    storage: ResourceName.optional(),
  })
  .strict()
  .refine(oneOfEveryOrCron, oneOfMessage);
export type BackupSchedule = z.infer<typeof BackupSchedule>;

export const SchedulesConfig = z
  .object({
    // cluster -> component -> schedule
    backups: z.record(ResourceName, z.partialRecord(Component, BackupSchedule)).default({}),
    prune: ScheduleSpec.optional(),
    validate: ScheduleSpec.optional(),
    drill: ScheduleSpec.optional(),
    // The replication check of every pair in replication.pairs; its report feeds the metrics and `status`.
    replicationStatus: ScheduleSpec.optional(),
  })
  .strict();
export type SchedulesConfig = z.infer<typeof SchedulesConfig>;

export const RetentionPolicy = z
  .object({
    keepLast: z.number().int().min(0).optional(),
    keepDaily: z.number().int().min(0).optional(),
    keepWeekly: z.number().int().min(0).optional(),
    keepMonthly: z.number().int().min(0).optional(),
    maxAgeDays: z.number().positive().optional(),
  })
  .strict();
export type RetentionPolicy = z.infer<typeof RetentionPolicy>;

export const RetentionConfig = z
  .object({
    // The guide's retention script keeps 30 days.
    default: RetentionPolicy.default({ maxAgeDays: 30 }),
    components: z.partialRecord(Component, RetentionPolicy).default({}),
    // Sets without a manifest older than this are failed runs and are pruned.
    incompleteGraceHours: z.number().positive().default(24),
  })
  .strict();
export type RetentionConfig = z.infer<typeof RetentionConfig>;

export const OffsiteConfig = z
  .object({
    // Second storage target every completed scheduled set is copied to and verified on.
    target: ResourceName,
  })
  .strict();

export const ValidationThresholds = z
  .object({
    minBytes: z.number().int().min(0).optional(),
    rpoHours: z.number().positive().optional(),
    requiredArtifacts: z.array(z.string().min(1)).optional(),
  })
  .strict();
export type ValidationThresholds = z.infer<typeof ValidationThresholds>;

export const ValidationConfig = z
  .object({
    components: z.partialRecord(Component, ValidationThresholds).default({}),
    // A throwaway cluster the newest sets are test-restored into (never production).
    restoreInto: ResourceName.optional(),
  })
  .strict();

export const DrillsConfig = z
  .object({
    targetCluster: ResourceName,
    components: z.array(Component).optional(),
  })
  .strict();

export const ComponentWorkflows = z.partialRecord(
  Component,
  z
    .object({
      backup: z.string().min(1).optional(),
      restore: z.string().min(1).optional(),
      // Extra fields merged into the restore input used by validation and drills.
      restoreInput: z.record(z.string(), z.unknown()).optional(),
    })
    .strict(),
);
export type ComponentWorkflows = z.infer<typeof ComponentWorkflows>;

export const ReplicationConfig = z
  .object({
    // Pairs that `replicate start` set up and that metrics, alerts and `status` watch.
    pairs: z.array(z.object({ source: ResourceName, destination: ResourceName }).strict()).max(100).default([]),
    // A check older than this is stale (a problem in `status`).
    staleAfterSeconds: z.number().positive().default(600),
  })
  .strict();

export const MetricsConfig = z
  .object({
    listen: z.string().regex(/^[^:]+:\d{1,5}$/, 'must be HOST:PORT, e.g. 127.0.0.1:9464'),
    // Figures are recomputed from storage and Temporal at most this often.
    cacheSeconds: z.number().min(0).default(10),
  })
  .strict();

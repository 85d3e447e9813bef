import { z } from 'zod';
import { replicationStatusKey, REPORT_FILES, reportsFolder, type ReportKind } from '../../common/backupSetLayout';
import { readSmallObject } from '../backupSets/artifacts';
import type { StorageBackend } from '../storage/backend';

// Validation and drill reports are read back from storage, so they are
// untrusted: a bounded read and a schema that keeps only the fields the
// metrics and `status` use. A report that does not match is an error the
// caller counts, never a figure.
const MAX_REPORT_BYTES = 4 * 1024 * 1024;

export const StoredValidationReport = z.object({
  checkedAt: z.string().datetime(),
  results: z
    .array(
      z.object({
        component: z.string().max(64),
        status: z.string().max(32),
        checks: z.array(z.object({ check: z.string().max(200), ok: z.boolean(), detail: z.string().max(4000) })).max(100).optional(),
      }),
    )
    .max(64),
});
export type StoredValidationReport = z.infer<typeof StoredValidationReport>;

export const StoredDrillReport = z.object({
  startedAt: z.string().datetime(),
  finishedAt: z.string().datetime(),
  passed: z.boolean(),
  rtoSeconds: z.number().finite().nonnegative(),
  rtoTargetSeconds: z.number().finite().nonnegative().optional(),
});
export type StoredDrillReport = z.infer<typeof StoredDrillReport>;

const SCHEMAS = { validations: StoredValidationReport, drills: StoredDrillReport } as const;

export async function newestReport<K extends ReportKind>(
  backend: StorageBackend,
  cluster: string,
  kind: K,
): Promise<z.infer<(typeof SCHEMAS)[K]> | undefined> {
  const keys = (await backend.list(reportsFolder(cluster, kind)))
    .map((o) => o.key)
    .filter((k) => k.endsWith(`/${REPORT_FILES.json}`))
    .sort();
  const newest = keys.at(-1);
  if (!newest) return undefined;
  const parsed = SCHEMAS[kind].safeParse(JSON.parse((await readSmallObject(backend, newest, MAX_REPORT_BYTES)).toString('utf8')));
  if (!parsed.success) throw new Error(`${backend.locate(newest)} is not a ${kind} report: ${parsed.error.issues[0]?.path.join('.')}: ${parsed.error.issues[0]?.message}`);
  return parsed.data as z.infer<(typeof SCHEMAS)[K]>;
}

// The replication check of a pair (common/backupSetLayout.ts replicationStatusKey).
export const StoredReplicationReport = z.object({
  source: z.string().max(64),
  destination: z.string().max(64),
  checkedAt: z.string().datetime(),
  up: z.boolean(),
  unreachable: z.array(z.string().max(2000)).max(10).default([]),
  links: z
    .array(
      z.object({
        kind: z.string().max(32),
        vhost: z.string().max(255),
        name: z.string().max(1000),
        queue: z.string().max(1000).optional(),
        exchange: z.string().max(1000).optional(),
        state: z.string().max(64),
        reason: z.string().max(2000).optional(),
        lagMessages: z.number().int().nonnegative().optional(),
        transferred: z.number().int().nonnegative().optional(),
        lastTransferAt: z.string().datetime().optional(),
      }),
    )
    .max(10_000),
});
export type StoredReplicationReport = z.infer<typeof StoredReplicationReport>;

const MAX_CLOCK_SKEW_MS = 5 * 60 * 1000;

export async function replicationReport(backend: StorageBackend, source: string, destination: string, now = new Date()): Promise<StoredReplicationReport | undefined> {
  const key = replicationStatusKey(source, destination);
  if (!(await backend.stat(key))) return undefined;
  const refuse = (why: string) => new Error(`${backend.locate(key)} is not a replication report: ${why}`);
  let raw: unknown;
  try {
    raw = JSON.parse((await readSmallObject(backend, key, MAX_REPORT_BYTES)).toString('utf8'));
  } catch (error) {
    throw refuse((error as Error).message);
  }
  const parsed = StoredReplicationReport.safeParse(raw);
  if (!parsed.success) throw refuse(`${parsed.error.issues[0]?.path.join('.')}: ${parsed.error.issues[0]?.message}`);
  const report = parsed.data;
  // Storage is untrusted: a report filed under another pair, or dated ahead to
  // keep the staleness alert quiet, is refused rather than shown.
  if (report.source !== source || report.destination !== destination) throw refuse(`it is about ${report.source} -> ${report.destination}`);
  const ahead = [report.checkedAt, ...report.links.map((l) => l.lastTransferAt)].find((t) => t !== undefined && Date.parse(t) > now.getTime() + MAX_CLOCK_SKEW_MS);
  if (ahead) throw refuse(`it is dated ${ahead}, in the future`);
  return report;
}

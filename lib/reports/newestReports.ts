import { z } from 'zod';
import { REPORT_FILES, reportsFolder, type ReportKind } from '../../common/backupSetLayout';
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

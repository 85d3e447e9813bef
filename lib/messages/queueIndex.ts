import { z } from 'zod';
import { artifactKey, QUEUES_ARTIFACT, segmentName } from '../../common/backupSetLayout';
import { FailureType } from '../../common/failures';
import { parseUntrustedJson, refuseUntrusted } from '../../common/untrusted';
import { readAtMost } from '../backupSets/artifacts';
import type { StorageBackend } from '../storage/backend';
import { sha256Of } from '../storage/hashingCounter';
import { QueueDeclaration } from './queueCatalog';
import { StoredSegment } from './segmentWriter';

const count = z.number().int().nonnegative();

// One queue of a message backup, as queues.json holds it.
export const QueueBackup = z.object({
  queue: QueueDeclaration,
  mode: z.enum(['copy', 'drain', 'skipped']),
  depthAtStart: count,
  messages: count,
  bodyBytes: count,
  segments: z.array(StoredSegment),
  endedBy: z.enum(['depth reached', 'idle', 'queue deleted', 'skipped']),
  note: z.string().optional(),
});
export type QueueBackup = z.infer<typeof QueueBackup>;

// queues.json. A restore reads it back from storage and acts on nothing it has not checked here.
export const QueueIndex = z
  .object({ formatVersion: z.literal(1), queues: z.array(QueueBackup) })
  .superRefine((index, ctx) => {
    for (const [i, backup] of index.queues.entries()) {
      const at = (...path: Array<string | number>) => ['queues', i, ...path];
      for (const field of ['name', 'vhost'] as const) {
        if (Buffer.byteLength(backup.queue[field], 'utf8') > 255) ctx.addIssue({ code: 'custom', path: at('queue', field), message: 'longer than the 255 bytes AMQP allows' });
      }
      const argumentsProblem = amqpTableProblem(backup.queue.arguments);
      if (argumentsProblem) ctx.addIssue({ code: 'custom', path: at('queue', 'arguments'), message: argumentsProblem });
      // Exactly the names the writer gives, so no name can point anywhere else.
      for (const [j, segment] of backup.segments.entries()) {
        const expected = segmentName(i, j);
        if (segment.artifact.name !== expected) ctx.addIssue({ code: 'custom', path: at('segments', j, 'artifact', 'name'), message: `must be ${expected} (segment ${j} of queue ${i}), not ${JSON.stringify(segment.artifact.name.slice(0, 100))}` });
      }
      if (backup.mode === 'skipped' && backup.segments.length) ctx.addIssue({ code: 'custom', path: at('segments'), message: 'a skipped queue has no segments' });
      const sum = (f: (s: StoredSegment) => number) => backup.segments.reduce((n, s) => n + f(s), 0);
      if (sum((s) => s.messages) !== backup.messages) ctx.addIssue({ code: 'custom', path: at('messages'), message: `${backup.messages}, but its segments hold ${sum((s) => s.messages)}` });
      if (sum((s) => s.bodyBytes) !== backup.bodyBytes) ctx.addIssue({ code: 'custom', path: at('bodyBytes'), message: `${backup.bodyBytes}, but its segments hold ${sum((s) => s.bodyBytes)}` });
    }
  });
export type QueueIndex = z.infer<typeof QueueIndex>;

// Queue arguments go to the broker in queue.declare: only what an AMQP table can carry, and not much of it.
function amqpTableProblem(table: Record<string, unknown>): string | undefined {
  if (JSON.stringify(table).length > 65536) return 'more than 64 KiB of arguments';
  const problem = (value: unknown, depth: number): string | undefined => {
    if (depth > 32) return 'nested deeper than 32';
    if (value === null || typeof value === 'string' || typeof value === 'boolean') return undefined;
    if (typeof value === 'number') return Number.isFinite(value) ? undefined : 'a number that is not finite';
    if (Array.isArray(value)) return value.map((v) => problem(v, depth + 1)).find(Boolean);
    if (typeof value !== 'object') return `a value of type ${typeof value}`;
    if ('!' in value) return 'a typed value ("!"), which the backup never writes';
    return Object.entries(value).map(([k, v]) => (Buffer.byteLength(k) > 255 ? `a key longer than 255 bytes` : problem(v, depth + 1))).find(Boolean);
  };
  return problem(table, 0);
}

// Far more than any real index (a few hundred bytes per queue and segment), far less than the worker's memory.
const MAX_INDEX_BYTES = 64 * 1024 * 1024;

// A set's queue index, checked against the manifest's SHA-256 and then the
// schema: nothing that has not passed both is acted on.
export async function readVerifiedQueueIndex(backend: StorageBackend, prefix: string, sha256: string): Promise<QueueBackup[]> {
  const source = { set: prefix, artifact: QUEUES_ARTIFACT };
  const bytes = await readAtMost(backend, artifactKey(prefix, QUEUES_ARTIFACT), MAX_INDEX_BYTES + 1);
  if (bytes.length <= MAX_INDEX_BYTES && sha256Of(bytes) !== sha256) {
    throw refuseUntrusted(source, 'changed in storage since the set was verified', FailureType.SegmentCorrupt);
  }
  return parseUntrustedJson(QueueIndex, bytes, MAX_INDEX_BYTES, source).queues;
}

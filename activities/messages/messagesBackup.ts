import { Context } from '@temporalio/activity';
import { ApplicationFailure } from '@temporalio/common';
import { z } from 'zod';
import { FailureType } from '../../common/failures';
import type { Artifact } from '../../common/manifest';
import { ackMarkKey, artifactKey, QUEUES_ARTIFACT, segmentName, setPrefix } from '../../common/backupSetLayout';
import { storeArtifact } from '../../lib/backupSets/artifacts';
import { clusterConfig } from '../../lib/clusterConfig';
import type { ActivityDeps } from '../deps';
import { amqpLost, connectAmqp } from '../../lib/rabbitmq/amqpConnection';
import { copyRefusal, QueueDeclaration, selectQueues } from '../../lib/messages/queueCatalog';
import { DRAIN_SEGMENT_MESSAGES, readQueue } from '../../lib/messages/queueReader';
import { listQueueSegments, scanSegment, segmentRefusal } from '../../lib/messages/storedSegments';
import { OpenSegment, StoredSegment } from '../../lib/messages/segmentWriter';

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

interface Checkpoint {
  depthAtStart: number;
  segments: StoredSegment[];
}

export function createMessageBackupActivities(deps: ActivityDeps) {
  return {
    async listQueuesForBackup(input: { cluster: string; vhosts: string[]; queues: string[]; mode: 'copy' | 'drain' }) {
      const api = deps.managementApi(input.cluster);
      const overview = await api.overview();
      const rabbitmqVersion = overview.rabbitmq_version ?? null;
      const queues = await selectQueues(api, input.vhosts, input.queues);
      if (input.mode === 'copy') {
        const refusals = queues.map((q) => copyRefusal(q, rabbitmqVersion)).filter((r): r is string => r !== null);
        if (refusals.length) throw ApplicationFailure.create({ message: refusals.join('; '), type: FailureType.CopyWouldDeadLetter, nonRetryable: true });
      }
      return { rabbitmqVersion, queues };
    },

    // One queue into segments. A retry resumes: drain mode from what storage
    // already holds (with dedupe of the last segment), copy mode from scratch.
    async backupQueueMessages(input: {
      cluster: string;
      storage?: string;
      setId: string;
      queueIndex: number;
      queue: QueueDeclaration;
      mode: 'copy' | 'drain';
      segmentMiB: number;
      idleSeconds: number;
    }): Promise<QueueBackup> {
      const ctx = Context.current();
      const { queue } = input;
      const base = { queue, depthAtStart: 0, messages: 0, bodyBytes: 0, segments: [] };
      if (queue.exclusive) return { ...base, mode: 'skipped', endedBy: 'skipped', note: 'exclusive queue: only its owning connection can read it' };
      const isStream = queue.type === 'stream';
      if (isStream && input.mode === 'drain') {
        throw ApplicationFailure.create({ message: `stream "${queue.name}" in vhost "${queue.vhost}" cannot be drained (streams keep messages after reading): use mode "copy"`, type: FailureType.InvalidInput, nonRetryable: true });
      }
      const { backend } = deps.openStorage(input.storage);
      const prefix = setPrefix(input.cluster, 'messages', input.setId);
      const previous = ctx.info.heartbeatDetails as Checkpoint | undefined;
      const existing = await listQueueSegments(backend, prefix, input.queueIndex);

      const segments: StoredSegment[] = [];
      let uncertain: string[] | undefined;
      let mayRepeat: string | undefined;
      if (input.mode === 'drain') {
        // Storage is the truth: every stored segment but the last was acked before
        // the next began, and so was one the checkpoint lists (it is listed only
        // after its ack's round trip), as was one with the "done" mark. An unlisted
        // last one without a "sending" mark was never acked: its messages come back
        // and are recognised. With only that mark the ack may or may not have reached
        // the broker: whatever comes back is stored (a possible duplicate, never a loss).
        for (const [i, name] of existing.entries()) {
          const known = previous?.segments.find((s) => s.artifact.name === name);
          const last = i === existing.length - 1;
          const scanned = known ? { ...known, fingerprints: [] } : await scanOwnSegment(backend, prefix, name, last);
          if (last && !known && !(await backend.stat(ackMarkKey(prefix, name, 'done')))) {
            if (await backend.stat(ackMarkKey(prefix, name, 'sending'))) mayRepeat = `the worker stopped while acking segment ${name}: if that ack did not reach the broker, up to ${scanned.messages} of its messages were stored twice (never lost)`;
            else uncertain = scanned.fingerprints;
          }
          segments.push({ artifact: scanned.artifact, messages: scanned.messages, bodyBytes: scanned.bodyBytes });
        }
      }
      let nextIndex = segments.length;

      const model = await connectAmqp(input.cluster, clusterConfig(deps.config, input.cluster), queue.vhost);
      const where = `queue "${queue.name}" in vhost "${queue.vhost}" of cluster ${input.cluster}`;
      let lostConnection: Error | undefined;
      model.on('close', (error?: Error) => (lostConnection = error ?? new Error('connection closed')));
      try {
        const probe = await model.createChannel();
        probe.on('error', () => undefined);
        const depth = await probe.checkQueue(queue.name).then(
          (ok) => ok.messageCount,
          (error: Error) => {
            if (/404|NOT_FOUND/.test(error.message)) throw ApplicationFailure.create({ message: `${where} does not exist (deleted?)`, type: FailureType.QueueNotFound, nonRetryable: true });
            throw error;
          },
        );
        await probe.close().catch(() => undefined);
        if (input.mode === 'copy' && queue.type === 'quorum' && depth > 65535) {
          throw ApplicationFailure.create({ message: `${where} holds ${depth} messages: a copy of a quorum queue can hold at most 65535 unacked (the AMQP prefetch limit); use mode "drain" and restore it`, type: FailureType.CopyWouldDeadLetter, nonRetryable: true });
        }
        const streamDepth = isStream ? await streamLength(deps, input.cluster, queue) : depth;
        const depthAtStart = previous?.depthAtStart ?? streamDepth + segments.reduce((n, s) => n + s.messages, 0);
        const checkpoint = (): Checkpoint => ({ depthAtStart, segments });
        const beat = (messages = 0, bytes = 0) => ctx.heartbeat({ ...checkpoint(), progress: { messages, bytes } });
        beat();
        const ticker = setInterval(() => beat(), 2000);

        const channel = await model.createChannel();
        try {
          const read = await readQueue({
            model,
            channel,
            queue: queue.name,
            mode: input.mode,
            isStream,
            isQuorum: queue.type === 'quorum',
            depth: streamDepth,
            idleMs: input.idleSeconds * 1000,
            segmentBytes: input.segmentMiB * 1024 * 1024,
            uncertain,
            markAck: (stored, phase) => backend.put(ackMarkKey(prefix, stored.artifact.name, phase), Buffer.alloc(0)),
            openSegment: () => new OpenSegment(backend, prefix, input.queueIndex, nextIndex++),
            onStored: (s) => {
              segments.push(s);
              beat();
            },
            onProgress: (m, b) => beat(m, b),
          });
          // In copy mode, closing the channel gives every unacked message back in its place.
          await channel.close();
          if (input.mode === 'copy') await removeStale(backend, prefix, input.queueIndex, segments.length);
          const messages = segments.reduce((n, s) => n + s.messages, 0);
          return {
            queue,
            mode: input.mode,
            depthAtStart,
            messages,
            bodyBytes: segments.reduce((n, s) => n + s.bodyBytes, 0),
            segments,
            endedBy: read.endedBy,
            ...(read.duplicatesSkipped ? { note: `${read.duplicatesSkipped} redelivered messages of segment ${segments.at(-1)?.artifact.name ?? ''} were already stored and were acked, not stored twice` } : mayRepeat ? { note: mayRepeat } : {}),
          };
        } finally {
          clearInterval(ticker);
        }
      } catch (error) {
        if (error instanceof ApplicationFailure) throw error;
        throw amqpLost(lostConnection ?? error, where);
      } finally {
        await model.close().catch(() => undefined);
      }
    },

    // The set's index of queues and their declarations: always present, so a set of empty queues is still complete.
    async storeQueueIndex(input: { cluster: string; storage?: string; setId: string; queues: QueueBackup[] }): Promise<{ artifact: Artifact; prefix: string; storage: string }> {
      const { name, backend } = deps.openStorage(input.storage);
      const prefix = setPrefix(input.cluster, 'messages', input.setId);
      const index: QueueIndex = { formatVersion: 1, queues: input.queues };
      const body = Buffer.from(`${JSON.stringify(index, null, 2)}\n`);
      return { artifact: await storeArtifact(backend, prefix, QUEUES_ARTIFACT, body, 'application/json'), prefix, storage: name };
    },
  };
}

async function scanOwnSegment(backend: Parameters<typeof scanSegment>[0], prefix: string, name: string, withFingerprints: boolean) {
  try {
    return await scanSegment(backend, prefix, name, withFingerprints, DRAIN_SEGMENT_MESSAGES);
  } catch (error) {
    throw segmentRefusal(prefix, name, error, 'the drain cannot resume from it; nothing more was taken from the queue') ?? error;
  }
}

async function streamLength(deps: ActivityDeps, cluster: string, queue: QueueDeclaration): Promise<number> {
  const info = await deps.managementApi(cluster).getJson<{ messages?: number }>(`/api/queues/${encodeURIComponent(queue.vhost)}/${encodeURIComponent(queue.name)}`);
  return info.messages ?? 0;
}

async function removeStale(backend: Parameters<typeof listQueueSegments>[0], prefix: string, queueIndex: number, keep: number): Promise<void> {
  const keepNames = new Set(Array.from({ length: keep }, (_, i) => segmentName(queueIndex, i)));
  for (const name of await listQueueSegments(backend, prefix, queueIndex)) {
    if (!keepNames.has(name)) await backend.delete(artifactKey(prefix, name));
  }
}

import { Context } from '@temporalio/activity';
import { ApplicationFailure } from '@temporalio/common';
import { FailureType } from '../../common/failures';
import type { Artifact } from '../../common/manifest';
import { ackMarkKey, QUEUES_ARTIFACT, setPrefix } from '../../common/backupSetLayout';
import { storeArtifact } from '../../lib/backupSets/artifacts';
import { clusterConfig } from '../../lib/clusterConfig';
import type { ActivityDeps } from '../deps';
import { heartbeatEveryMs } from '../heartbeats';
import { amqpLost, connectAmqp } from '../../lib/rabbitmq/amqpConnection';
import { copyRefusal, selectQueues, type QueueDeclaration } from '../../lib/messages/queueCatalog';
import type { QueueBackup, QueueIndex } from '../../lib/messages/queueIndex';
import { DRAIN_SEGMENT_MESSAGES, readQueue } from '../../lib/messages/queueReader';
import { listQueueSegments, removeSegmentsFrom, scanSegment, segmentRefusal } from '../../lib/messages/storedSegments';
import type { Failover } from '../../lib/rabbitmq/endpoints';
import { OpenSegment, type StoredSegment } from '../../lib/messages/segmentWriter';

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
      return { rabbitmqVersion, queues, ...(api.failover ? { failover: api.failover } : {}) };
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
    }): Promise<QueueBackup & { failover?: Failover }> {
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

      let failover: Failover | undefined;
      const model = await connectAmqp(input.cluster, clusterConfig(deps.config, input.cluster), queue.vhost, (f) => (failover = f));
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
        const ticker = setInterval(() => beat(), heartbeatEveryMs(ctx));

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
            markAck: async (stored, phase) => {
              await backend.put(ackMarkKey(prefix, stored.artifact.name, phase), Buffer.alloc(0));
            },
            openSegment: () => new OpenSegment(backend, prefix, input.queueIndex, nextIndex++),
            onStored: (s) => {
              segments.push(s);
              beat();
            },
            onProgress: (m, b) => beat(m, b),
          });
          // In copy mode, closing the channel gives every unacked message back in its place.
          await channel.close();
          if (input.mode === 'copy') await removeSegmentsFrom(backend, prefix, input.queueIndex, segments.length);
          const messages = segments.reduce((n, s) => n + s.messages, 0);
          return {
            queue,
            mode: input.mode,
            depthAtStart,
            messages,
            bodyBytes: segments.reduce((n, s) => n + s.bodyBytes, 0),
            segments,
            endedBy: read.endedBy,
            ...(failover ? { failover } : {}),
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

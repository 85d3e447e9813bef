import { createHash } from 'node:crypto';
import { once } from 'node:events';
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { Context } from '@temporalio/activity';
import { ApplicationFailure } from '@temporalio/common';
import type { ConfirmChannel } from 'amqplib';
import { artifactKey, QUEUES_ARTIFACT } from '../../common/backupSetLayout';
import { FailureType } from '../../common/failures';
import { parseUntrustedJson, refuseUntrusted } from '../../common/untrusted';
import type { StorageBackend } from '../../lib/storage/backend';
import { clusterConfig } from '../../lib/clusterConfig';
import type { ActivityDeps } from '../deps';
import { amqpLost, connectAmqp } from '../../lib/rabbitmq/amqpConnection';
import { QueueIndex, type QueueBackup } from './messagesBackup';
import { publishOptionsWithRawProperties } from '../../lib/rabbitmq/rawProperties';
import { checkStoredSegment, segmentRefusal, spooledRecords, spoolStoredSegment } from '../../lib/messages/storedSegments';
import type { StoredSegment } from '../../lib/messages/segmentWriter';

// Far more than any real index (a few hundred bytes per queue and segment), far less than the worker's memory.
const MAX_INDEX_BYTES = 64 * 1024 * 1024;

export interface QueueRestore {
  source: { vhost: string; name: string };
  target: { vhost: string; name: string };
  declared: boolean;
  messages: number;
  published: number;
  confirmed: number;
  resumedAt: number;
  depthBefore: number;
  depthAfter: number;
}

interface Checkpoint {
  depthBefore: number;
  confirmed: number;
  declared: boolean;
}

export function createMessageRestoreActivities(deps: ActivityDeps) {
  return {
    // The set's queue index, checked against the manifest's SHA-256 and then the
    // schema: the workflow only ever sees a validated index.
    async readQueueIndex(input: { storage: string; prefix: string; sha256: string }): Promise<QueueBackup[]> {
      const { backend } = deps.openStorage(input.storage);
      const source = { set: input.prefix, artifact: QUEUES_ARTIFACT };
      const bytes = await readAtMost(backend, artifactKey(input.prefix, QUEUES_ARTIFACT), MAX_INDEX_BYTES + 1);
      if (bytes.length <= MAX_INDEX_BYTES && createHash('sha256').update(bytes).digest('hex') !== input.sha256) {
        throw refuseUntrusted(source, 'changed in storage since the set was verified', FailureType.SegmentCorrupt);
      }
      return parseUntrustedJson(QueueIndex, bytes, MAX_INDEX_BYTES, source).queues;
    },

    // Every segment the restore will publish, read through the bounded parser and
    // checked against the index before anything on the target changes.
    async checkQueueSegments(input: { storage: string; prefix: string; queues: QueueBackup[] }): Promise<{ segments: number; messages: number }> {
      const ctx = Context.current();
      const { backend } = deps.openStorage(input.storage);
      const segments = input.queues.flatMap((q) => q.segments);
      // A retry goes on after the segments an earlier attempt checked.
      let checked = typeof ctx.info.heartbeatDetails === 'number' ? ctx.info.heartbeatDetails : 0;
      const ticker = setInterval(() => ctx.heartbeat(checked), 2000);
      try {
        for (const segment of segments.slice(checked)) {
          await checkStoredSegment(backend, input.prefix, segment).catch((error: unknown) => {
            throw segmentRefusal(input.prefix, segment.artifact.name, error) ?? storageFailure(input.prefix, segment, error);
          });
          checked += 1;
          ctx.heartbeat(checked);
        }
      } finally {
        clearInterval(ticker);
      }
      return { segments: segments.length, messages: segments.reduce((n, s) => n + s.messages, 0) };
    },

    // Publishes one queue's messages in order with publisher confirms. A retry
    // resumes after the last confirmed message, or after what the target already
    // holds beyond its depth before the restore when nobody else consumes from it.
    async restoreQueueMessages(input: {
      cluster: string;
      storage: string;
      prefix: string;
      queue: QueueBackup;
      target: { vhost: string; name: string };
      route: 'default-exchange' | 'original-exchange';
      confirmWindow: number;
    }): Promise<QueueRestore> {
      const ctx = Context.current();
      const { queue, target } = input;
      const total = queue.messages;
      const where = `queue "${target.name}" in vhost "${target.vhost}" of cluster ${input.cluster}`;
      const previous = ctx.info.heartbeatDetails as Checkpoint | undefined;
      const spool = new SegmentSpool(deps.openStorage(input.storage).backend, input.prefix);
      let model: Awaited<ReturnType<typeof connectAmqp>> | undefined;
      let lost: Error | undefined;
      try {
        // A first attempt has its first segment verified before it declares or publishes anything.
        if (!previous && queue.segments[0]) await spool.verified(queue.segments[0], 'nothing was declared or published on the target');
        model = await connectAmqp(input.cluster, clusterConfig(deps.config, input.cluster), target.vhost);
        model.on('close', (error?: Error) => (lost = error ?? new Error('connection closed')));
        const declared = (await declareIfMissing(model, target.name, queue)) || (previous?.declared ?? false);
        const connection = model;
        const probe = async () => {
          const ch = await connection.createChannel();
          const ok = await ch.checkQueue(target.name);
          await ch.close();
          return ok;
        };
        const now = await probe();
        const depthBefore = previous?.depthBefore ?? now.messageCount;
        let resumedAt = previous?.confirmed ?? 0;
        // Messages whose confirm was lost with the killed worker are in the queue already.
        if (previous && now.consumerCount === 0 && queue.queue.type !== 'stream') resumedAt = Math.max(resumedAt, Math.min(total, now.messageCount - depthBefore));
        let confirmed = resumedAt;
        let published = 0;
        const beat = () => ctx.heartbeat({ depthBefore, confirmed, declared } satisfies Checkpoint);
        beat();
        const ticker = setInterval(beat, 2000);
        try {
          const channel = await model.createConfirmChannel();
          let failure: Error | undefined;
          channel.on('error', (error: Error) => (failure = error));
          channel.on('return', (msg: { fields: { replyText?: string } }) => {
            failure ??= ApplicationFailure.create({ message: `a message could not be routed to ${where} (${msg.fields.replyText ?? 'unroutable'})`, type: FailureType.PublishRejected, nonRetryable: true });
          });
          let outstanding = 0;
          let windowOpen: (() => void) | undefined;
          const onConfirm = (error: unknown) => {
            outstanding -= 1;
            if (error) failure ??= ApplicationFailure.create({ message: `${where} refused a message (nack)`, type: FailureType.PublishRejected, nonRetryable: true });
            else confirmed += 1;
            if (outstanding < input.confirmWindow / 2) windowOpen?.();
          };
          let index = 0;
          const todo = queue.segments.filter((segment) => {
            const skip = index + segment.messages <= resumedAt;
            if (skip) index += segment.messages;
            return !skip;
          });
          for (const [k, segment] of todo.entries()) {
            const file = await spool.verified(segment, `not one of its messages was published; ${resumedAt + published} earlier messages of this queue had been`);
            // The next segment downloads and is verified while this one publishes.
            if (todo[k + 1]) void spool.prefetch(todo[k + 1]!);
            try {
              for await (const record of spooledRecords(file, segment)) {
                if (failure) throw failure;
                if (index++ < resumedAt) continue;
                const toDefault = input.route === 'default-exchange' || record.exchange === '';
                const options = { ...publishOptionsWithRawProperties(record.properties), mandatory: true };
                const flowing = channel.publish(toDefault ? '' : record.exchange, toDefault ? target.name : record.routingKey, record.body, options, onConfirm);
                published += 1;
                outstanding += 1;
                if (!flowing) await waitDrain(channel);
                if (outstanding >= input.confirmWindow) await new Promise<void>((resolve) => (windowOpen = resolve)).finally(() => (windowOpen = undefined));
              }
            } catch (error) {
              throw segmentRefusal(input.prefix, segment.artifact.name, error, `${resumedAt + published} messages of this queue had been published when it was found`) ?? error;
            }
            await spool.discard(segment);
          }
          await channel.waitForConfirms();
          if (failure) throw failure;
          await channel.close();
        } finally {
          clearInterval(ticker);
        }
        beat();
        const depthAfter = await settledDepth(probe, depthBefore + confirmed);
        return { source: { vhost: queue.queue.vhost, name: queue.queue.name }, target, declared, messages: total, published, confirmed, resumedAt, depthBefore, depthAfter };
      } catch (error) {
        if (error instanceof ApplicationFailure) throw error;
        throw amqpLost(lost ?? error, where);
      } finally {
        await model?.close().catch(() => undefined);
        await spool.close();
      }
    },
  };
}

// Segments copied to a local directory while their size and SHA-256 are checked
// against the index, so what is published is what was verified, whatever storage
// holds by then. At most two at a time; removed when the restore ends.
class SegmentSpool {
  private dir: Promise<string> | undefined;
  private readonly copies = new Map<string, Promise<string>>();
  constructor(
    private readonly backend: StorageBackend,
    private readonly prefix: string,
  ) {}

  prefetch(segment: StoredSegment): Promise<string> {
    let copy = this.copies.get(segment.artifact.name);
    if (!copy) {
      this.dir ??= mkdtemp(path.join(os.tmpdir(), 'rabbitvault-restore-'));
      copy = this.dir.then(async (dir) => {
        const file = path.join(dir, segment.artifact.name);
        await spoolStoredSegment(this.backend, this.prefix, segment, file);
        return file;
      });
      copy.catch(() => undefined);
      this.copies.set(segment.artifact.name, copy);
    }
    return copy;
  }

  // The local, verified copy; a refusal says what had been done (`outcome`).
  async verified(segment: StoredSegment, outcome: string): Promise<string> {
    return this.prefetch(segment).catch((error: unknown) => {
      throw segmentRefusal(this.prefix, segment.artifact.name, error, outcome) ?? storageFailure(this.prefix, segment, error);
    });
  }

  async discard(segment: StoredSegment): Promise<void> {
    const copy = this.copies.get(segment.artifact.name);
    this.copies.delete(segment.artifact.name);
    if (copy) await rm(await copy, { force: true });
  }

  async close(): Promise<void> {
    await Promise.all([...this.copies.values()].map((c) => c.catch(() => undefined)));
    if (this.dir) await rm(await this.dir, { recursive: true, force: true });
  }
}

// Storage that could not be read: retried like any outage.
function storageFailure(set: string, segment: StoredSegment, error: unknown): ApplicationFailure {
  return ApplicationFailure.create({ message: `reading segment ${segment.artifact.name} of backup set ${set} failed: ${(error as Error).message ?? String(error)}`, type: FailureType.StorageError });
}

// The first maxBytes of an object, without reading the rest.
async function readAtMost(backend: StorageBackend, key: string, maxBytes: number): Promise<Buffer> {
  const chunks: Buffer[] = [];
  let total = 0;
  const body = await backend.get(key);
  for await (const chunk of body) {
    chunks.push(chunk as Buffer);
    total += (chunk as Buffer).length;
    if (total >= maxBytes) break;
  }
  body.destroy();
  return Buffer.concat(chunks).subarray(0, maxBytes);
}

// A quorum queue confirms a message once its log has it, and counts it once its
// state machine has applied it: just after the last confirm the count can lag.
// Re-read for a few seconds until the expected depth shows or the count stops moving.
async function settledDepth(probe: () => Promise<{ messageCount: number }>, expected: number): Promise<number> {
  let last = (await probe()).messageCount;
  for (let i = 0; i < 50 && last !== expected; i += 1) {
    await new Promise((r) => setTimeout(r, 200));
    const now = (await probe()).messageCount;
    if (now === last && i >= 10) break;
    last = now;
  }
  return last;
}

async function waitDrain(channel: ConfirmChannel): Promise<void> {
  await once(channel, 'drain');
}

// Recreates a missing queue from its backed-up declaration; an existing queue is used as it is.
async function declareIfMissing(model: Awaited<ReturnType<typeof connectAmqp>>, name: string, backup: QueueBackup): Promise<boolean> {
  const check = await model.createChannel();
  check.on('error', () => undefined);
  const exists = await check.checkQueue(name).then(
    () => true,
    (error: Error) => {
      if (/404|NOT_FOUND/.test(error.message)) return false;
      throw error;
    },
  );
  if (exists) {
    await check.close();
    return false;
  }
  const declare = await model.createChannel();
  const q = backup.queue;
  await declare.assertQueue(name, { durable: q.durable, autoDelete: q.autoDelete, arguments: q.arguments });
  await declare.close();
  return true;
}

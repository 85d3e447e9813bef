import { createHash } from 'node:crypto';
import { once } from 'node:events';
import { Transform } from 'node:stream';
import { createGunzip } from 'node:zlib';
import { Context } from '@temporalio/activity';
import { ApplicationFailure } from '@temporalio/common';
import type { ConfirmChannel } from 'amqplib';
import { FailureType } from '../../common/failures';
import { clusterConfig, type ActivityDeps } from '../deps';
import { amqpLost, connectAmqp } from './amqpConnection';
import { readSmallObject } from '../backupSets/artifacts';
import { QUEUES_ARTIFACT, type QueueBackup } from './backupActivities';
import { publishOptionsWithRawProperties } from './rawProperties';
import { readRecords } from './segmentFormat';

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
    async readQueueIndex(input: { storage: string; prefix: string; sha256: string }): Promise<QueueBackup[]> {
      const { backend } = deps.openStorage(input.storage);
      const bytes = await readSmallObject(backend, `${input.prefix}/${QUEUES_ARTIFACT}`);
      if (createHash('sha256').update(bytes).digest('hex') !== input.sha256) {
        throw ApplicationFailure.create({ message: `${QUEUES_ARTIFACT} changed in storage since it was verified`, type: FailureType.SegmentCorrupt, nonRetryable: true });
      }
      return (JSON.parse(bytes.toString('utf8')) as { queues: QueueBackup[] }).queues;
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
      const { backend } = deps.openStorage(input.storage);
      const { queue, target } = input;
      const total = queue.messages;
      const where = `queue "${target.name}" in vhost "${target.vhost}" of cluster ${input.cluster}`;
      const previous = ctx.info.heartbeatDetails as Checkpoint | undefined;
      const model = await connectAmqp(input.cluster, clusterConfig(deps.config, input.cluster), target.vhost);
      let lost: Error | undefined;
      model.on('close', (error?: Error) => (lost = error ?? new Error('connection closed')));
      try {
        const declared = (await declareIfMissing(model, target.name, queue)) || (previous?.declared ?? false);
        const probe = async () => {
          const ch = await model.createChannel();
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
          for (const segment of queue.segments) {
            if (index + segment.messages <= resumedAt) {
              index += segment.messages;
              continue;
            }
            const hash = createHash('sha256');
            const tap = new Transform({
              transform(chunk: Buffer, _e, done) {
                hash.update(chunk);
                done(null, chunk);
              },
            });
            const records = readRecords((await backend.get(`${input.prefix}/${segment.artifact.name}`)).pipe(tap).pipe(createGunzip()));
            for await (const record of records) {
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
            if (hash.digest('hex') !== segment.artifact.sha256) {
              throw ApplicationFailure.create({ message: `segment ${segment.artifact.name} changed in storage since it was verified`, type: FailureType.SegmentCorrupt, nonRetryable: true });
            }
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
        await model.close().catch(() => undefined);
      }
    },
  };
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

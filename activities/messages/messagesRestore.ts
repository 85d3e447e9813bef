import { Context } from '@temporalio/activity';
import { ApplicationFailure } from '@temporalio/common';
import { refuseUnhealthyTarget } from '../../lib/rabbitmq/healthChecks';
import { FailureType } from '../../common/failures';
import { clusterConfig } from '../../lib/clusterConfig';
import { readVerifiedQueueIndex, type QueueBackup } from '../../lib/messages/queueIndex';
import { SegmentSpool, storageFailure } from '../../lib/messages/segmentSpool';
import { checkStoredSegment, segmentRefusal, spooledRecords } from '../../lib/messages/storedSegments';
import { declareIfMissing, settledDepth, waitDrain } from '../../lib/messages/targetQueue';
import { amqpLost, connectAmqp } from '../../lib/rabbitmq/amqpConnection';
import { publishOptionsWithRawProperties } from '../../lib/rabbitmq/rawProperties';
import type { ActivityDeps } from '../deps';
import { heartbeatEveryMs } from '../heartbeats';

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
      return readVerifiedQueueIndex(deps.openStorage(input.storage).backend, input.prefix, input.sha256);
    },

    // Every segment the restore will publish, read through the bounded parser and
    // checked against the index before anything on the target changes.
    async checkQueueSegments(input: { storage: string; prefix: string; queues: QueueBackup[] }): Promise<{ segments: number; messages: number }> {
      const ctx = Context.current();
      const { backend } = deps.openStorage(input.storage);
      const segments = input.queues.flatMap((q) => q.segments);
      // A retry goes on after the segments an earlier attempt checked.
      let checked = typeof ctx.info.heartbeatDetails === 'number' ? ctx.info.heartbeatDetails : 0;
      const ticker = setInterval(() => ctx.heartbeat(checked), heartbeatEveryMs(ctx));
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
        if (!previous) await refuseUnhealthyTarget(deps.managementApi(input.cluster), `nothing was declared or published on ${where}`);
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
        const ticker = setInterval(beat, heartbeatEveryMs(ctx));
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

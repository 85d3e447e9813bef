import { once } from 'node:events';
import type { ConfirmChannel } from 'amqplib';
import type { connectAmqp } from '../rabbitmq/amqpConnection';
import type { QueueBackup } from './queueIndex';

// A quorum queue confirms a message once its log has it, and counts it once its
// state machine has applied it: just after the last confirm the count can lag.
// Re-read for a few seconds until the expected depth shows or the count stops moving.
export async function settledDepth(probe: () => Promise<{ messageCount: number }>, expected: number): Promise<number> {
  let last = (await probe()).messageCount;
  for (let i = 0; i < 50 && last !== expected; i += 1) {
    await new Promise((r) => setTimeout(r, 200));
    const now = (await probe()).messageCount;
    if (now === last && i >= 10) break;
    last = now;
  }
  return last;
}

export async function waitDrain(channel: ConfirmChannel): Promise<void> {
  await once(channel, 'drain');
}

// Recreates a missing queue from its backed-up declaration; an existing queue is used as it is.
export async function declareIfMissing(model: Awaited<ReturnType<typeof connectAmqp>>, name: string, backup: QueueBackup): Promise<boolean> {
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

import amqp, { type ChannelModel, type ConsumeMessage, type Options } from 'amqplib';
import { installAmqplibHooks, rawPropertiesOf } from '../../lib/rabbitmq/rawProperties';

// Test and benchmark fixtures that talk to a broker directly (not our code path).
export async function openAmqp(url: string, vhost = '/'): Promise<ChannelModel> {
  installAmqplibHooks();
  const u = new URL(url);
  const model = await amqp.connect({ protocol: 'amqp', hostname: u.hostname, port: Number(u.port), username: 'guest', password: 'guest', vhost, frameMax: 131072 });
  model.on('error', () => undefined);
  return model;
}

export interface FixtureMessage {
  body: Buffer;
  options?: Options.Publish;
}

// Publishes with confirms, in order, at most `window` unconfirmed.
export async function publishAll(model: ChannelModel, queue: string, messages: Iterable<FixtureMessage>, window = 2000): Promise<number> {
  const ch = await model.createConfirmChannel();
  let outstanding = 0;
  let count = 0;
  let release: (() => void) | undefined;
  for (const m of messages) {
    outstanding += 1;
    count += 1;
    ch.sendToQueue(queue, m.body, m.options ?? {}, () => {
      outstanding -= 1;
      if (outstanding <= window / 2) release?.();
    });
    if (outstanding >= window) await new Promise<void>((r) => (release = r));
  }
  await ch.waitForConfirms();
  await ch.close();
  return count;
}

export interface ReadMessage {
  body: Buffer;
  rawProperties: Buffer;
  properties: ConsumeMessage['properties'];
  exchange: string;
  routingKey: string;
}

// Reads every ready message without removing it (the channel closes unacked).
export async function peekAll(model: ChannelModel, queue: string, idleMs = 1000): Promise<ReadMessage[]> {
  const ch = await model.createChannel();
  const out: ReadMessage[] = [];
  const { messageCount } = await ch.checkQueue(queue);
  if (messageCount === 0) {
    await ch.close();
    return out;
  }
  await ch.prefetch(Math.min(65535, Math.max(1, messageCount)));
  await new Promise<void>((resolve) => {
    let timer = setTimeout(resolve, idleMs);
    void ch.consume(queue, (msg) => {
      if (!msg) return resolve();
      out.push({ body: msg.content, rawProperties: rawPropertiesOf(msg.properties), properties: msg.properties, exchange: msg.fields.exchange, routingKey: msg.fields.routingKey });
      clearTimeout(timer);
      if (out.length >= messageCount) return resolve();
      timer = setTimeout(resolve, idleMs);
    });
  });
  await ch.close();
  return out;
}

export async function depth(model: ChannelModel, queue: string): Promise<number> {
  const ch = await model.createChannel();
  ch.on('error', () => undefined);
  const { messageCount } = await ch.checkQueue(queue);
  await ch.close();
  return messageCount;
}

export function* numbered(count: number, size: number, persistent = true): Generator<FixtureMessage> {
  for (let i = 0; i < count; i++) {
    const body = Buffer.alloc(size, i % 251);
    body.writeUInt32BE(i, 0);
    yield { body, options: { persistent, messageId: String(i) } };
  }
}

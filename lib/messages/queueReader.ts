import type { Channel, ChannelModel, ConsumeMessage } from 'amqplib';
import { FrameGate } from '../rabbitmq/frameGate';
import { rawPropertiesOf } from '../rabbitmq/rawProperties';
import { fingerprint, type MessageRecord } from './segmentFormat';
import type { OpenSegment, StoredSegment } from './segmentWriter';

export interface ReadQueueOptions {
  model: ChannelModel;
  channel: Channel;
  queue: string;
  mode: 'copy' | 'drain';
  isStream: boolean;
  isQuorum: boolean;
  // Messages to capture in this attempt: the depth when it started.
  depth: number;
  idleMs: number;
  segmentBytes: number;
  openSegment: () => OpenSegment;
  // Called once a segment is durable (and, in drain mode, its messages acked).
  onStored: (segment: StoredSegment) => void;
  onProgress: (messages: number, bytes: number) => void;
  // Drain: called once a segment is stored, before its ack is sent and again once
  // the broker has processed it; the caller leaves durable marks, so a resume
  // knows whether the ack never happened, surely happened, or may have.
  markAck?: (segment: StoredSegment, phase: 'sending' | 'done') => Promise<void>;
  // Drain resume: fingerprints of the last stored segment, whose ack was never sent.
  uncertain?: string[];
}

export interface ReadQueueResult {
  seen: number;
  duplicatesSkipped: number;
  endedBy: 'depth reached' | 'idle' | 'queue deleted';
}

const INBOX_HIGH = 4096;
const INBOX_HIGH_BYTES = 16 * 1024 * 1024;
const DRAIN_PREFETCH = 10_000;
// A drain segment closes before the prefetch is used up, or the broker would stop sending.
export const DRAIN_SEGMENT_MESSAGES = 8_000;

export function toRecord(msg: ConsumeMessage): MessageRecord {
  return {
    redelivered: msg.fields.redelivered,
    exchange: msg.fields.exchange,
    routingKey: msg.fields.routingKey,
    properties: rawPropertiesOf(msg.properties),
    body: msg.content,
  };
}

// Consumes one queue into segments. Copy mode never acks (except stream
// credit); drain mode acks a segment's messages only after it is stored.
export async function readQueue(o: ReadQueueOptions): Promise<ReadQueueResult> {
  const gate = new FrameGate(o.model);
  const inbox: ConsumeMessage[] = [];
  let inboxBytes = 0;
  let cancelled = false;
  let failure: Error | undefined;
  let wake: (() => void) | undefined;
  const signal = () => {
    const w = wake;
    wake = undefined;
    w?.();
  };
  o.channel.on('close', () => {
    failure ??= new Error('channel closed by the broker');
    signal();
  });
  o.channel.on('error', (error: Error) => {
    failure = error;
    signal();
  });
  // Drain acks per segment, so the broker never has more than DRAIN_PREFETCH
  // messages out; copy never acks, so it asks for the whole depth (quorum
  // queues cap an unlimited prefetch at 2000) and relies on the frame gate.
  const prefetch = o.isStream ? 1000 : o.mode === 'drain' ? DRAIN_PREFETCH : o.isQuorum ? Math.min(65535, Math.max(1, o.depth)) : 0;
  await o.channel.prefetch(prefetch);
  // basic.qos is a round trip on the same channel: once answered, earlier acks have been processed.
  const sync = async () => {
    await gate.holdOpen(() => o.channel.prefetch(prefetch));
    if (inbox.length >= INBOX_HIGH || inboxBytes >= INBOX_HIGH_BYTES) gate.pause();
  };
  const { consumerTag } = await o.channel.consume(
    o.queue,
    (msg) => {
      if (msg === null) cancelled = true;
      else {
        inbox.push(msg);
        inboxBytes += msg.content.length;
        if (inbox.length >= INBOX_HIGH || inboxBytes >= INBOX_HIGH_BYTES) gate.pause();
      }
      signal();
    },
    { noAck: false, ...(o.isStream ? { arguments: { 'x-stream-offset': 'first' } } : {}) },
  );

  const next = async (): Promise<ConsumeMessage | null> => {
    for (;;) {
      const msg = inbox.shift();
      if (msg) {
        inboxBytes -= msg.content.length;
        if (inbox.length < INBOX_HIGH / 2 && inboxBytes < INBOX_HIGH_BYTES / 2) gate.resume();
        return msg;
      }
      if (failure) throw failure;
      if (cancelled) return null;
      const idle = await new Promise<boolean>((resolve) => {
        const timer = setTimeout(() => resolve(true), o.idleMs);
        wake = () => {
          clearTimeout(timer);
          resolve(false);
        };
      });
      if (idle && !inbox.length) return null;
    }
  };

  let segment = o.openSegment();
  let lastInSegment: ConsumeMessage | undefined;
  let seen = 0;
  let duplicatesSkipped = 0;
  let bytes = 0;
  let held: Array<{ msg: ConsumeMessage; record: MessageRecord }> = [];
  let uncertain = o.uncertain && o.uncertain.length ? o.uncertain : undefined;

  const commit = async () => {
    const closing = segment;
    const last = lastInSegment;
    segment = o.openSegment();
    lastInSegment = undefined;
    const stored = await closing.close();
    if (o.mode === 'drain' && last) {
      await o.markAck?.(stored, 'sending');
      o.channel.ack(last, true);
      await sync();
      await o.markAck?.(stored, 'done');
    }
    o.onStored(stored);
  };
  const append = async (msg: ConsumeMessage, record: MessageRecord) => {
    if (o.isStream) o.channel.ack(msg);
    lastInSegment = msg;
    bytes += record.body.length;
    if (!segment.append(record)) await segment.drained();
    if (segment.rawBytes >= o.segmentBytes || (o.mode === 'drain' && segment.messages >= DRAIN_SEGMENT_MESSAGES)) await commit();
  };
  const releaseHeld = async () => {
    const pending = held;
    held = [];
    uncertain = undefined;
    for (const h of pending) await append(h.msg, h.record);
  };

  let endedBy: ReadQueueResult['endedBy'] = 'depth reached';
  try {
    while (seen < o.depth) {
      const msg = await next();
      if (!msg) {
        endedBy = cancelled ? 'queue deleted' : 'idle';
        break;
      }
      seen += 1;
      const record = toRecord(msg);
      if (uncertain) {
        // After a crash between storing a segment and sending its ack, its
        // messages come back first, marked redelivered: recognise them in order
        // and ack without storing again. The caller passes them only when the
        // ack was never sent (no ack mark), so the match cannot take other
        // messages for them; and a message the broker does not mark redelivered
        // was never delivered: everything held is then stored (at worst a
        // duplicate in the backup, never a loss).
        held.push({ msg, record });
        if (!record.redelivered || fingerprint(record) !== uncertain[held.length - 1]) await releaseHeld();
        else if (held.length === uncertain.length) {
          o.channel.ack(msg, true);
          await sync();
          duplicatesSkipped = held.length;
          held = [];
          uncertain = undefined;
        }
      } else await append(msg, record);
      if (seen % 1000 === 0) o.onProgress(seen, bytes);
    }
    await releaseHeld();
    if (segment.messages > 0) await commit();
    segment.abort();
  } catch (error) {
    segment.abort();
    throw error;
  } finally {
    gate.resume();
  }
  if (!cancelled && !failure) await o.channel.cancel(consumerTag).catch(() => undefined);
  o.onProgress(seen, bytes);
  return { seen, duplicatesSkipped, endedBy };
}

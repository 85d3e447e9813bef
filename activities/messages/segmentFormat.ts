import { createHash } from 'node:crypto';

// A segment is gzip( MAGIC, record* ). Each record, all integers big-endian:
//   u32 recordLength (bytes after this field)
//   u8  flags            bit 0: redelivered
//   u8  exchangeLength,   exchange (UTF-8)
//   u8  routingKeyLength, routing key (UTF-8)
//   u32 propertiesLength, basic properties exactly as on the wire (u16 flags + property list, AMQP 0-9-1)
//   u32 bodyLength,       body
export const SEGMENT_MAGIC = Buffer.from('RVMSGS01', 'latin1');
export const SEGMENT_CONTENT_TYPE = 'application/vnd.rabbitvault.messages.v1+gzip';

export interface MessageRecord {
  redelivered: boolean;
  exchange: string;
  routingKey: string;
  properties: Buffer;
  body: Buffer;
}

export function encodeRecordHeader(record: MessageRecord): Buffer {
  const exchange = Buffer.from(record.exchange, 'utf8');
  const routingKey = Buffer.from(record.routingKey, 'utf8');
  const length = 1 + 1 + exchange.length + 1 + routingKey.length + 4 + record.properties.length + 4 + record.body.length;
  const head = Buffer.allocUnsafe(4 + length - record.body.length);
  let at = head.writeUInt32BE(length, 0);
  at = head.writeUInt8(record.redelivered ? 1 : 0, at);
  at = head.writeUInt8(exchange.length, at);
  at += exchange.copy(head, at);
  at = head.writeUInt8(routingKey.length, at);
  at += routingKey.copy(head, at);
  at = head.writeUInt32BE(record.properties.length, at);
  at += record.properties.copy(head, at);
  head.writeUInt32BE(record.body.length, at);
  return head;
}

// Identity of a message for dedupe after a crash: everything but the redelivered flag.
export function fingerprint(record: MessageRecord): string {
  return createHash('sha256')
    .update(`${record.exchange}\0${record.routingKey}\0`)
    .update(record.properties)
    .update(record.body)
    .digest('base64');
}

export class SegmentFormatError extends Error {}

// Parses records out of a segment's decompressed bytes, chunk by chunk.
export async function* readRecords(decompressed: AsyncIterable<Buffer>): AsyncGenerator<MessageRecord> {
  let pending: Buffer[] = [];
  let pendingBytes = 0;
  let magicSeen = false;
  const take = (n: number): Buffer => {
    const all = pending.length === 1 ? pending[0]! : Buffer.concat(pending, pendingBytes);
    const out = all.subarray(0, n);
    const rest = all.subarray(n);
    pending = rest.length ? [rest] : [];
    pendingBytes = rest.length;
    return out;
  };
  for await (const chunk of decompressed) {
    pending.push(chunk);
    pendingBytes += chunk.length;
    if (!magicSeen) {
      if (pendingBytes < SEGMENT_MAGIC.length) continue;
      if (!take(SEGMENT_MAGIC.length).equals(SEGMENT_MAGIC)) throw new SegmentFormatError('not a rabbitvault message segment (bad magic)');
      magicSeen = true;
    }
    while (pendingBytes >= 4) {
      const first = pending[0]!.length >= 4 ? pending[0]! : Buffer.concat(pending, pendingBytes);
      const length = first.readUInt32BE(0);
      if (pendingBytes < 4 + length) break;
      yield parseRecord(take(4 + length).subarray(4));
    }
  }
  if (!magicSeen) throw new SegmentFormatError('segment is empty (no magic)');
  if (pendingBytes > 0) throw new SegmentFormatError(`segment ends inside a record (${pendingBytes} trailing bytes)`);
}

function parseRecord(b: Buffer): MessageRecord {
  let at = 0;
  const flags = b.readUInt8(at++);
  const exLen = b.readUInt8(at++);
  const exchange = b.toString('utf8', at, (at += exLen));
  const rkLen = b.readUInt8(at++);
  const routingKey = b.toString('utf8', at, (at += rkLen));
  const propLen = b.readUInt32BE(at);
  at += 4;
  const properties = b.subarray(at, (at += propLen));
  const bodyLen = b.readUInt32BE(at);
  at += 4;
  const body = b.subarray(at, at + bodyLen);
  if (at + bodyLen !== b.length) throw new SegmentFormatError('record length does not match its fields');
  return { redelivered: (flags & 1) === 1, exchange, routingKey, properties, body };
}

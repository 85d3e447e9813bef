import { isUtf8 } from 'node:buffer';
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

// Segments come back from storage that someone else may have written, so every
// length is checked against these caps before a byte is buffered for it.
// Bodies: 128 MiB is RabbitMQ's default max_message_size (512 MiB its hard
// maximum); a broker at the default neither delivers nor accepts more, and one
// such record is also the most a restore buffers at once (the worker's memory goal is 256 MiB).
export const MAX_BODY_BYTES = 128 * 1024 * 1024;
// Properties travel in one content-header frame: at most our frame_max (131072) less frame and header overhead.
export const MAX_PROPERTIES_BYTES = 131072 - 8 - 12;
// flags, two short names with their lengths, the two u32 lengths.
const FIXED_MAX_BYTES = 1 + 1 + 255 + 1 + 255 + 4 + 4;
const FIXED_MIN_BYTES = 1 + 1 + 1 + 4 + 4;

export interface MessageRecord {
  redelivered: boolean;
  exchange: string;
  routingKey: string;
  properties: Buffer;
  body: Buffer;
}

// What the queue index says a segment holds; the parser refuses the first byte beyond it.
export interface SegmentLimits {
  messages?: number;
  bodyBytes?: number;
  // Below MAX_BODY_BYTES when the restore knows its target takes less.
  maxBodyBytes?: number;
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

// A segment whose bytes break the format: never retried, never published.
export class SegmentFormatError extends Error {
  override name = 'SegmentFormatError';
}

// Parses records out of a segment's decompressed bytes, chunk by chunk. Memory
// stays at one record (checked against the caps and the index before it is allocated).
export async function* readRecords(decompressed: AsyncIterable<Buffer>, limits: SegmentLimits = {}): AsyncGenerator<MessageRecord> {
  const maxBody = Math.min(limits.maxBodyBytes ?? MAX_BODY_BYTES, MAX_BODY_BYTES);
  const magic = Buffer.alloc(SEGMENT_MAGIC.length);
  let magicFill = 0;
  const head = Buffer.alloc(4);
  let headFill = 0;
  let record: Buffer | undefined;
  let recordFill = 0;
  let count = 0;
  let bodyBytes = 0;
  for await (const chunk of decompressed) {
    let at = 0;
    while (at < chunk.length) {
      if (magicFill < magic.length) {
        const n = chunk.copy(magic, magicFill, at, at + magic.length - magicFill);
        magicFill += n;
        at += n;
        if (magicFill === magic.length && !magic.equals(SEGMENT_MAGIC)) throw new SegmentFormatError('not a rabbitvault message segment (bad magic)');
        continue;
      }
      if (!record) {
        const n = chunk.copy(head, headFill, at, at + 4 - headFill);
        headFill += n;
        at += n;
        if (headFill < 4) continue;
        headFill = 0;
        count += 1;
        const remainingBody = limits.bodyBytes === undefined ? maxBody : Math.min(maxBody, limits.bodyBytes - bodyBytes);
        record = Buffer.allocUnsafe(checkDeclaredLength(head.readUInt32BE(0), count, remainingBody, limits));
        recordFill = 0;
      }
      const n = chunk.copy(record, recordFill, at, at + record.length - recordFill);
      recordFill += n;
      at += n;
      if (recordFill < record.length) continue;
      const parsed = parseRecord(record, count);
      record = undefined;
      bodyBytes += parsed.body.length;
      if (limits.bodyBytes !== undefined && bodyBytes > limits.bodyBytes) throw new SegmentFormatError(`record ${count} brings the body bytes to ${bodyBytes}, more than the ${limits.bodyBytes} the index lists`);
      yield parsed;
    }
  }
  if (magicFill < magic.length) throw new SegmentFormatError(magicFill ? 'segment ends inside its magic' : 'segment is empty (no magic)');
  if (headFill > 0) throw new SegmentFormatError(`segment ends inside the length of record ${count + 1} (${headFill} of 4 bytes)`);
  if (record) throw new SegmentFormatError(`segment ends inside record ${count} (${recordFill} of the ${record.length} bytes it declares)`);
  if (limits.messages !== undefined && count !== limits.messages) throw new SegmentFormatError(`segment holds ${count} messages, the index lists ${limits.messages}`);
  if (limits.bodyBytes !== undefined && bodyBytes !== limits.bodyBytes) throw new SegmentFormatError(`segment holds ${bodyBytes} body bytes, the index lists ${limits.bodyBytes}`);
}

function checkDeclaredLength(length: number, n: number, remainingBody: number, limits: SegmentLimits): number {
  if (limits.messages !== undefined && n > limits.messages) throw new SegmentFormatError(`record ${n} is beyond the ${limits.messages} messages the index lists`);
  const cap = FIXED_MAX_BYTES + MAX_PROPERTIES_BYTES + remainingBody;
  if (length > cap) {
    if (remainingBody < MAX_BODY_BYTES) throw new SegmentFormatError(`record ${n} declares ${length} bytes, more than the ${cap} the index leaves room for (${remainingBody} body bytes plus the largest header)`);
    throw new SegmentFormatError(`record ${n} declares ${length} bytes, more than the ${cap}-byte cap (a 128 MiB body, RabbitMQ's default max_message_size, plus the largest header)`);
  }
  if (length < FIXED_MIN_BYTES) throw new SegmentFormatError(`record ${n} declares ${length} bytes, fewer than the ${FIXED_MIN_BYTES} any record has`);
  return length;
}

// Reads one buffer front to back; every read is bounds-checked first.
class Cursor {
  at = 0;
  constructor(
    readonly b: Buffer,
    private readonly end = b.length,
  ) {}
  // Throws `fail(what)` when fewer than k bytes are left.
  need(k: number, fail: (at: number) => Error): void {
    if (this.at + k > this.end) throw fail(this.at);
  }
  u8(fail: (at: number) => Error): number {
    this.need(1, fail);
    return this.b[this.at++]!;
  }
  u32(fail: (at: number) => Error): number {
    this.need(4, fail);
    const value = this.b.readUInt32BE(this.at);
    this.at += 4;
    return value;
  }
  bytes(k: number, fail: (at: number) => Error): Buffer {
    this.need(k, fail);
    return this.b.subarray(this.at, (this.at += k));
  }
}

function parseRecord(b: Buffer, n: number): MessageRecord {
  const c = new Cursor(b);
  const overrun = (what: string) => (at: number) => new SegmentFormatError(`record ${n}: ${what} at offset ${at} runs past the end of the ${b.length}-byte record`);
  const text = (what: string): string => {
    const bytes = c.bytes(c.u8(overrun(`${what} length`)), overrun(what));
    if (!isUtf8(bytes)) throw new SegmentFormatError(`record ${n}: ${what} is not valid UTF-8`);
    return bytes.toString('utf8');
  };
  const flags = c.u8(overrun('flags'));
  if (flags & ~1) throw new SegmentFormatError(`record ${n}: unknown flags 0x${flags.toString(16)}`);
  const exchange = text('exchange name');
  const routingKey = text('routing key');
  const propLen = c.u32(overrun('properties length'));
  if (propLen > MAX_PROPERTIES_BYTES) throw new SegmentFormatError(`record ${n}: properties declare ${propLen} bytes, more than the ${MAX_PROPERTIES_BYTES} one AMQP frame carries`);
  const properties = c.bytes(propLen, overrun(`properties (${propLen} bytes)`));
  const problem = basicPropertiesProblem(properties);
  if (problem) throw new SegmentFormatError(`record ${n}: properties are not AMQP basic properties (${problem})`);
  const bodyLen = c.u32(overrun('body length'));
  if (bodyLen !== b.length - c.at) throw new SegmentFormatError(`record ${n}: body declares ${bodyLen} bytes, but the record has ${b.length - c.at} left`);
  return { redelivered: (flags & 1) === 1, exchange, routingKey, properties, body: b.subarray(c.at) };
}

// Wire types of basic.properties, one per flag bit from the highest (AMQP 0-9-1 §4.2.6.1).
const BASIC_PROPERTY_TYPES = ['shortstr', 'shortstr', 'table', 'octet', 'octet', 'shortstr', 'shortstr', 'shortstr', 'shortstr', 'timestamp', 'shortstr', 'shortstr', 'shortstr', 'shortstr'] as const;
// Fixed-size field values of a table, as RabbitMQ's parser reads them.
const FIXED_FIELD_BYTES: Record<string, number> = { t: 1, b: 1, B: 1, s: 2, u: 2, I: 4, i: 4, f: 4, D: 5, l: 8, d: 8, T: 8, V: 0 };
// Deeper nesting than this in a header is refused rather than recursed into.
const MAX_TABLE_DEPTH = 100;

class PropertiesProblem extends Error {}
const runsPast = (what: string) => (at: number) => new PropertiesProblem(`${what} at offset ${at} runs past the end`);

// Why raw property bytes would not parse as the broker parses them, or undefined.
// They are sent to the target broker as they are, so they are checked first.
export function basicPropertiesProblem(p: Buffer): string | undefined {
  try {
    const c = new Cursor(p);
    c.need(2, runsPast('property flags'));
    const flags = p.readUInt16BE(0);
    c.at = 2;
    if (flags & 0b11) return `reserved property flag bits 0x${(flags & 0b11).toString(16)} are set`;
    for (let i = 0; i < BASIC_PROPERTY_TYPES.length; i += 1) {
      if (!(flags & (0x8000 >> i))) continue;
      const type = BASIC_PROPERTY_TYPES[i];
      if (type === 'shortstr') c.bytes(c.u8(runsPast(`property ${i}`)), runsPast(`property ${i}`));
      else if (type === 'table') skipContainer(c, 'F', 1, 'headers');
      else c.bytes(type === 'octet' ? 1 : 8, runsPast(`property ${i}`));
    }
    return c.at === p.length ? undefined : `${p.length - c.at} bytes after the last property`;
  } catch (error) {
    if (error instanceof PropertiesProblem) return error.message;
    throw error;
  }
}

function skipContainer(c: Cursor, type: 'F' | 'A', depth: number, what: string): void {
  if (depth > MAX_TABLE_DEPTH) throw new PropertiesProblem(`${what} nests deeper than ${MAX_TABLE_DEPTH}`);
  const length = c.u32(runsPast(`${what} length`));
  c.need(length, runsPast(what));
  const inner = new Cursor(c.b.subarray(0, c.at + length));
  inner.at = c.at;
  c.at += length;
  while (inner.at < inner.b.length) {
    if (type === 'F') inner.bytes(inner.u8(runsPast(`${what} field name`)), runsPast(`${what} field name`));
    skipValue(inner, depth, what);
  }
}

function skipValue(c: Cursor, depth: number, what: string): void {
  const code = c.u8(runsPast(`${what} value type`));
  const type = String.fromCharCode(code);
  const fixed = FIXED_FIELD_BYTES[type];
  if (fixed !== undefined) c.bytes(fixed, runsPast(`${what} value`));
  else if (type === 'S' || type === 'x') c.bytes(c.u32(runsPast(`${what} value length`)), runsPast(`${what} value`));
  else if (type === 'F' || type === 'A') skipContainer(c, type, depth + 1, what);
  else throw new PropertiesProblem(`${what} value has unknown field type 0x${code.toString(16)}`);
}

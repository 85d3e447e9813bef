import { createRequire } from 'node:module';

// amqplib decodes the AMQP content header into JS values, which loses header
// field types (an int32 comes back as a JS number and is re-sent as a byte).
// To keep messages bit for bit we capture the raw basic-properties bytes as
// they arrive and send them back unchanged on restore. This reaches into
// amqplib's Connection class; installAmqplibHooks checks the shape it needs.
const RAW = Symbol.for('rabbitvault.rawBasicProperties');
const FRAME_HEADER = 2;
const FRAME_END = 0xce;
const BASIC_CLASS = 60;

interface AmqplibConnectionProto {
  recvFrame(this: { rest: Buffer }): unknown;
  sendMessage(channel: number, method: unknown, fields: unknown, properties: unknown, props: Record<string | symbol, unknown>, content: Buffer): boolean;
  sendContent(channel: number, content: Buffer): boolean;
  channels: Array<{ buffer: { write(b: Buffer): boolean } } | null>;
}

let installed = false;

export function installAmqplibHooks(): void {
  if (installed) return;
  const load = createRequire(require.resolve('amqplib'));
  const { Connection } = load('./lib/connection') as { Connection: { prototype: AmqplibConnectionProto } };
  const defs = load('./lib/defs') as { encodeMethod(method: unknown, channel: number, fields: unknown): Buffer };
  const proto = Connection.prototype;
  if (typeof proto.recvFrame !== 'function' || typeof proto.sendMessage !== 'function' || typeof proto.sendContent !== 'function') {
    throw new Error('this amqplib version has no Connection.recvFrame/sendMessage: raw message properties cannot be captured');
  }
  const recvFrame = proto.recvFrame;
  proto.recvFrame = function (this: { rest: Buffer }) {
    const before = this.rest;
    const frame = recvFrame.call(this) as { id?: number; size?: unknown; fields?: object } | false;
    // Only the call that parsed this exact frame sees it whole at the start of `rest`.
    if (frame && frame.id === BASIC_CLASS && frame.size !== undefined && frame.fields && before.length >= 7 && before[0] === FRAME_HEADER) {
      const payloadSize = before.readUInt32BE(3);
      if (before.length >= 8 + payloadSize && !(RAW in frame.fields)) {
        Object.defineProperty(frame.fields, RAW, { value: Buffer.from(before.subarray(7 + 12, 7 + payloadSize)), enumerable: false });
      }
    }
    return frame;
  };
  const sendMessage = proto.sendMessage;
  proto.sendMessage = function (this: AmqplibConnectionProto, channel, method, fields, properties, props, content) {
    const raw = (props.headers as Record<symbol, unknown> | undefined)?.[RAW];
    if (!Buffer.isBuffer(raw)) return sendMessage.call(this, channel, method, fields, properties, props, content);
    const header = Buffer.alloc(7 + 12 + raw.length + 1);
    header.writeUInt8(FRAME_HEADER, 0);
    header.writeUInt16BE(channel, 1);
    header.writeUInt32BE(12 + raw.length, 3);
    header.writeUInt16BE(BASIC_CLASS, 7);
    header.writeUInt16BE(0, 9);
    header.writeBigUInt64BE(BigInt(content.length), 11);
    raw.copy(header, 19);
    header.writeUInt8(FRAME_END, header.length - 1);
    const buffer = this.channels[channel]!.buffer;
    (this as unknown as { sentSinceLastCheck: boolean }).sentSinceLastCheck = true;
    buffer.write(Buffer.concat([defs.encodeMethod(method, channel, fields), header]));
    return content.length > 0 ? this.sendContent(channel, content) : true;
  };
  installed = true;
}

// The raw basic properties (16-bit flags + property list, AMQP 0-9-1 §4.2.6.1) of a received message.
export function rawPropertiesOf(properties: object): Buffer {
  const raw = (properties as Record<symbol, unknown>)[RAW];
  if (!Buffer.isBuffer(raw)) throw new Error('message arrived without captured raw properties (amqplib hooks not installed before connecting)');
  return raw;
}

// Publish options that make amqplib send these exact property bytes.
export function publishOptionsWithRawProperties(raw: Buffer): { headers: Record<symbol, Buffer> } {
  const headers: Record<symbol, Buffer> = {};
  Object.defineProperty(headers, RAW, { value: raw, enumerable: false });
  return { headers };
}

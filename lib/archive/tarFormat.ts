// Tar headers read strictly, byte by byte, from untrusted storage, and the
// GNU-format headers the guard writes for `tar -x` itself.
export const BLOCK = 512;

export class UnsafeArchiveError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'UnsafeArchiveError';
  }
}

export interface ParsedHeader {
  type: string;
  // Names are kept as latin1 strings: one char per byte, so any byte survives the round trip.
  name: string;
  link: string;
  size: number;
  mode: number;
  mtime: number;
}

const POSIX_MAGIC = Buffer.from('ustar\x0000', 'latin1');
const GNU_MAGIC = Buffer.from('ustar  \x00', 'latin1');
const NO_MAGIC = Buffer.alloc(8);

// One 512-byte header; `at` says where it is for the refusal message.
export function parseHeader(block: Buffer, at: string): ParsedHeader {
  const stored = octal(block.subarray(148, 156), `${at}: checksum field`, false);
  let sum = 0;
  for (let i = 0; i < BLOCK; i += 1) sum += i >= 148 && i < 156 ? 32 : block[i]!;
  if (stored !== sum) throw new UnsafeArchiveError(`archive is corrupted: ${at}: header checksum ${stored} does not match ${sum}`);
  const magic = block.subarray(257, 265);
  let prefix = '';
  if (magic.equals(POSIX_MAGIC)) prefix = cString(block.subarray(345, 500));
  else if (!magic.equals(GNU_MAGIC) && !magic.equals(NO_MAGIC)) {
    throw new UnsafeArchiveError(`archive is corrupted: ${at}: unknown header format (magic ${JSON.stringify(magic.toString('latin1'))})`);
  }
  const name = cString(block.subarray(0, 100));
  return {
    type: String.fromCharCode(block[156]!),
    name: prefix ? `${prefix}/${name}` : name,
    link: cString(block.subarray(157, 257)),
    size: octal(block.subarray(124, 136), `${at}: size field`, true),
    mode: octal(block.subarray(100, 108), `${at}: mode field`, false),
    mtime: octal(block.subarray(136, 148), `${at}: mtime field`, true),
  };
}

// Octal digits (leading spaces, then NUL/space padding only), or GNU base-256
// where allowed, never beyond Number.MAX_SAFE_INTEGER.
export function octal(field: Buffer, what: string, base256: boolean): number {
  if (field[0]! & 0x80) {
    if (!base256 || field[0] !== 0x80) throw new UnsafeArchiveError(`archive is corrupted: ${what} holds a negative or unsupported binary number`);
    let value = 0;
    for (const byte of field.subarray(1)) {
      if (value > (Number.MAX_SAFE_INTEGER - byte) / 256) throw new UnsafeArchiveError(`archive is corrupted: ${what} is larger than ${Number.MAX_SAFE_INTEGER}`);
      value = value * 256 + byte;
    }
    return value;
  }
  let i = 0;
  while (i < field.length && field[i] === 0x20) i += 1;
  let value = 0;
  const start = i;
  while (i < field.length && field[i]! >= 0x30 && field[i]! <= 0x37) {
    value = value * 8 + field[i]! - 0x30;
    i += 1;
  }
  const digits = i - start;
  while (i < field.length && (field[i] === 0 || field[i] === 0x20)) i += 1;
  if (digits === 0 || i !== field.length) throw new UnsafeArchiveError(`archive is corrupted: ${what} is not an octal number (${JSON.stringify(field.toString('latin1'))})`);
  return value;
}

function cString(field: Buffer): string {
  const end = field.indexOf(0);
  return field.subarray(0, end === -1 ? field.length : end).toString('latin1');
}

// PAX extended header data: `<decimal length> <key>=<value>\n` records, parsed on bytes.
export function parsePaxRecords(data: Buffer, at: string): Map<string, Buffer> {
  const records = new Map<string, Buffer>();
  let offset = 0;
  while (offset < data.length) {
    const where = `${at}: PAX record at byte ${offset}`;
    let i = offset;
    let length = 0;
    while (i < data.length && i - offset < 10 && data[i]! >= 0x30 && data[i]! <= 0x39) {
      length = length * 10 + data[i]! - 0x30;
      i += 1;
    }
    if (i === offset || data[i] !== 0x20) throw new UnsafeArchiveError(`archive is corrupted: ${where}: the length is not decimal digits followed by one space`);
    const end = offset + length;
    if (end <= i + 1 || end > data.length) throw new UnsafeArchiveError(`archive is corrupted: ${where}: length ${length} does not fit the header`);
    if (data[end - 1] !== 0x0a) throw new UnsafeArchiveError(`archive is corrupted: ${where}: does not end with a newline`);
    const record = data.subarray(i + 1, end - 1);
    const eq = record.indexOf(0x3d);
    const key = eq > 0 ? record.subarray(0, eq).toString('latin1') : '';
    if (!/^[\x21-\x3c\x3e-\x7e]+$/.test(key)) throw new UnsafeArchiveError(`archive is corrupted: ${where}: no valid key=value`);
    if (records.has(key)) throw new UnsafeArchiveError(`archive is refused: ${where}: key ${key} appears twice`);
    records.set(key, record.subarray(eq + 1));
    offset = end;
  }
  return records;
}

export interface EmittedEntry {
  type: '0' | '1' | '2' | '5';
  name: string;
  link?: string;
  mode: number;
  size: number;
  mtime: number;
}

const OCTAL_11_MAX = 8 ** 11 - 1;

// GNU format, as GNU tar writes by default: long names go in an 'L'/'K' entry
// whose bytes tar takes as they are (a PAX path would be charset-converted),
// sizes past 8 GiB in base-256.
export function entryHeaders(entry: EmittedEntry): Buffer {
  const name = Buffer.from(entry.name, 'latin1');
  const link = Buffer.from(entry.link ?? '', 'latin1');
  const blocks: Buffer[] = [];
  if (link.length >= 100) blocks.push(...longName('K', link));
  if (name.length >= 100) blocks.push(...longName('L', name));
  blocks.push(header({ type: entry.type, name: name.subarray(0, 99), link: link.subarray(0, 99), mode: entry.mode, size: entry.size, mtime: entry.mtime }));
  return Buffer.concat(blocks);
}

function longName(type: 'L' | 'K', value: Buffer): Buffer[] {
  const data = Buffer.concat([value, Buffer.alloc(1)]);
  const padded = Buffer.alloc(Math.ceil(data.length / BLOCK) * BLOCK);
  data.copy(padded);
  return [header({ type, name: Buffer.from('././@LongLink'), link: Buffer.alloc(0), mode: 0o644, size: data.length, mtime: 0 }), padded];
}

function header(h: { type: string; name: Buffer; link: Buffer; mode: number; size: number; mtime: number }): Buffer {
  const block = Buffer.alloc(BLOCK);
  h.name.copy(block, 0);
  writeOctal(block, 100, 8, h.mode & 0o777);
  writeOctal(block, 108, 8, 0);
  writeOctal(block, 116, 8, 0);
  if (h.size <= OCTAL_11_MAX) writeOctal(block, 124, 12, h.size);
  else writeBase256(block, 124, 12, h.size);
  writeOctal(block, 136, 12, Math.min(Math.max(0, Math.floor(h.mtime)), OCTAL_11_MAX));
  block.write(h.type, 156, 'latin1');
  h.link.copy(block, 157);
  GNU_MAGIC.copy(block, 257);
  block.fill(0x20, 148, 156);
  let sum = 0;
  for (const byte of block) sum += byte;
  block.write(`${sum.toString(8).padStart(6, '0')}\0 `, 148, 'latin1');
  return block;
}

function writeOctal(block: Buffer, offset: number, width: number, value: number): void {
  block.write(`${value.toString(8).padStart(width - 1, '0')}\0`, offset, 'latin1');
}

function writeBase256(block: Buffer, offset: number, width: number, value: number): void {
  block[offset] = 0x80;
  let rest = value;
  for (let i = offset + width - 1; i > offset; i -= 1) {
    block[i] = rest % 256;
    rest = Math.floor(rest / 256);
  }
}

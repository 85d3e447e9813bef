import path from 'node:path';
import { Transform, type TransformCallback } from 'node:stream';

const BLOCK = 512;
const META_LIMIT = 1024 * 1024;

export class UnsafeArchiveError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'UnsafeArchiveError';
  }
}

export interface TarSummary {
  entries: number;
  files: number;
  directories: number;
  links: number;
  fileBytes: number;
}

// Entry types a data directory may hold; anything else (devices, FIFOs, sparse, unknown) is refused.
const REGULAR = new Set(['0', '\0', '7']);
const META = new Set(['x', 'g', 'L', 'K']);

// Parses a tar stream as it passes and only lets a header's bytes through once
// the entry is proven safe: no absolute paths, no "..", no links that could
// lead outside the extraction root, no device files. Truncated or corrupted
// archives fail too. Placed in front of `tar -x`, nothing unsafe reaches disk.
export class TarGuard extends Transform {
  readonly summary: TarSummary = { entries: 0, files: 0, directories: 0, links: 0, fileBytes: 0 };
  private pending = Buffer.alloc(0);
  private dataLeft = 0; // bytes of the current entry's body (with padding) still to pass
  private metaType: string | null = null;
  private metaChunks: Buffer[] = [];
  private pax: Record<string, string> = {};
  private longName: string | null = null;
  private longLink: string | null = null;
  private zeroBlocks = 0;
  private ended = false;

  constructor() {
    super({ highWaterMark: 1024 * 1024 });
  }

  override _transform(chunk: Buffer, _encoding: BufferEncoding, done: TransformCallback): void {
    try {
      this.consume(chunk);
      done();
    } catch (error) {
      done(error as Error);
    }
  }

  override _flush(done: TransformCallback): void {
    if (!this.ended) return done(new UnsafeArchiveError('archive is truncated: it ends before the tar end-of-archive marker'));
    done();
  }

  private consume(chunk: Buffer): void {
    let offset = 0;
    while (offset < chunk.length) {
      if (this.ended) {
        this.push(chunk.subarray(offset));
        return;
      }
      if (this.dataLeft > 0) {
        const take = Math.min(this.dataLeft, chunk.length - offset);
        const body = chunk.subarray(offset, offset + take);
        if (this.metaType) this.collectMeta(body);
        this.push(body);
        this.dataLeft -= take;
        offset += take;
        if (this.dataLeft === 0 && this.metaType) this.finishMeta();
        continue;
      }
      const need = BLOCK - this.pending.length;
      const take = Math.min(need, chunk.length - offset);
      this.pending = Buffer.concat([this.pending, chunk.subarray(offset, offset + take)]);
      offset += take;
      if (this.pending.length < BLOCK) return;
      const header = this.pending;
      this.pending = Buffer.alloc(0);
      this.header(header);
      this.push(header);
    }
  }

  private header(block: Buffer): void {
    if (block.every((b) => b === 0)) {
      this.zeroBlocks += 1;
      if (this.zeroBlocks === 2) this.ended = true;
      return;
    }
    if (this.zeroBlocks > 0) throw new UnsafeArchiveError('archive is corrupted: data after an empty block');
    if (!checksumMatches(block)) throw new UnsafeArchiveError('archive is corrupted: a tar header checksum does not match');
    const type = String.fromCharCode(block[156]!);
    const size = Number(this.pax.size ?? parseNumber(block.subarray(124, 136)));
    const padded = Math.ceil(size / BLOCK) * BLOCK;
    if (META.has(type)) {
      if (size > META_LIMIT) throw new UnsafeArchiveError(`archive has a ${size}-byte metadata entry (limit ${META_LIMIT})`);
      this.metaType = type;
      this.metaChunks = [];
      this.dataLeft = padded;
      this.metaSize = size;
      if (padded === 0) this.finishMeta();
      return;
    }
    const magic = block.subarray(257, 263).toString('latin1');
    const prefix = magic === 'ustar\0' ? cString(block.subarray(345, 500)) : '';
    const rawName = cString(block.subarray(0, 100));
    const name = this.pax.path ?? this.longName ?? (prefix ? `${prefix}/${rawName}` : rawName);
    const link = this.pax.linkpath ?? this.longLink ?? cString(block.subarray(157, 257));
    this.pax = {};
    this.longName = null;
    this.longLink = null;
    this.checkEntry(type, name, link);
    this.summary.entries += 1;
    if (REGULAR.has(type)) {
      this.summary.files += 1;
      this.summary.fileBytes += size;
      this.dataLeft = padded;
    } else if (type === '5') this.summary.directories += 1;
    else this.summary.links += 1;
  }

  private metaSize = 0;

  private collectMeta(body: Buffer): void {
    this.metaChunks.push(Buffer.from(body));
  }

  private finishMeta(): void {
    const text = Buffer.concat(this.metaChunks).subarray(0, this.metaSize).toString('utf8');
    if (this.metaType === 'x') this.pax = parsePax(text);
    else if (this.metaType === 'L') this.longName = text.replace(/\0+$/, '');
    else if (this.metaType === 'K') this.longLink = text.replace(/\0+$/, '');
    this.metaType = null;
    this.metaChunks = [];
  }

  private checkEntry(type: string, name: string, link: string): void {
    if (type === '3' || type === '4' || type === '6') throw new UnsafeArchiveError(`archive entry ${JSON.stringify(name)} is a device file or FIFO`);
    if (!REGULAR.has(type) && type !== '5' && type !== '1' && type !== '2') {
      throw new UnsafeArchiveError(`archive entry ${JSON.stringify(name)} has unsupported type ${JSON.stringify(type)}`);
    }
    checkPath(name, `archive entry ${JSON.stringify(name)}`);
    if (type === '1' || type === '2') {
      const what = `${type === '2' ? 'symlink' : 'hard link'} ${JSON.stringify(name)} -> ${JSON.stringify(link)}`;
      if (!link) throw new UnsafeArchiveError(`${what} has no target`);
      // Link targets may not climb at all: with "..", a chain of links could leave the root.
      checkPath(link, what);
    }
  }
}

function checkPath(p: string, what: string): void {
  if (!p) throw new UnsafeArchiveError(`${what}: empty path`);
  if (p.startsWith('/') || /^[A-Za-z]:[\\/]/.test(p)) throw new UnsafeArchiveError(`${what} is an absolute path`);
  if (p.split(/[\\/]+/).includes('..')) throw new UnsafeArchiveError(`${what} contains ".." (would escape the data directory)`);
  if (path.posix.normalize(p).startsWith('..')) throw new UnsafeArchiveError(`${what} escapes the data directory`);
}

function checksumMatches(block: Buffer): boolean {
  const stored = parseNumber(block.subarray(148, 156));
  let sum = 0;
  for (let i = 0; i < BLOCK; i += 1) sum += i >= 148 && i < 156 ? 32 : block[i]!;
  return stored === sum;
}

// Octal text, or GNU base-256 for values that do not fit.
function parseNumber(field: Buffer): number {
  if (field[0]! & 0x80) {
    let value = 0;
    for (let i = 1; i < field.length; i += 1) value = value * 256 + field[i]!;
    return value;
  }
  const text = field.toString('latin1').replace(/[\0 ]+$/g, '').trim();
  return text ? parseInt(text, 8) : 0;
}

function cString(field: Buffer): string {
  const end = field.indexOf(0);
  return field.subarray(0, end === -1 ? field.length : end).toString('utf8');
}

function parsePax(text: string): Record<string, string> {
  const out: Record<string, string> = {};
  let rest = Buffer.from(text, 'utf8');
  while (rest.length > 0) {
    const space = rest.indexOf(0x20);
    if (space <= 0) break;
    const length = parseInt(rest.subarray(0, space).toString('latin1'), 10);
    if (!Number.isFinite(length) || length <= space) break;
    const record = rest.subarray(space + 1, length - 1).toString('utf8');
    const eq = record.indexOf('=');
    if (eq > 0) out[record.slice(0, eq)] = record.slice(eq + 1);
    rest = rest.subarray(length);
  }
  return out;
}

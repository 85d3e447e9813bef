import { Transform, type TransformCallback } from 'node:stream';
import { BLOCK, entryHeaders, parseHeader, parsePaxRecords, UnsafeArchiveError, type EmittedEntry, type ParsedHeader } from './tarFormat';
import { approveEntry, describeName, type EntryKind } from './tarEntryPolicy';

export { UnsafeArchiveError } from './tarFormat';

export interface TarSummary {
  entries: number;
  files: number;
  directories: number;
  links: number;
  fileBytes: number;
}

export interface TarLimits {
  // The tar's size the manifest records: reading stops past it, so a decompression bomb never inflates further.
  tarBytes?: number;
}

// Metadata entries (PAX, GNU long names) are held in memory: a data directory's never come close.
const META_LIMIT = 64 * 1024;
// What GNU tar pads after its end-of-archive marker is a record (10 KiB by default); anything past this is not from tar.
const TRAILER_LIMIT = 1024 * 1024;
// Each entry's path is remembered (hard links, symlinks): this bounds that memory.
const MAX_ENTRIES = 1_000_000;
const PAX_IGNORED = new Set(['atime', 'ctime', 'uid', 'gid', 'uname', 'gname', 'comment', 'charset', 'hdrcharset']);
const KIND_TYPE: Record<EntryKind, EmittedEntry['type']> = { file: '0', hardlink: '1', symlink: '2', directory: '5' };
const END_OF_ARCHIVE = Buffer.alloc(2 * BLOCK);

type Phase = 'header' | 'meta' | 'body' | 'trailer';

// Parses the tar from storage and writes a new one for `tar -x`: only entries it
// approved, under headers it built itself (metadata entries are consumed, never
// passed on), so tar can never see an entry the guard did not.
export class TarGuard extends Transform {
  readonly summary: TarSummary = { entries: 0, files: 0, directories: 0, links: 0, fileBytes: 0 };
  private readonly files = new Set<string>();
  private readonly symlinks = new Set<string>();
  private readonly directories = new Set<string>();
  private phase: Phase = 'header';
  private pending: Buffer[] = [];
  private pendingBytes = 0;
  private bodyLeft = 0; // bytes of the current file body still to pass on
  private skipLeft = 0; // padding of the input still to drop
  private bodyPad = 0;
  private metaType = '';
  private metaSize = 0;
  private longName: string | undefined;
  private longLink: string | undefined;
  private pax: Map<string, Buffer> | undefined;
  private inputBytes = 0;
  private consumed = 0; // input bytes parsed so far, for messages
  private trailerBytes = 0;

  constructor(private readonly limits: TarLimits = {}) {
    super({ highWaterMark: 1024 * 1024 });
  }

  override _transform(chunk: Buffer, _encoding: BufferEncoding, done: TransformCallback): void {
    try {
      this.inputBytes += chunk.length;
      if (this.limits.tarBytes !== undefined && this.inputBytes > this.limits.tarBytes) {
        throw new UnsafeArchiveError(`the tar is larger than the ${this.limits.tarBytes} bytes the manifest records (refused at byte ${this.inputBytes})`);
      }
      this.consume(chunk);
      done();
    } catch (error) {
      done(error as Error);
    }
  }

  override _flush(done: TransformCallback): void {
    if (this.phase !== 'trailer') return done(new UnsafeArchiveError('archive is truncated: it ends before the tar end-of-archive marker'));
    done();
  }

  private consume(chunk: Buffer): void {
    let offset = 0;
    while (offset < chunk.length) {
      if (this.skipLeft > 0) {
        const take = Math.min(this.skipLeft, chunk.length - offset);
        this.skipLeft -= take;
        offset += take;
        this.consumed += take;
      } else if (this.phase === 'body') {
        const take = Math.min(this.bodyLeft, chunk.length - offset);
        this.push(chunk.subarray(offset, offset + take));
        this.bodyLeft -= take;
        offset += take;
        this.consumed += take;
        if (this.bodyLeft === 0) {
          // Our own zero padding goes out; the input's padding is dropped.
          if (this.bodyPad > 0) this.push(Buffer.alloc(this.bodyPad));
          this.skipLeft = this.bodyPad;
          this.phase = 'header';
        }
      } else if (this.phase === 'trailer') {
        this.trailer(chunk.subarray(offset));
        return;
      } else {
        const want = this.phase === 'meta' ? this.metaSize : BLOCK;
        const take = Math.min(want - this.pendingBytes, chunk.length - offset);
        this.pending.push(chunk.subarray(offset, offset + take));
        this.pendingBytes += take;
        offset += take;
        this.consumed += take;
        if (this.pendingBytes < want) continue;
        const collected = Buffer.concat(this.pending, this.pendingBytes);
        this.pending = [];
        this.pendingBytes = 0;
        if (this.phase === 'meta') this.finishMeta(collected);
        else this.header(collected);
      }
    }
  }

  private header(block: Buffer): void {
    const at = `header at byte ${this.consumed - BLOCK}`;
    if (block.every((b) => b === 0)) return this.endOfArchive();
    const parsed = parseHeader(block, at);
    if (parsed.type === 'g') {
      // GNU tar applies a global header to every later entry; our backups never write one, so any is refused rather than interpreted.
      throw new UnsafeArchiveError(`archive is refused: ${at} is a global PAX header (type g)`);
    }
    if (parsed.type === 'x' || parsed.type === 'L' || parsed.type === 'K') return this.startMeta(parsed, at);
    this.entry(parsed);
  }

  private startMeta(parsed: ParsedHeader, at: string): void {
    if (parsed.size > META_LIMIT) throw new UnsafeArchiveError(`archive is refused: ${at}: a ${parsed.size}-byte metadata entry (type ${parsed.type}, limit ${META_LIMIT})`);
    const seen = parsed.type === 'x' ? this.pax : parsed.type === 'L' ? this.longName : this.longLink;
    if (seen !== undefined) throw new UnsafeArchiveError(`archive is refused: ${at}: a second metadata entry of type ${parsed.type} for the same entry`);
    this.metaType = parsed.type;
    this.metaSize = parsed.size;
    this.skipLeft = 0;
    if (parsed.size === 0) return this.finishMeta(Buffer.alloc(0));
    this.phase = 'meta';
  }

  private finishMeta(data: Buffer): void {
    const at = `metadata entry ending at byte ${this.consumed}`;
    if (this.metaType === 'x') this.pax = parsePaxRecords(data, at);
    else {
      const end = data.indexOf(0);
      const name = data.subarray(0, end === -1 ? data.length : end).toString('latin1');
      if (this.metaType === 'L') this.longName = name;
      else this.longLink = name;
    }
    this.skipLeft = padded(this.metaSize) - this.metaSize;
    this.phase = 'header';
  }

  private entry(parsed: ParsedHeader): void {
    const pax = this.paxOverrides(parsed);
    const name = pax.path ?? this.longName ?? parsed.name;
    const link = pax.linkpath ?? this.longLink ?? parsed.link;
    if ((pax.path !== undefined && this.longName !== undefined) || (pax.linkpath !== undefined && this.longLink !== undefined)) {
      throw new UnsafeArchiveError(`archive entry ${describeName(name)} has both a PAX and a GNU long name: refused as ambiguous`);
    }
    this.pax = undefined;
    this.longName = undefined;
    this.longLink = undefined;
    const size = pax.size ?? parsed.size;
    if (this.summary.entries >= MAX_ENTRIES) throw new UnsafeArchiveError(`archive has more than ${MAX_ENTRIES} entries, more than a data directory this tool backs up`);
    const approved = approveEntry({ type: parsed.type, name, link, size }, { files: this.files, symlinks: this.symlinks, directories: this.directories });
    this.push(entryHeaders({ type: KIND_TYPE[approved.kind], name: approved.path, link: approved.link, mode: parsed.mode, size, mtime: pax.mtime ?? parsed.mtime }));
    this.count(approved.kind, size);
    if (approved.kind === 'file' && size > 0) {
      this.phase = 'body';
      this.bodyLeft = size;
      this.bodyPad = padded(size) - size;
    }
  }

  private count(kind: EntryKind, size: number): void {
    this.summary.entries += 1;
    if (kind === 'file') {
      this.summary.files += 1;
      this.summary.fileBytes += size;
    } else if (kind === 'directory') this.summary.directories += 1;
    else this.summary.links += 1;
  }

  // The PAX keys that change an entry; unknown keys are refused, sparse files too.
  private paxOverrides(parsed: ParsedHeader): { path?: string; linkpath?: string; size?: number; mtime?: number } {
    if (!this.pax) return {};
    const out: { path?: string; linkpath?: string; size?: number; mtime?: number } = {};
    for (const [key, value] of this.pax) {
      const text = value.toString('latin1');
      const where = `archive entry ${describeName(parsed.name)}: PAX ${key}`;
      if (key === 'path') out.path = text;
      else if (key === 'linkpath') out.linkpath = text;
      else if (key === 'size') {
        if (!/^\d{1,16}$/.test(text) || Number(text) > Number.MAX_SAFE_INTEGER) throw new UnsafeArchiveError(`${where} ${JSON.stringify(text)} is not a size`);
        out.size = Number(text);
      } else if (key === 'mtime') {
        if (!/^-?\d{1,15}(\.\d{1,9})?$/.test(text)) throw new UnsafeArchiveError(`${where} ${JSON.stringify(text)} is not a time`);
        out.mtime = Number(text);
      } else if (key.startsWith('GNU.sparse.')) throw new UnsafeArchiveError(`archive entry ${describeName(parsed.name)} is a sparse file (PAX ${key})`);
      else if (!PAX_IGNORED.has(key) && !key.startsWith('SCHILY.') && !key.startsWith('LIBARCHIVE.')) throw new UnsafeArchiveError(`${where}: unknown PAX key`);
    }
    return out;
  }

  private endOfArchive(): void {
    if (this.pax || this.longName !== undefined || this.longLink !== undefined) {
      throw new UnsafeArchiveError('archive is refused: a metadata entry is followed by the end-of-archive marker, not by an entry');
    }
    this.push(END_OF_ARCHIVE);
    this.phase = 'trailer';
    this.trailerBytes = 0;
  }

  // After the end marker tar reads nothing more: only zero padding may follow, and only so much.
  private trailer(rest: Buffer): void {
    this.trailerBytes += rest.length;
    if (this.trailerBytes > TRAILER_LIMIT) throw new UnsafeArchiveError(`archive is refused: more than ${TRAILER_LIMIT} bytes after the end-of-archive marker`);
    if (!rest.every((b) => b === 0)) throw new UnsafeArchiveError('archive is refused: data after the end-of-archive marker');
  }
}

function padded(size: number): number {
  return Math.ceil(size / BLOCK) * BLOCK;
}

import { promises as fsp, type BigIntStats } from 'node:fs';
import path from 'node:path';

// A two-phase copy of a directory tree (like running rsync twice): preCopy
// copies the tree into a staging directory while the source is still being
// written; syncDelta, run once the writer stopped, re-copies only what changed
// since and deletes what disappeared, so the staging tree then equals the source.
//
// Layout of a staging directory (the state file sits next to the tree, not in it):
//   <staging>/RABBITVAULT-STAGING   marker: removeStaging refuses a directory without it
//   <staging>/tree/                 the copy
//   <staging>/precopy-state.json    what phase 1 saw of every regular file

export const STAGING_MARKER = 'RABBITVAULT-STAGING';

export function stagingLayout(staging: string) {
  return { root: staging, tree: path.join(staging, 'tree'), stateFile: path.join(staging, 'precopy-state.json'), marker: path.join(staging, STAGING_MARKER) };
}

// What phase 1 recorded of one regular file. bigints as decimal strings (JSON).
interface FileState {
  size: string;
  mtimeNs: string;
  ctimeNs: string;
  ino: string;
  // Wall clock (ms) just before the "before" lstat.
  statedAtMs: number;
  // The lstat after the copy differed from the one before: the copy may be torn.
  changedWhileCopied: boolean;
}

interface PreCopyState {
  version: 1;
  source: string;
  files: Record<string, FileState>;
}

export interface CopyOptions {
  // Checked between entries: an aborted copy stops with the signal's reason.
  signal?: AbortSignal;
  // Bytes of regular files copied so far (cumulative), after each file.
  onBytes?: (bytesDone: number) => void;
}

export interface PreCopyResult {
  files: number;
  bytes: number;
  directories: number;
  symlinks: number;
  // Files whose lstat changed while they were copied (re-copied by syncDelta).
  changedWhileCopied: number;
  // Sockets, FIFOs, devices: not copied (a RabbitMQ data directory has none).
  skipped: string[];
  seconds: number;
}

export interface DeltaResult {
  filesChecked: number;
  filesCopied: number;
  bytesCopied: number;
  // Staging entries (files, symlinks) deleted because the source no longer has them.
  filesRemoved: number;
  seconds: number;
}

// A file whose mtime is not at least this much older than the moment phase 1
// stat'ed it is re-copied whatever its stat says (git's racy-clean rule): a
// same-size write within one coarse timestamp tick of that stat leaves size,
// mtime and ctime as they were.
export const RACY_WINDOW_MS = 2000;

type Kind = 'file' | 'dir' | 'symlink' | 'other';
const kindOf = (st: BigIntStats): Kind => (st.isFile() ? 'file' : st.isDirectory() ? 'dir' : st.isSymbolicLink() ? 'symlink' : 'other');
const join = (rel: string, name: string) => (rel ? `${rel}/${name}` : name);

async function lstatOrNull(p: string): Promise<BigIntStats | null> {
  try {
    return await fsp.lstat(p, { bigint: true });
  } catch (error) {
    if (isCode(error, 'ENOENT', 'ENOTDIR')) return null;
    throw error;
  }
}

function isCode(error: unknown, ...codes: string[]): boolean {
  return codes.includes((error as NodeJS.ErrnoException | undefined)?.code ?? '');
}

// Names in a source directory, sorted; a directory that vanished has none.
async function namesIn(dir: string): Promise<string[]> {
  try {
    return (await fsp.readdir(dir)).sort();
  } catch (error) {
    if (isCode(error, 'ENOENT', 'ENOTDIR')) return [];
    throw error;
  }
}

// Owner, then mode (chown may clear set-id bits), then times. Ownership is kept
// where the process may set it (root, or files it owns already); elsewhere the
// copy is the worker's: restores set ownership themselves (access.owner).
async function applyAttributes(dst: string, st: BigIntStats, kind: Kind): Promise<void> {
  const ignorePerm = (error: unknown) => {
    if (!isCode(error, 'EPERM')) throw error;
  };
  const atime = Number(st.atimeNs) / 1e9;
  const mtime = Number(st.mtimeNs) / 1e9;
  if (kind === 'symlink') {
    await fsp.lchown(dst, Number(st.uid), Number(st.gid)).catch(ignorePerm);
    await fsp.lutimes(dst, atime, mtime);
    return;
  }
  await fsp.chown(dst, Number(st.uid), Number(st.gid)).catch(ignorePerm);
  await fsp.chmod(dst, Number(st.mode) & 0o7777);
  await fsp.utimes(dst, atime, mtime);
}

// A fresh copy of one regular file (unlinked first: a read-only or hard-linked
// destination is replaced, never written through). False when the source vanished.
async function copyRegular(src: string, dst: string, st: BigIntStats): Promise<boolean> {
  await fsp.rm(dst, { force: true, recursive: true });
  try {
    await fsp.copyFile(src, dst);
  } catch (error) {
    if (isCode(error, 'ENOENT')) return false;
    throw error;
  }
  await applyAttributes(dst, st, 'file');
  return true;
}

async function copySymlink(src: string, dst: string, st: BigIntStats): Promise<boolean> {
  let target: string;
  try {
    target = await fsp.readlink(src);
  } catch (error) {
    if (isCode(error, 'ENOENT', 'EINVAL')) return false;
    throw error;
  }
  await fsp.rm(dst, { force: true, recursive: true });
  await fsp.symlink(target, dst);
  await applyAttributes(dst, st, 'symlink');
  return true;
}

const sameStat = (a: { size: bigint; mtimeNs: bigint; ctimeNs: bigint; ino: bigint }, b: BigIntStats) =>
  a.size === b.size && a.mtimeNs === b.mtimeNs && a.ctimeNs === b.ctimeNs && a.ino === b.ino;

function fileState(before: BigIntStats, after: BigIntStats | null, statedAtMs: number): FileState {
  return {
    size: String(before.size),
    mtimeNs: String(before.mtimeNs),
    ctimeNs: String(before.ctimeNs),
    ino: String(before.ino),
    statedAtMs,
    changedWhileCopied: after === null || !sameStat(before, after),
  };
}

// Phase 1, while the source is live: a full copy into <staging>/tree, and what
// every regular file looked like just before (and after) it was copied.
export async function preCopy(source: string, staging: string, options: CopyOptions = {}): Promise<PreCopyResult> {
  const started = Date.now();
  const layout = stagingLayout(staging);
  const rootStat = await sourceRoot(source);
  await removeStaging(staging);
  await fsp.mkdir(staging, { recursive: true, mode: 0o700 });
  await fsp.chmod(staging, 0o700);
  await writeMarker(layout.marker, source);
  await fsp.mkdir(layout.tree, { mode: 0o700 });
  const state: PreCopyState = { version: 1, source, files: {} };
  const result: PreCopyResult = { files: 0, bytes: 0, directories: 1, symlinks: 0, changedWhileCopied: 0, skipped: [], seconds: 0 };
  // Directory attributes are set deepest first, once their contents are written.
  const dirs: Array<[string, BigIntStats]> = [['', rootStat]];

  await walkSource(source, layout.tree, options.signal, async ({ rel: r, src, dst, st, statedAtMs }) => {
    switch (kindOf(st)) {
      case 'dir':
        await fsp.mkdir(dst, { mode: 0o700 });
        dirs.push([r, st]);
        result.directories += 1;
        return true;
      case 'file': {
        if (!(await copyRegular(src, dst, st))) return false;
        const entry = fileState(st, await lstatOrNull(src), statedAtMs);
        state.files[r] = entry;
        result.files += 1;
        result.bytes += Number(st.size);
        if (entry.changedWhileCopied) result.changedWhileCopied += 1;
        options.onBytes?.(result.bytes);
        return false;
      }
      case 'symlink':
        if (await copySymlink(src, dst, st)) result.symlinks += 1;
        return false;
      case 'other':
        result.skipped.push(r);
        return false;
    }
  });
  await finishDirectories(layout.tree, dirs);
  const tmp = `${layout.stateFile}.tmp`;
  await fsp.writeFile(tmp, JSON.stringify(state));
  await fsp.rename(tmp, layout.stateFile);
  result.seconds = (Date.now() - started) / 1000;
  return result;
}

// Phase 2, once the source is quiescent: the staging tree brought exactly in
// line with the source, re-copying only files that are new, differ from what
// phase 1 saw before copying them, changed while copied, or are racy.
export async function syncDelta(source: string, staging: string, options: CopyOptions = {}): Promise<DeltaResult> {
  const started = Date.now();
  const layout = stagingLayout(staging);
  const state = await readState(layout.stateFile, source);
  const rootStat = await sourceRoot(source);
  if (!(await lstatOrNull(layout.tree))?.isDirectory()) {
    // No phase 1 copy (or not a directory): everything is copied now.
    await assertStaging(staging);
    await fsp.mkdir(staging, { recursive: true, mode: 0o700 });
    if (!(await lstatOrNull(layout.marker))) await writeMarker(layout.marker, source);
    await fsp.rm(layout.tree, { force: true });
    await fsp.mkdir(layout.tree, { mode: 0o700 });
  }
  await fsp.chmod(layout.tree, 0o700);

  const result: DeltaResult = { filesChecked: 0, filesCopied: 0, bytesCopied: 0, filesRemoved: 0, seconds: 0 };
  const seen = new Set<string>(['']);
  const dirs: Array<[string, BigIntStats]> = [['', rootStat]];

  await walkSource(source, layout.tree, options.signal, async ({ rel: r, src, dst, st }) => {
    const kind = kindOf(st);
    if (kind === 'other') return false;
    seen.add(r);
    const existing = await lstatOrNull(dst);
    const existingKind = existing ? kindOf(existing) : null;
    // A path that changed type (file → directory, …) is replaced.
    if (existing && existingKind !== kind) await removeTree(dst);
    const present = existing !== null && existingKind === kind;
    switch (kind) {
      case 'dir':
        if (present) await fsp.chmod(dst, 0o700);
        else await fsp.mkdir(dst, { mode: 0o700 });
        dirs.push([r, st]);
        return true;
      case 'file': {
        result.filesChecked += 1;
        if (present && !needsCopy(state?.files[r], st, existing)) return false;
        if (await copyRegular(src, dst, st)) {
          result.filesCopied += 1;
          result.bytesCopied += Number(st.size);
          options.onBytes?.(result.bytesCopied);
        } else seen.delete(r);
        return false;
      }
      case 'symlink': {
        const target = await fsp.readlink(src).catch(() => null);
        if (target === null) {
          seen.delete(r);
          return false;
        }
        if (present && (await fsp.readlink(dst)) === target) await applyAttributes(dst, st, 'symlink');
        else await copySymlink(src, dst, st);
        return false;
      }
    }
  });
  result.filesRemoved += await removeUnseen(layout.tree, '', seen, options.signal);
  await finishDirectories(layout.tree, dirs);
  result.seconds = (Date.now() - started) / 1000;
  return result;
}

interface SourceEntry {
  rel: string;
  src: string;
  dst: string;
  st: BigIntStats;
  // When the entry was stat'ed (the racy rule compares its mtime with this).
  statedAtMs: number;
}

// Depth first over the source tree; an entry that vanished meanwhile is passed
// over; visit returns true to descend into a directory.
async function walkSource(source: string, tree: string, signal: AbortSignal | undefined, visit: (entry: SourceEntry) => Promise<boolean>, rel = ''): Promise<void> {
  for (const name of await namesIn(path.join(source, rel))) {
    signal?.throwIfAborted();
    const r = join(rel, name);
    const src = path.join(source, r);
    const statedAtMs = Date.now();
    const st = await lstatOrNull(src);
    if (!st) continue;
    if (await visit({ rel: r, src, dst: path.join(tree, r), st, statedAtMs })) await walkSource(source, tree, signal, visit, r);
  }
}

async function sourceRoot(source: string): Promise<BigIntStats> {
  const st = await fsp.lstat(source, { bigint: true });
  if (!st.isDirectory()) throw new Error(`${source} is not a directory`);
  return st;
}

function writeMarker(marker: string, source: string): Promise<void> {
  return fsp.writeFile(marker, `staging copy of ${source}, made by rabbitvault; removed after each backup\n`);
}

function needsCopy(before: FileState | undefined, now: BigIntStats, staged: BigIntStats | null): boolean {
  if (!before || before.changedWhileCopied) return true;
  if (!sameStat({ size: BigInt(before.size), mtimeNs: BigInt(before.mtimeNs), ctimeNs: BigInt(before.ctimeNs), ino: BigInt(before.ino) }, now)) return true;
  if (isRacy(before)) return true;
  // The staged copy itself must still be the one phase 1 wrote.
  return staged === null || staged.size !== now.size;
}

export function isRacy(before: { mtimeNs: string; statedAtMs: number }): boolean {
  return BigInt(before.mtimeNs) > BigInt(before.statedAtMs - RACY_WINDOW_MS) * 1_000_000n;
}

async function readState(file: string, source: string): Promise<PreCopyState | null> {
  try {
    const state = JSON.parse(await fsp.readFile(file, 'utf8')) as PreCopyState;
    // A state of another source (or another format) is no guide: everything is re-copied.
    return state.version === 1 && state.source === source ? state : null;
  } catch (error) {
    if (isCode(error, 'ENOENT')) return null;
    if (error instanceof SyntaxError) return null;
    throw error;
  }
}

// Entries of the staging tree that the source no longer has; returns how many
// files and symlinks went with them.
async function removeUnseen(tree: string, rel: string, seen: Set<string>, signal?: AbortSignal): Promise<number> {
  let removed = 0;
  for (const name of await namesIn(path.join(tree, rel))) {
    signal?.throwIfAborted();
    const r = join(rel, name);
    const p = path.join(tree, r);
    if (!seen.has(r)) {
      removed += await countLeaves(p);
      await removeTree(p);
    } else if ((await lstatOrNull(p))?.isDirectory()) removed += await removeUnseen(tree, r, seen, signal);
  }
  return removed;
}

async function countLeaves(p: string): Promise<number> {
  const st = await lstatOrNull(p);
  if (!st) return 0;
  if (!st.isDirectory()) return 1;
  let n = 0;
  for (const name of await namesIn(p)) n += await countLeaves(path.join(p, name));
  return n;
}

async function finishDirectories(tree: string, dirs: Array<[string, BigIntStats]>): Promise<void> {
  const depth = (r: string) => (r === '' ? 0 : r.split('/').length);
  for (const [r, st] of [...dirs].sort((x, y) => depth(y[0]) - depth(x[0]))) await applyAttributes(path.join(tree, r), st, 'dir');
}

// rm -rf that also gets through directories a copy made read-only.
async function removeTree(p: string): Promise<void> {
  try {
    await fsp.rm(p, { recursive: true, force: true });
  } catch (error) {
    if (!isCode(error, 'EACCES', 'EPERM', 'ENOTEMPTY')) throw error;
    await makeWritable(p);
    await fsp.rm(p, { recursive: true, force: true });
  }
}

async function makeWritable(p: string): Promise<void> {
  const st = await lstatOrNull(p);
  if (!st?.isDirectory()) return;
  await fsp.chmod(p, 0o700);
  for (const name of await namesIn(p)) await makeWritable(path.join(p, name));
}

// Removes a staging directory, refusing one rabbitvault did not make (no
// marker, not empty): a mistyped stagingDirectory never deletes someone's data.
export async function removeStaging(staging: string): Promise<boolean> {
  const layout = stagingLayout(staging);
  if (!(await assertStaging(staging))) return false;
  // Tree and state first, the marker last: an interrupted removal stays recognisable.
  await removeTree(layout.tree);
  await fsp.rm(layout.stateFile, { force: true });
  await fsp.rm(`${layout.stateFile}.tmp`, { force: true });
  await removeTree(staging);
  return true;
}

// True when staging exists and is ours (or empty); false when it does not exist.
export async function assertStaging(staging: string): Promise<boolean> {
  const st = await lstatOrNull(staging);
  if (!st) return false;
  if (!st.isDirectory()) throw new NotStaging(`${staging} exists and is not a directory`);
  const names = await namesIn(staging);
  if (names.length > 0 && !names.includes(STAGING_MARKER)) throw new NotStaging(`${staging} is not a rabbitvault staging directory (it has files but no ${STAGING_MARKER})`);
  return true;
}

export class NotStaging extends Error {
  constructor(message: string) {
    super(`${message}: refusing to use or remove it; choose another access.stagingDirectory`);
    this.name = 'NotStaging';
  }
}

// Bytes of regular files under a directory (0 when it does not exist).
export async function treeBytes(dir: string): Promise<number> {
  const st = await lstatOrNull(dir);
  if (!st) return 0;
  if (!st.isDirectory()) return st.isFile() ? Number(st.size) : 0;
  let n = 0;
  for (const name of await namesIn(dir)) n += await treeBytes(path.join(dir, name));
  return n;
}

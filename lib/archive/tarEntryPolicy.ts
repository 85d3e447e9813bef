import { UnsafeArchiveError } from './tarFormat';

// What a data directory may hold, decided per entry before the guard writes it for `tar -x`.
export type EntryKind = 'file' | 'directory' | 'symlink' | 'hardlink';

const KINDS: Record<string, EntryKind> = { '0': 'file', '\0': 'file', '7': 'file', '5': 'directory', '2': 'symlink', '1': 'hardlink' };
const REFUSED: Record<string, string> = {
  '3': 'a character device',
  '4': 'a block device',
  '6': 'a FIFO',
  S: 'a sparse file (type S)',
  D: 'a GNU directory dump (type D)',
  V: 'a volume label (type V)',
  M: 'a multi-volume continuation (type M)',
  N: 'an old GNU long-name entry (type N)',
};

// Paths already written, so links are judged against what is really on disk.
export interface EntryState {
  files: Set<string>;
  symlinks: Set<string>;
  directories: Set<string>;
}

export interface ApprovedEntry {
  kind: EntryKind;
  path: string;
  link?: string;
}

export function approveEntry(entry: { type: string; name: string; link: string; size: number }, state: EntryState): ApprovedEntry {
  const what = `archive entry ${describeName(entry.name)}`;
  const kind = KINDS[entry.type];
  if (!kind) {
    const type = entry.type.charCodeAt(0) >= 0x21 && entry.type.charCodeAt(0) <= 0x7e ? entry.type : `\\x${entry.type.charCodeAt(0).toString(16).padStart(2, '0')}`;
    throw new UnsafeArchiveError(`${what} is ${REFUSED[entry.type] ?? `of unknown type "${type}"`}: only files, directories and links are restored`);
  }
  if (kind === 'file' && entry.name.endsWith('/')) throw new UnsafeArchiveError(`${what} is a regular file whose name ends with "/"`);
  const parts = pathParts(entry.name, what);
  if (parts.length === 0 && kind !== 'directory') throw new UnsafeArchiveError(`${what} is a ${kind} in place of the data directory itself`);
  if (entry.size !== 0 && kind !== 'file') throw new UnsafeArchiveError(`${what} is a ${kind} with ${entry.size} bytes of data`);
  const key = parts.join('/');
  notThroughSymlink(parts, state, what);
  if (state.symlinks.has(key)) throw new UnsafeArchiveError(`${what} would replace the symlink written before it`);
  // GNU tar (--no-overwrite-dir) would stop there halfway: refuse while verifying, before the node is stopped.
  if (kind !== 'directory' && state.directories.has(key)) throw new UnsafeArchiveError(`${what} would replace the directory written before it`);
  if (kind === 'directory' && state.files.has(key)) throw new UnsafeArchiveError(`${what} would replace the file written before it`);
  notUnderFile(parts, state, what);
  if (kind === 'directory') state.directories.add(key);
  const path = key ? `./${key}` : './';
  if (kind === 'file') state.files.add(key);
  if (kind === 'symlink') {
    checkSymlink(parts, entry.link, `symlink ${describeName(entry.name)} -> ${describeName(entry.link)}`);
    state.files.delete(key);
    state.symlinks.add(key);
    return { kind, path, link: entry.link };
  }
  if (kind === 'hardlink') {
    const linkWhat = `hard link ${describeName(entry.name)} -> ${describeName(entry.link)}`;
    const target = pathParts(entry.link, linkWhat);
    const targetKey = target.join('/');
    notThroughSymlink(target, state, linkWhat);
    if (!state.files.has(targetKey) || targetKey === key) throw new UnsafeArchiveError(`${linkWhat}: the target is not a regular file earlier in the archive`);
    state.files.add(key);
    return { kind, path, link: `./${targetKey}` };
  }
  return { kind, path };
}

// A relative path without "..", as components ("." and empty ones dropped).
function pathParts(name: string, what: string): string[] {
  if (name.includes('\0')) throw new UnsafeArchiveError(`${what} has a NUL byte in its path`);
  if (name.startsWith('/')) throw new UnsafeArchiveError(`${what} is an absolute path`);
  const parts = name.split('/');
  if (parts.includes('..')) throw new UnsafeArchiveError(`${what} contains ".." (would escape the data directory)`);
  return parts.filter((p) => p !== '' && p !== '.');
}

// Written through a symlink, an entry would land wherever the link points.
function notThroughSymlink(parts: string[], state: EntryState, what: string): void {
  if (state.symlinks.size === 0) return;
  for (let i = 1; i < parts.length; i += 1) {
    const dir = parts.slice(0, i).join('/');
    if (state.symlinks.has(dir)) throw new UnsafeArchiveError(`${what} lies under the symlink ${describeName(dir)}`);
  }
}

// A path below a regular file cannot be created.
function notUnderFile(parts: string[], state: EntryState, what: string): void {
  for (let i = 1; i < parts.length; i += 1) {
    const dir = parts.slice(0, i).join('/');
    if (state.files.has(dir)) throw new UnsafeArchiveError(`${what} lies under the regular file ${describeName(dir)}`);
  }
}

// ".." only at the start, and no more of them than the link's own depth: resolved
// from the link's directory (a real directory, see notThroughSymlink) it stays inside.
function checkSymlink(parts: string[], target: string, what: string): void {
  if (!target) throw new UnsafeArchiveError(`${what} has no target`);
  if (target.includes('\0')) throw new UnsafeArchiveError(`${what} has a NUL byte in its target`);
  if (target.startsWith('/')) throw new UnsafeArchiveError(`${what} points to an absolute path, outside the data directory`);
  const steps = target.split('/').filter((p) => p !== '' && p !== '.');
  const climbs = steps.findIndex((p) => p !== '..');
  const up = climbs === -1 ? steps.length : climbs;
  if (steps.slice(up).includes('..')) throw new UnsafeArchiveError(`${what} has ".." after a directory name (a link there could lead it out): refused`);
  if (up > parts.length - 1) throw new UnsafeArchiveError(`${what} escapes the data directory`);
}

// A name as read (bytes kept as latin1), shown as UTF-8 text, quoted and shortened.
export function describeName(name: string): string {
  const text = Buffer.from(name, 'latin1').toString('utf8');
  return JSON.stringify(text.length > 200 ? `${text.slice(0, 200)}…` : text);
}

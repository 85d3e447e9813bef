import { createReadStream, createWriteStream } from 'node:fs';
import { mkdir, open, readdir, realpath, rename, rm, rmdir, stat, statfs } from 'node:fs/promises';
import path from 'node:path';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { randomBytes } from 'node:crypto';
import { ApplicationFailure } from '@temporalio/common';
import { FailureType } from '../../common/failures';
import type { StorageBackend, StoredObject } from './backend';
import { checkStorageKey, refuseStorageKey, StorageObjectNotFound } from './backend';

// A local directory (the embedded default). Writes go to a temporary name and
// are renamed into place after fsync, so a crash never leaves a torn file.
export class LocalDirectoryStorage implements StorageBackend {
  // name: the storage target's name in the config, for errors an operator acts on.
  constructor(
    readonly root: string,
    readonly name?: string,
  ) {}

  // For messages only; operations go through fileOf.
  locate(key: string): string {
    return path.join(this.root, ...key.split('/'));
  }

  // The file of a key, refused unless it stays inside the root.
  private fileOf(key: string): string {
    checkStorageKey(key);
    const root = path.resolve(this.root);
    const file = path.resolve(root, ...key.split('/'));
    if (!isInside(root, file)) throw refuseStorageKey(key, `it resolves outside ${this.root}`);
    return file;
  }

  // Also through symbolic links someone with write access to the directory may
  // have planted: the nearest existing ancestor of target must really be inside.
  private async realInside(key: string, target: string): Promise<void> {
    const root = path.resolve(this.root);
    for (let at = target; isInside(root, at); at = path.dirname(at)) {
      let real: string;
      try {
        real = await realpath(at);
      } catch (error) {
        if ((error as NodeJS.ErrnoException).code === 'ENOENT') continue;
        throw error;
      }
      const realRoot = await realpath(root);
      if (real !== realRoot && !isInside(realRoot, real)) throw refuseStorageKey(key, `${at} leads outside ${this.root} through a symbolic link (to ${real})`);
      return;
    }
  }

  async put(key: string, body: Readable | Buffer): Promise<void> {
    let file: string;
    try {
      file = this.fileOf(key);
      await this.realInside(key, path.dirname(file));
    } catch (error) {
      // A refused key leaves no producer blocked on a stream nobody reads.
      if (!Buffer.isBuffer(body)) body.destroy();
      throw error;
    }
    const partial = `${file}.partial-${randomBytes(4).toString('hex')}`;
    try {
      await mkdir(path.dirname(file), { recursive: true });
      const out = createWriteStream(partial, { flush: true });
      await pipeline(Buffer.isBuffer(body) ? Readable.from([body]) : body, out);
      await rename(partial, file);
      await syncDirectory(path.dirname(file));
    } catch (error) {
      if (!Buffer.isBuffer(body)) body.destroy();
      await rm(partial, { force: true });
      throw await this.fullFailure(key, error);
    }
  }

  // A full filesystem (or quota) is no outage: retrying cannot help until
  // someone frees space, so it fails at once, naming the target and what is free.
  private async fullFailure(key: string, error: unknown): Promise<unknown> {
    const code = (error as NodeJS.ErrnoException).code;
    if (code !== 'ENOSPC' && code !== 'EDQUOT') return error;
    const target = this.name ? `storage target "${this.name}" (local directory ${this.root})` : `local directory ${this.root}`;
    const space = await statfs(this.root).then(
      (s) => `${formatBytes(s.bavail * s.bsize)} free of ${formatBytes(s.blocks * s.bsize)}`,
      () => 'free space unknown',
    );
    return ApplicationFailure.create({
      message: `${target} is full: ${code === 'EDQUOT' ? 'disk quota exceeded' : 'no space left on device'} writing ${key} (${space}); free space there or point the target elsewhere, then run it again`,
      type: FailureType.StorageError,
      nonRetryable: true,
    });
  }

  async get(key: string): Promise<Readable> {
    const file = this.fileOf(key);
    if (!(await this.stat(key))) throw new StorageObjectNotFound(file);
    return createReadStream(file);
  }

  async stat(key: string): Promise<StoredObject | null> {
    try {
      const file = this.fileOf(key);
      await this.realInside(key, file);
      const s = await stat(file);
      return s.isFile() ? { key, size: s.size } : null;
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === 'ENOENT') return null;
      throw error;
    }
  }

  async list(prefix: string): Promise<StoredObject[]> {
    checkStorageKey(prefix, { prefix: true });
    const found: StoredObject[] = [];
    const walk = async (dir: string, keyPrefix: string): Promise<void> => {
      let entries;
      try {
        entries = await readdir(dir, { withFileTypes: true });
      } catch (error) {
        if ((error as NodeJS.ErrnoException).code === 'ENOENT') return;
        throw error;
      }
      for (const entry of entries) {
        const key = keyPrefix ? `${keyPrefix}/${entry.name}` : entry.name;
        if (entry.isDirectory()) {
          if (prefix.startsWith(key) || key.startsWith(prefix)) await walk(path.join(dir, entry.name), key);
        } else if (entry.isFile() && key.startsWith(prefix) && !entry.name.includes('.partial-')) {
          found.push({ key, size: (await stat(path.join(dir, entry.name))).size });
        }
      }
    };
    await walk(this.root, '');
    return found.sort((a, b) => (a.key < b.key ? -1 : a.key > b.key ? 1 : 0));
  }

  async delete(key: string): Promise<void> {
    const file = this.fileOf(key);
    await this.realInside(key, path.dirname(file));
    await rm(file, { force: true });
  }

  async probe(): Promise<void> {
    await mkdir(this.root, { recursive: true });
  }

  // Removes the folder of a prefix ("a/b/") and its subfolders once nothing is
  // left in them but leftovers of interrupted writes (".partial-" files list()
  // never shows). For an incomplete set being removed: nobody writes into it
  // any more. Folders above the prefix are shared and stay.
  async removeEmptyFolders(prefix: string): Promise<void> {
    checkStorageKey(prefix, { prefix: true });
    if (prefix === '') return;
    const dir = this.fileOf(prefix.replace(/\/$/, ''));
    await this.realInside(prefix, dir);
    const prune = async (at: string): Promise<void> => {
      let entries;
      try {
        entries = await readdir(at, { withFileTypes: true });
      } catch (error) {
        if ((error as NodeJS.ErrnoException).code === 'ENOENT') return;
        throw error;
      }
      for (const entry of entries) {
        const inner = path.join(at, entry.name);
        if (entry.isDirectory()) await prune(inner);
        else if (entry.isFile() && entry.name.includes('.partial-')) await rm(inner, { force: true });
      }
      await rmdir(at).catch((error: NodeJS.ErrnoException) => {
        if (error.code !== 'ENOENT' && error.code !== 'ENOTEMPTY') throw error;
      });
    };
    await prune(dir);
  }
}

function formatBytes(bytes: number): string {
  if (bytes < 1024) return `${bytes} bytes`;
  const units = ['KiB', 'MiB', 'GiB', 'TiB'];
  let value = bytes / 1024;
  let unit = 0;
  while (value >= 1024 && unit < units.length - 1) {
    value /= 1024;
    unit += 1;
  }
  return `${value.toFixed(1)} ${units[unit]}`;
}

function isInside(root: string, file: string): boolean {
  const relative = path.relative(root, file);
  return relative !== '' && !relative.startsWith('..') && !path.isAbsolute(relative);
}

// The rename is durable only once the directory entry itself is on disk.
async function syncDirectory(dir: string): Promise<void> {
  const handle = await open(dir, 'r');
  try {
    await handle.sync();
  } finally {
    await handle.close();
  }
}

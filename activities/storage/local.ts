import { createReadStream, createWriteStream } from 'node:fs';
import { mkdir, open, readdir, rename, rm, stat } from 'node:fs/promises';
import path from 'node:path';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { randomBytes } from 'node:crypto';
import type { StorageBackend, StoredObject } from './backend';
import { StorageObjectNotFound } from './backend';

// A local directory (the embedded default). Writes go to a temporary name and
// are renamed into place after fsync, so a crash never leaves a torn file.
export class LocalDirectoryStorage implements StorageBackend {
  constructor(readonly root: string) {}

  locate(key: string): string {
    return path.join(this.root, ...key.split('/'));
  }

  async put(key: string, body: Readable | Buffer): Promise<void> {
    const file = this.locate(key);
    await mkdir(path.dirname(file), { recursive: true });
    const partial = `${file}.partial-${randomBytes(4).toString('hex')}`;
    try {
      const out = createWriteStream(partial, { flush: true });
      await pipeline(Buffer.isBuffer(body) ? Readable.from([body]) : body, out);
      await rename(partial, file);
      await syncDirectory(path.dirname(file));
    } catch (error) {
      await rm(partial, { force: true });
      throw error;
    }
  }

  async get(key: string): Promise<Readable> {
    const file = this.locate(key);
    if (!(await this.stat(key))) throw new StorageObjectNotFound(file);
    return createReadStream(file);
  }

  async stat(key: string): Promise<StoredObject | null> {
    try {
      const s = await stat(this.locate(key));
      return s.isFile() ? { key, size: s.size } : null;
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === 'ENOENT') return null;
      throw error;
    }
  }

  async list(prefix: string): Promise<StoredObject[]> {
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
    await rm(this.locate(key), { force: true });
  }

  async probe(): Promise<void> {
    await mkdir(this.root, { recursive: true });
  }
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

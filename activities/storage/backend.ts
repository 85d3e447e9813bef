import type { Readable } from 'node:stream';

export interface StoredObject {
  key: string;
  size: number;
}

// One interface for every place a backup set can live. Keys use "/" and are
// relative to the target's root (local directory or bucket prefix).
export interface StorageBackend {
  // Human-readable location of a key, e.g. /srv/backups/x or s3://bucket/prefix/x.
  locate(key: string): string;
  // Streams body to key. A reader never sees a half-written object.
  put(key: string, body: Readable | Buffer, options?: { contentType?: string }): Promise<void>;
  // Throws StorageObjectNotFound when missing.
  get(key: string): Promise<Readable>;
  stat(key: string): Promise<StoredObject | null>;
  // Every object whose key starts with prefix, in key order.
  list(prefix: string): Promise<StoredObject[]>;
  delete(key: string): Promise<void>;
  // Cheap reachability check used by preflights.
  probe(): Promise<void>;
}

export class StorageObjectNotFound extends Error {
  constructor(readonly location: string) {
    super(`not found: ${location}`);
    this.name = 'StorageObjectNotFound';
  }
}

import { ApplicationFailure } from '@temporalio/common';
import type { Readable } from 'node:stream';
import { FailureType } from '../../common/failures';

// What put stored when it is not the bytes it was given (an encrypting target).
export interface StoredBytes {
  size: number;
  sha256: string;
}

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
  put(key: string, body: Readable | Buffer, options?: { contentType?: string }): Promise<StoredBytes | void>;
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

// Keys come back from manifests and indexes read from storage: a key that could
// leave the target's root is refused on every backend, naming the key.
export function checkStorageKey(key: string, { prefix = false }: { prefix?: boolean } = {}): void {
  const problem = storageKeyProblem(key, prefix);
  if (problem) throw refuseStorageKey(key, problem);
}

export function refuseStorageKey(key: string, reason: string): ApplicationFailure {
  return ApplicationFailure.create({ message: `storage key ${JSON.stringify(key)} refused: ${reason}`, type: FailureType.InvalidInput, nonRetryable: true });
}

// A list prefix may be empty or end with "/"; an object key may not.
function storageKeyProblem(key: string, prefix: boolean): string | null {
  if (key.includes('\0')) return 'it contains a NUL byte';
  if (key.includes('\\')) return 'it contains a backslash';
  if (key.startsWith('/')) return 'it is absolute (keys are relative to the target root)';
  if (key === '') return prefix ? null : 'it is empty';
  const segments = key.split('/');
  if (prefix && segments[segments.length - 1] === '') segments.pop();
  if (segments.some((s) => s === '')) return 'it has an empty path segment';
  if (segments.some((s) => s === '..' || s === '.')) return 'it has a "." or ".." segment';
  return null;
}

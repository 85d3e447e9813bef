import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { ApplicationFailure } from '@temporalio/common';
import { FailureType } from '../../common/failures';
import type { StorageBackend } from '../storage/backend';
import type { StoredSegment } from './segmentWriter';
import { segmentRefusal, spoolStoredSegment } from './storedSegments';

// Segments copied to a local directory while their size and SHA-256 are checked
// against the index, so what is published is what was verified, whatever storage
// holds by then. At most two at a time; removed when the restore ends.
export class SegmentSpool {
  private dir: Promise<string> | undefined;
  private readonly copies = new Map<string, Promise<string>>();
  constructor(
    private readonly backend: StorageBackend,
    private readonly prefix: string,
  ) {}

  prefetch(segment: StoredSegment): Promise<string> {
    let copy = this.copies.get(segment.artifact.name);
    if (!copy) {
      this.dir ??= mkdtemp(path.join(os.tmpdir(), 'rabbitvault-restore-'));
      copy = this.dir.then(async (dir) => {
        const file = path.join(dir, segment.artifact.name);
        await spoolStoredSegment(this.backend, this.prefix, segment, file);
        return file;
      });
      copy.catch(() => undefined);
      this.copies.set(segment.artifact.name, copy);
    }
    return copy;
  }

  // The local, verified copy; a refusal says what had been done (`outcome`).
  async verified(segment: StoredSegment, outcome: string): Promise<string> {
    return this.prefetch(segment).catch((error: unknown) => {
      throw segmentRefusal(this.prefix, segment.artifact.name, error, outcome) ?? storageFailure(this.prefix, segment, error);
    });
  }

  async discard(segment: StoredSegment): Promise<void> {
    const copy = this.copies.get(segment.artifact.name);
    this.copies.delete(segment.artifact.name);
    if (copy) await rm(await copy, { force: true });
  }

  async close(): Promise<void> {
    await Promise.all([...this.copies.values()].map((c) => c.catch(() => undefined)));
    if (this.dir) await rm(await this.dir, { recursive: true, force: true });
  }
}

// Storage that could not be read: retried like any outage.
export function storageFailure(set: string, segment: StoredSegment, error: unknown): ApplicationFailure {
  return ApplicationFailure.create({ message: `reading segment ${segment.artifact.name} of backup set ${set} failed: ${(error as Error).message ?? String(error)}`, type: FailureType.StorageError });
}

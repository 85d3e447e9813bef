import { ApplicationFailure } from '@temporalio/common';
import type { Readable } from 'node:stream';
import { FailureType } from '../../common/failures';
import type { Artifact } from '../../common/manifest';
import { decompressor } from '../archive/compression';
import { ByteCounter } from '../archive/counting';
import { TarGuard, UnsafeArchiveError } from '../archive/tarGuard';
import { readSmallObject } from '../backupSets/artifacts';
import type { ActivityDeps } from '../deps';
import { Restic } from '../restic/restic';
import { resticRepository } from '../restic/repository';

export interface NodeArtifactRef {
  storage?: string;
  prefix: string;
  artifact: Artifact;
  tarSha256: string;
  method: 'archive' | 'restic';
}

export interface OpenedTar {
  // The tar, already past the guard: consuming it throws on anything unsafe.
  tar: Readable;
  guard: TarGuard;
  // Call after the tar was fully consumed: compares every checksum with the manifest.
  check(): void;
}

// Opens a node's backed-up data directory as a guarded tar stream, hashing the
// stored bytes and the tar on the way so both are compared with the manifest.
export async function openNodeTar(deps: ActivityDeps, ref: NodeArtifactRef, onBytes?: (bytes: number) => void): Promise<OpenedTar> {
  const { backend } = deps.openStorage(ref.storage);
  const key = `${ref.prefix}/${ref.artifact.name}`;
  const guard = new TarGuard();
  const tarCounter = new ByteCounter(onBytes);
  let stored: ByteCounter | undefined;
  let source: Readable;
  if (ref.method === 'restic') {
    const record = JSON.parse((await readSmallObject(backend, key, 1024 * 1024)).toString('utf8')) as { snapshotId: string; file: string };
    source = new Restic(resticRepository(deps.config, ref.storage)).dump(record.snapshotId, record.file);
  } else {
    stored = new ByteCounter();
    const raw = await backend.get(key);
    const unzstd = decompressor();
    raw.on('error', (e) => stored!.destroy(e));
    stored.on('error', (e) => unzstd.destroy(e));
    source = raw.pipe(stored).pipe(unzstd);
  }
  source.on('error', (e) => tarCounter.destroy(corruption(e)));
  tarCounter.on('error', (e) => guard.destroy(e));
  const tar = source.pipe(tarCounter).pipe(guard);
  return {
    tar,
    guard,
    check() {
      const problems: string[] = [];
      if (stored) {
        const sha = stored.sha256();
        if (stored.bytes !== ref.artifact.size || sha !== ref.artifact.sha256) problems.push(`${ref.artifact.name}: ${stored.bytes} bytes, SHA-256 ${sha}; manifest says ${ref.artifact.size} bytes, ${ref.artifact.sha256}`);
      }
      const tarSha = tarCounter.sha256();
      if (tarSha !== ref.tarSha256) problems.push(`${ref.artifact.name}: the tar inside has SHA-256 ${tarSha}; manifest says ${ref.tarSha256}`);
      if (problems.length > 0) {
        throw ApplicationFailure.create({ message: `checksum mismatch: ${problems.join('; ')}`, type: FailureType.ManifestChecksumMismatch, nonRetryable: true });
      }
    },
  };
}

function corruption(error: Error): Error {
  return new UnsafeArchiveError(`archive is corrupted or truncated: ${error.message}`);
}

// Maps the guard's and the decompressor's errors to non-retryable named failures.
export function archiveFailure(error: unknown, what: string): unknown {
  if (error instanceof UnsafeArchiveError) {
    return ApplicationFailure.create({ message: `${what}: ${error.message}`, type: FailureType.UnsafeArchive, nonRetryable: true });
  }
  return error;
}

import { ApplicationFailure } from '@temporalio/common';
import type { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { artifactKey } from '../../common/backupSetLayout';
import { FailureType } from '../../common/failures';
import type { Artifact } from '../../common/manifest';
import { decompressor } from '../archive/compression';
import { TarGuard, UnsafeArchiveError, type TarSummary } from '../archive/tarGuard';
import { parseUntrustedJson, refuseUntrusted } from '../../common/untrusted';
import type { StorageBackend } from '../storage/backend';
import { HashingCounter, sha256Of } from '../storage/hashingCounter';
import type { StorageDeps } from '../storage/openStorage';
import { Restic } from '../restic/restic';
import { RESTIC_POINTER_MAX_BYTES, ResticPointer, resticRepository } from '../restic/repository';

const MiB = 1024 * 1024;

export interface NodeArtifactRef {
  storage?: string;
  prefix: string;
  artifact: Artifact;
  tarSha256: string;
  method: 'archive' | 'restic';
  // The tar's size the manifest records (NodeBackupRecord.tarBytes): the tar is cut past it.
  tarBytes?: number;
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
export async function openNodeTar(deps: StorageDeps, ref: NodeArtifactRef, onBytes?: (bytes: number) => void): Promise<OpenedTar> {
  const { backend } = deps.openStorage(ref.storage);
  const key = artifactKey(ref.prefix, ref.artifact.name);
  const guard = new TarGuard({ tarBytes: ref.tarBytes });
  const tarCounter = new HashingCounter({ onBytes, highWaterMark: MiB });
  let stored: HashingCounter | undefined;
  let source: Readable;
  const upstream: Readable[] = [];
  if (ref.method === 'restic') {
    const pointer = await readResticPointer(backend, key, ref);
    source = new Restic(resticRepository(deps.config, ref.storage)).dump(pointer.snapshotId, pointer.file);
  } else {
    // Cut as soon as it passes the size the manifest records.
    stored = new HashingCounter({
      maxBytes: ref.artifact.size,
      tooLarge: () => new UnsafeArchiveError(`${ref.artifact.name} is larger than the ${ref.artifact.size} bytes the manifest records`),
      highWaterMark: MiB,
    });
    const raw = await backend.get(key);
    const unzstd = decompressor();
    raw.on('error', (e) => stored!.destroy(e));
    stored.on('error', (e) => unzstd.destroy(e));
    source = raw.pipe(stored).pipe(unzstd);
    upstream.push(raw, stored);
  }
  upstream.push(source);
  source.on('error', (e) => tarCounter.destroy(corruption(e)));
  tarCounter.on('error', (e) => guard.destroy(e));
  const tar = source.pipe(tarCounter).pipe(guard);
  // A refused archive stops the download and kills zstd or restic at once.
  guard.on('close', () => upstream.forEach((s) => s.destroy()));
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

// Progress of a transfer: every byte count, and the streams to abort on cancellation.
export interface TransferProgress {
  onBytes(bytes: number): void;
  watch(...streams: Readable[]): void;
}

// Reads a node's whole backed-up tar into `consume` (extraction, or drain to
// only check it): every entry through the guard, every checksum against the
// manifest. An unsafe archive is a non-retryable failure naming the node.
export async function readNodeTar(
  deps: StorageDeps,
  ref: NodeArtifactRef,
  node: string,
  consume: (tar: Readable) => Promise<void>,
  progress: TransferProgress,
): Promise<{ summary: TarSummary; tarBytes: number }> {
  let tarBytes = 0;
  const opened = await openNodeTar(deps, ref, (bytes) => {
    tarBytes = bytes;
    progress.onBytes(bytes);
  });
  progress.watch(opened.tar);
  await consume(opened.tar).catch((error: unknown) => {
    throw archiveFailure(error, `backup of ${node} (${ref.artifact.name}) is refused`);
  });
  opened.check();
  return { summary: opened.guard.summary, tarBytes };
}

// Reads a stream to its end, keeping nothing (for what its pipeline checks on the way).
export async function drain(stream: Readable): Promise<void> {
  await pipeline(stream, async (source: AsyncIterable<Buffer>) => {
    for await (const _chunk of source) {
      // nothing to keep
    }
  });
}

function corruption(error: Error): Error {
  return error instanceof UnsafeArchiveError ? error : new UnsafeArchiveError(`archive is corrupted or truncated: ${error.message}`);
}

// The pointer's id and path become restic arguments: schema first, and its bytes
// must still be the ones the set verification hashed.
async function readResticPointer(backend: StorageBackend, key: string, ref: NodeArtifactRef): Promise<ResticPointer> {
  const source = { set: ref.prefix, artifact: ref.artifact.name };
  if (ref.artifact.size > RESTIC_POINTER_MAX_BYTES) throw refuseUntrusted(source, `${ref.artifact.size} bytes, more than the ${RESTIC_POINTER_MAX_BYTES} a restic pointer may have`);
  const mismatch = (what: string) =>
    ApplicationFailure.create({ message: `checksum mismatch: ${ref.artifact.name}: ${what}; manifest says ${ref.artifact.size} bytes, ${ref.artifact.sha256}`, type: FailureType.ManifestChecksumMismatch, nonRetryable: true });
  const chunks: Buffer[] = [];
  let total = 0;
  for await (const chunk of await backend.get(key)) {
    total += (chunk as Buffer).length;
    if (total > ref.artifact.size) throw mismatch(`more than ${ref.artifact.size} bytes`);
    chunks.push(chunk as Buffer);
  }
  const bytes = Buffer.concat(chunks);
  const sha = sha256Of(bytes);
  if (bytes.length !== ref.artifact.size || sha !== ref.artifact.sha256) throw mismatch(`${bytes.length} bytes, SHA-256 ${sha}`);
  return parseUntrustedJson(ResticPointer, bytes, RESTIC_POINTER_MAX_BYTES, source);
}

// Maps the guard's and the decompressor's errors to non-retryable named failures.
export function archiveFailure(error: unknown, what: string): unknown {
  if (error instanceof UnsafeArchiveError) {
    return ApplicationFailure.create({ message: `${what}: ${error.message}`, type: FailureType.UnsafeArchive, nonRetryable: true });
  }
  return error;
}

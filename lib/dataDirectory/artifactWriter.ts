import { ApplicationFailure } from '@temporalio/common';
import type { Readable } from 'node:stream';
import { dataDirectoryArtifact, RESTIC_SNAPSHOT_FILE, resticSetTags, setKeyParts } from '../../common/backupSetLayout';
import type { DataDirectoryMethod } from '../../common/dataDirectoryMethod';
import { FailureType } from '../../common/failures';
import type { Artifact } from '../../common/manifest';
import { ARCHIVE_CONTENT_TYPE, compressor } from '../archive/compression';
import { storeArtifact } from '../backupSets/artifacts';
import { resticRepository } from '../restic/repository';
import { Restic } from '../restic/restic';
import { HashingCounter } from '../storage/hashingCounter';
import type { StorageDeps } from '../storage/openStorage';
import type { TransferProgress } from './artifactReader';

export interface StreamedDataDirectory {
  artifact: Artifact;
  tarBytes: number;
  tarSha256: string;
  restic?: { repository: string; snapshotId: string; dataAdded: number; file: string };
}

// A node's data directory as a tar stream into its artifact, in one streamed
// pass (no temp file): compressed and uploaded, or into a restic snapshot with
// a pointer in the set. The tar is counted and hashed on the way, for the manifest.
export async function writeNodeArtifact(
  deps: StorageDeps,
  tar: Readable,
  target: { cluster: string; node: string; storage?: string; prefix: string; method: DataDirectoryMethod },
  progress: TransferProgress,
): Promise<StreamedDataDirectory> {
  const counter = new HashingCounter({ onBytes: (bytes) => progress.onBytes(bytes), highWaterMark: 1024 * 1024 });
  tar.on('error', (error) => counter.destroy(error));
  const tarStream = tar.pipe(counter);
  progress.watch(tar, counter);
  if (target.method === 'restic') {
    const repository = resticRepository(deps.config, target.storage);
    const restic = new Restic(repository);
    const setId = setKeyParts(target.prefix)?.setId ?? target.prefix;
    const summary = await restic.backupStdin(tarStream, { filename: RESTIC_SNAPSHOT_FILE, host: target.node, tags: resticSetTags(target.cluster, setId) });
    const record = { repository: repository.location, snapshotId: summary.snapshotId, dataAdded: summary.dataAdded, file: `/${RESTIC_SNAPSHOT_FILE}` };
    const { backend } = deps.openStorage(target.storage);
    const tarSha256 = counter.sha256();
    const body = Buffer.from(`${JSON.stringify({ ...record, tarBytes: counter.bytes, tarSha256 }, null, 2)}\n`);
    const artifact = await storeArtifact(backend, target.prefix, dataDirectoryArtifact(target.node, 'restic'), body, 'application/json');
    return { artifact, tarBytes: counter.bytes, tarSha256, restic: record };
  }
  const { backend } = deps.openStorage(target.storage);
  const compress = compressor();
  counter.on('error', (error) => compress.destroy(error));
  const compressed = tarStream.pipe(compress);
  progress.watch(tar, counter, compress);
  const artifact = await storeArtifact(backend, target.prefix, dataDirectoryArtifact(target.node, 'archive'), compressed, ARCHIVE_CONTENT_TYPE).catch((error: unknown) => {
    throw error instanceof ApplicationFailure
      ? error
      : ApplicationFailure.create({ message: `uploading the data directory of ${target.node} failed: ${(error as Error).message}`, type: FailureType.StorageError });
  });
  return { artifact, tarBytes: counter.bytes, tarSha256: counter.sha256() };
}

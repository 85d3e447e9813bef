import { ApplicationFailure } from '@temporalio/common';
import { FailureType } from '../../common/failures';
import type { RabbitvaultConfig, StorageTarget } from '../../config/schema';
import { resolveSecret } from '../secrets/resolveSecret';
import type { StorageBackend } from './backend';
import { createArtifactCipher } from '../encryption/artifactCipher';
import { LocalDirectoryStorage } from './local';
import { SealedStorage } from './sealedStorage';
import type { S3ObjectStorage } from './s3';

export interface OpenedStorage {
  name: string;
  backend: StorageBackend;
}

// What library code that reads sets needs from the worker (activities hand in theirs).
export interface StorageDeps {
  config: RabbitvaultConfig;
  openStorage: (name: string | undefined) => OpenedStorage;
}

export function storageTarget(config: RabbitvaultConfig, name: string | undefined): { name: string; target: StorageTarget } {
  const chosen = name ?? config.storage.default;
  const target = config.storage.targets[chosen];
  if (!target) {
    throw ApplicationFailure.create({
      message: `unknown storage target "${chosen}": the worker's config has ${Object.keys(config.storage.targets).join(', ')}`,
      type: FailureType.UnknownStorage,
      nonRetryable: true,
    });
  }
  return { name: chosen, target };
}

export function createBackend(name: string, target: StorageTarget): StorageBackend {
  const raw = createRawBackend(name, target);
  if (!target.encryption) return raw;
  const field = `storage.targets.${name}.encryption`;
  return new SealedStorage(raw, createArtifactCipher(field, target.encryption), field, target.encryption.allowPlaintextSets);
}

function createRawBackend(name: string, target: StorageTarget): StorageBackend {
  if (target.type === 'local') return new LocalDirectoryStorage(target.path, name);
  const field = `storage.targets.${name}`;
  const credentials =
    target.accessKeyId && target.secretAccessKey
      ? {
          accessKeyId: resolveSecret(target.accessKeyId, `${field}.accessKeyId`),
          secretAccessKey: resolveSecret(target.secretAccessKey, `${field}.secretAccessKey`),
        }
      : undefined;
  // Loaded on first use: the AWS SDK is a tenth of an idle worker's memory, and a
  // worker with local targets only never needs it.
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  const { S3ObjectStorage: S3 } = require('./s3') as { S3ObjectStorage: typeof S3ObjectStorage };
  return new S3(target, credentials);
}

// One backend per target per worker, so S3 clients and their sockets are reused.
export function storageOpener(config: RabbitvaultConfig): (name: string | undefined) => OpenedStorage {
  const cache = new Map<string, StorageBackend>();
  return (requested) => {
    const { name, target } = storageTarget(config, requested);
    let backend = cache.get(name);
    if (!backend) {
      backend = createBackend(name, target);
      cache.set(name, backend);
    }
    return { name, backend };
  };
}

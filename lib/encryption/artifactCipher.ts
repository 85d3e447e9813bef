import { ApplicationFailure } from '@temporalio/common';
import type { Readable, Transform } from 'node:stream';
import { FailureType } from '../../common/failures';
import type { SetEncryption } from '../../common/manifest';
import type { ArtifactEncryption } from '../../config/schema';
import { createAesGcmCipher } from './aesGcmCipher';
import { createOpenpgpCipher } from './openpgpCipher';

// Client-side encryption of a storage target's artifacts (Best Practice 3 of
// the guide): sealed as they stream to storage, opened as they stream back.
// Keys are resolved from secret references inside the worker, on first use.
export interface ArtifactCipher {
  readonly type: SetEncryption['type'];
  // What a new set is sealed for, as its manifest records it.
  sealedFor(): Promise<SetEncryption>;
  // Plaintext in, stored bytes out. objectKey: the artifact's key in the target.
  seal(objectKey: string): Promise<Transform>;
  // Whether the first bytes of a stored object are this cipher's format.
  isSealed(head: Buffer): boolean;
  // Stored bytes in, plaintext out; fails (non-retryable) naming the key it needs.
  open(stored: Readable, objectKey: string, where: string): Promise<Readable>;
  // Fails at once, naming the fingerprints, when no key this worker holds opens a set sealed for `encryption`.
  checkCanOpen(encryption: SetEncryption, where: string): Promise<void>;
  // Whether every set read from the target must carry a trusted manifest signature.
  readonly requiresSignature: boolean;
  // A detached signature of a manifest's bytes, when the target has a signing key.
  signManifest(bytes: Buffer): Promise<Buffer | undefined>;
  // The signer's fingerprint; fails (ManifestInvalid) when the signature is missing or not by a trusted key.
  checkManifestSignature(bytes: Buffer, signature: Buffer | null, where: string): Promise<string>;
}

export function createArtifactCipher(field: string, config: ArtifactEncryption): ArtifactCipher {
  return config.type === 'openpgp' ? createOpenpgpCipher(field, config) : createAesGcmCipher(field, config);
}

export function keyMissing(where: string, encryption: SetEncryption, held: string[], hint: string): ApplicationFailure {
  return ApplicationFailure.create({
    message: `${where} is encrypted (${encryption.type}) for ${encryption.keys.join(', ')}; this worker holds ${held.join(', ') || 'no key that opens it'}: ${hint}`,
    type: FailureType.EncryptionKeyMissing,
    nonRetryable: true,
  });
}

// Runs fn once, on first use, and keeps its answer (keys are parsed once per worker).
export function once<T>(fn: () => Promise<T>): () => Promise<T> {
  let memo: Promise<T> | undefined;
  return () => {
    memo ??= fn();
    // A failed load (a secret not yet mounted) is tried again next time.
    memo.catch(() => {
      memo = undefined;
    });
    return memo;
  };
}

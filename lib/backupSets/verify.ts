import { ApplicationFailure } from '@temporalio/common';
import { pipeline } from 'node:stream/promises';
import { artifactKey, manifestKey, manifestSignatureKey } from '../../common/backupSetLayout';
import { FailureType } from '../../common/failures';
import { Manifest, type Artifact } from '../../common/manifest';
import type { StorageBackend } from '../storage/backend';
import { HashingCounter } from '../storage/hashingCounter';
import { rawBackend, SealedStorage } from '../storage/sealedStorage';
import { hashStoredObject, readSmallObject } from './artifacts';

const MAX_MANIFEST_BYTES = 16 * 1024 * 1024;
const MAX_SIGNATURE_BYTES = 64 * 1024;

export interface ArtifactProblem {
  artifact: string;
  problem: string;
}

export interface VerificationReport {
  setId: string;
  location: string;
  ok: boolean;
  artifactsChecked: number;
  bytesChecked: number;
  problems: ArtifactProblem[];
  // Encrypted sets: each artifact was also opened with the key and its plaintext checked.
  decrypted?: boolean;
  // Signed sets: the fingerprint of the key whose signature of the manifest verified.
  signedBy?: string;
}

// 'deep': what a restore needs: every artifact's stored bytes, and on an
// encrypted set its plaintext too, opened with the key (which authenticates
// it); fails at once, naming the fingerprints, when no key opens the set.
// 'stored': the bytes storage keeps only (an off-site copy needs no key).
export type VerifyMode = 'deep' | 'stored';

// Re-hashes every artifact against the manifest: size and SHA-256 both.
export async function verifySet(backend: StorageBackend, prefix: string, manifest: Manifest, mode: VerifyMode = 'deep'): Promise<VerificationReport> {
  const where = `set ${manifest.setId} at ${backend.locate(prefix)}`;
  const sealed = backend instanceof SealedStorage ? backend : undefined;
  const decrypt = mode === 'deep' && manifest.encryption !== undefined;
  if (decrypt && manifest.encryption) {
    if (!sealed) {
      throw ApplicationFailure.create({
        message: `${where} is encrypted (${manifest.encryption.type}) for ${manifest.encryption.keys.join(', ')}; this storage target has no encryption configured: add its encryption with the key that opens it`,
        type: FailureType.EncryptionKeyMissing,
        nonRetryable: true,
      });
    }
    await sealed.cipher.checkCanOpen(manifest.encryption, where);
  }
  if (mode === 'deep' && !manifest.encryption && sealed && !sealed.allowPlaintextSets) {
    throw ApplicationFailure.create({
      message: `${where} is not encrypted but ${sealed.field} requires encrypted sets: refused (set allowPlaintextSets for sets written before encryption was turned on)`,
      type: FailureType.ManifestInvalid,
      nonRetryable: true,
    });
  }
  const signedBy = decrypt && sealed?.cipher.requiresSignature ? await checkSignature(sealed, prefix, manifest, where) : undefined;
  const problems: ArtifactProblem[] = [];
  let bytesChecked = 0;
  for (const artifact of manifest.artifacts) {
    const key = artifactKey(prefix, artifact.name);
    if (!(await backend.stat(key))) {
      problems.push({ artifact: artifact.name, problem: `missing at ${backend.locate(key)}` });
      continue;
    }
    if (decrypt && sealed) {
      const found = await openAndHash(sealed, key, artifact);
      bytesChecked += found.storedBytes;
      if (found.problem) problems.push({ artifact: artifact.name, problem: found.problem });
      continue;
    }
    const expected = artifact.stored ?? artifact;
    const actual = await hashStoredObject(rawBackend(backend), key);
    bytesChecked += actual.size;
    const problem = mismatch('', actual, expected);
    if (problem) problems.push({ artifact: artifact.name, problem });
  }
  return {
    setId: manifest.setId,
    location: backend.locate(prefix),
    ok: problems.length === 0,
    artifactsChecked: manifest.artifacts.length,
    bytesChecked,
    problems,
    ...(decrypt ? { decrypted: true } : {}),
    ...(signedBy ? { signedBy } : {}),
  };
}

// The manifest's bytes as signed, checked against the signature and against
// the manifest this verification was handed (read earlier, so it may differ).
async function checkSignature(sealed: SealedStorage, prefix: string, manifest: Manifest, where: string): Promise<string> {
  const bytes = await readSmallObject(sealed.raw, manifestKey(prefix), MAX_MANIFEST_BYTES);
  const signatureKey = manifestSignatureKey(prefix);
  const signature = (await sealed.raw.stat(signatureKey)) ? await readSmallObject(sealed.raw, signatureKey, MAX_SIGNATURE_BYTES) : null;
  const signer = await sealed.cipher.checkManifestSignature(bytes, signature, where);
  let parsed: unknown;
  try {
    parsed = JSON.parse(bytes.toString('utf8'));
  } catch {
    parsed = undefined;
  }
  const signed = Manifest.safeParse(parsed);
  if (!signed.success || JSON.stringify(signed.data) !== JSON.stringify(manifest)) {
    throw ApplicationFailure.create({ message: `${where}: the manifest changed while it was being verified: refused`, type: FailureType.ManifestInvalid, nonRetryable: true });
  }
  return signer;
}

// One pass over the stored bytes: hashed as stored, opened, hashed as plaintext.
async function openAndHash(sealed: SealedStorage, key: string, artifact: Artifact): Promise<{ storedBytes: number; problem?: string }> {
  const plain = new HashingCounter();
  let stored: HashingCounter | undefined;
  try {
    const opened = await sealed.getCounted(key);
    stored = opened.stored;
    await pipeline(opened.plaintext, plain, async function* (source) {
      for await (const _chunk of source) {
        // Drain: the counters have seen the bytes.
      }
    });
  } catch (error) {
    // Altered, truncated or foreign bytes are a finding about the set; a missing key or a storage outage is not.
    const type = (error as ApplicationFailure).type;
    if (type !== FailureType.ManifestChecksumMismatch && type !== FailureType.ManifestInvalid) throw error;
    return { storedBytes: stored?.bytes ?? 0, problem: (error as Error).message };
  }
  if (!artifact.stored) return { storedBytes: stored.bytes, problem: 'the manifest records no checksum of the stored (encrypted) bytes' };
  const problem = mismatch('stored ', { size: stored.bytes, sha256: stored.sha256() }, artifact.stored) ?? mismatch('plaintext ', { size: plain.bytes, sha256: plain.sha256() }, artifact);
  return { storedBytes: stored.bytes, ...(problem ? { problem } : {}) };
}

function mismatch(what: string, actual: { size: number; sha256: string }, expected: { size: number; sha256: string }): string | undefined {
  if (actual.size !== expected.size) return `${what}size ${actual.size} bytes, manifest says ${expected.size}`;
  if (actual.sha256 !== expected.sha256) return `${what}SHA-256 ${actual.sha256}, manifest says ${expected.sha256}`;
  return undefined;
}

import { artifactKey, manifestKey, MANIFEST_FILE, setPrefix } from '../../common/backupSetLayout';
import { Manifest } from '../../common/manifest';
import { parseUntrustedJson } from '../../common/untrusted';
import { readSmallObject } from '../backupSets/artifacts';
import type { SetLocation } from '../backupSets/catalog';
import { verifySet } from '../backupSets/verify';
import { StorageObjectNotFound, type StorageBackend } from '../storage/backend';
import type { Verdict } from './policy';
import { verdictKey, type VerificationCache } from './verificationCache';

const MAX_MANIFEST_BYTES = 16 * 1024 * 1024;

// Whether a set restores as far as storage can tell: its manifest parses and
// names this folder, and every artifact has the manifest's size and SHA-256.
// A manifest that lies consistently (checksums of damaged bytes) verifies:
// nothing in storage can tell it apart from a good set.
// Storage errors are thrown (the activity retries); only what the set's own
// bytes say becomes a verdict.
// fresh: read the artifacts even when the cache has a verdict (and store the new one).
// heartbeat: called while the artifacts are read (every 5 s, and before).
export async function verifyForRetention(
  backend: StorageBackend,
  storage: string,
  set: SetLocation,
  cache: VerificationCache,
  now: Date,
  fresh: boolean,
  heartbeat: (details: { verifying: string }) => void,
): Promise<Verdict> {
  const manifestAt = manifestKey(set.prefix);
  const damaged = (problem: string): Verdict => ({ restorable: false, problem, verifiedAt: now.toISOString(), cached: false });
  const stat = await backend.stat(manifestAt);
  if (!stat) return damaged(`${MANIFEST_FILE} disappeared while retention read it`);
  if (stat.size > MAX_MANIFEST_BYTES) return damaged(`${MANIFEST_FILE} is ${stat.size} bytes, more than ${MAX_MANIFEST_BYTES}`);
  let bytes: Buffer;
  try {
    bytes = await readSmallObject(backend, manifestAt, MAX_MANIFEST_BYTES);
  } catch (error) {
    if (error instanceof StorageObjectNotFound) return damaged(`${MANIFEST_FILE} disappeared while retention read it`);
    throw error;
  }
  let manifest: Manifest;
  try {
    manifest = parseUntrustedJson(Manifest, bytes, MAX_MANIFEST_BYTES, { set: set.prefix, artifact: MANIFEST_FILE });
  } catch (error) {
    return damaged((error as Error).message);
  }
  if (manifest.cluster !== set.cluster || manifest.component !== set.component || manifest.setId !== set.setId) {
    return damaged(`${MANIFEST_FILE} describes ${setPrefix(manifest.cluster, manifest.component, manifest.setId)}, not the folder it lies in`);
  }
  const key = verdictKey(storage, backend.locate(set.prefix), bytes);
  const known = fresh ? undefined : cache.lookup(key, now);
  // A cached "restorable" still needs every artifact present at its size (one stat each, no read).
  if (known && (!known.restorable || (await sizesMatch(backend, set.prefix, manifest)))) return { ...known, cached: true };
  const beat = setInterval(() => heartbeat({ verifying: set.prefix }), 5_000);
  try {
    heartbeat({ verifying: set.prefix });
    // The bytes as stored: a worker that only backs up holds no key to open encrypted sets.
    const report = await verifySet(backend, set.prefix, manifest, 'stored');
    const verdict: Omit<Verdict, 'cached'> = report.ok
      ? { restorable: true, verifiedAt: now.toISOString() }
      : { restorable: false, problem: report.problems.map((p) => `${p.artifact}: ${p.problem}`).join('; '), verifiedAt: now.toISOString() };
    cache.store(key, verdict);
    return { ...verdict, cached: false };
  } finally {
    clearInterval(beat);
  }
}

async function sizesMatch(backend: StorageBackend, prefix: string, manifest: Manifest): Promise<boolean> {
  for (const artifact of manifest.artifacts) {
    if ((await backend.stat(artifactKey(prefix, artifact.name)))?.size !== (artifact.stored ?? artifact).size) return false;
  }
  return true;
}

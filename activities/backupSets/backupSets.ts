import { ApplicationFailure } from '@temporalio/common';
import { FailureType } from '../../common/failures';
import { artifactKey, manifestKey, manifestSignatureKey, setFolder, setPrefix } from '../../common/backupSetLayout';
import { Manifest, MANIFEST_SCHEMA_VERSION } from '../../common/manifest';
import type { Component } from '../../common/names';
import type { ActivityDeps } from '../deps';
import { recordedSnapshotProblems } from '../../lib/kubernetes/volumeSnapshots';
import { resolveSet } from '../../lib/backupSets/catalog';
import { verifySet, type VerificationReport } from '../../lib/backupSets/verify';
import { LocalDirectoryStorage } from '../../lib/storage/local';
import { SealedStorage } from '../../lib/storage/sealedStorage';

export type ManifestDraft = Omit<Manifest, 'schemaVersion' | 'toolVersion'>;

export interface ResolvedSet {
  storage: string;
  prefix: string;
  location: string;
  manifest: Manifest;
}

export function createBackupSetActivities(deps: ActivityDeps) {
  return {
    // The last write of every backup: until it exists the set is incomplete.
    async writeManifest(input: { storage?: string; prefix: string; manifest: ManifestDraft }): Promise<{ location: string }> {
      const { backend } = deps.openStorage(input.storage);
      for (const artifact of input.manifest.artifacts) {
        const key = artifactKey(input.prefix, artifact.name);
        const stored = await backend.stat(key);
        const expected = (artifact.stored ?? artifact).size;
        if (stored?.size !== expected) {
          throw ApplicationFailure.create({
            message: `artifact ${artifact.name} at ${backend.locate(key)} is ${stored ? `${stored.size} bytes, expected ${expected}` : 'missing'}`,
            type: FailureType.StorageError,
          });
        }
      }
      // Every artifact sealed or none: a set is opened with one cipher.
      const sealedCount = input.manifest.artifacts.filter((a) => a.stored).length;
      if (sealedCount !== 0 && sealedCount !== input.manifest.artifacts.length) {
        throw ApplicationFailure.create({ message: `set ${input.prefix} mixes encrypted and plaintext artifacts (the target's encryption changed during the backup): run it again`, type: FailureType.StorageError, nonRetryable: true });
      }
      const encryption = sealedCount && backend instanceof SealedStorage ? await backend.cipher.sealedFor() : undefined;
      const manifest = Manifest.parse({ ...input.manifest, schemaVersion: MANIFEST_SCHEMA_VERSION, toolVersion: deps.toolVersion, ...(encryption ? { encryption } : {}) });
      const bytes = Buffer.from(`${JSON.stringify(manifest, null, 2)}\n`);
      // The signature first: the manifest marks the set complete, and a complete set without one would be refused.
      const signature = backend instanceof SealedStorage ? await backend.cipher.signManifest(bytes) : undefined;
      if (signature) await backend.put(manifestSignatureKey(input.prefix), signature, { contentType: 'application/pgp-signature' });
      await backend.put(manifestKey(input.prefix), bytes, { contentType: 'application/json' });
      return { location: backend.locate(input.prefix) };
    },

    // The compensation of a failed backup: every object of its set, which has
    // no manifest (a set that has one is complete after all and is kept).
    async removeIncompleteSet(input: { storage?: string; cluster: string; component: Component; setId: string }): Promise<{ location: string; removed: number; complete: boolean }> {
      const { backend } = deps.openStorage(input.storage);
      const prefix = setPrefix(input.cluster, input.component, input.setId);
      const location = backend.locate(prefix);
      if (await backend.stat(manifestKey(prefix))) return { location, removed: 0, complete: true };
      const objects = await backend.list(setFolder(prefix));
      for (const object of objects) await backend.delete(object.key);
      const raw = backend instanceof SealedStorage ? backend.raw : backend;
      if (raw instanceof LocalDirectoryStorage) await raw.removeEmptyFolders(setFolder(prefix));
      return { location, removed: objects.length, complete: false };
    },

    async resolveBackupSet(input: { storage?: string; cluster: string; component: Component; set: string }): Promise<ResolvedSet> {
      const { name, backend } = deps.openStorage(input.storage);
      const { prefix, manifest } = await resolveSet(backend, input.cluster, input.component, input.set);
      return { storage: name, prefix, location: backend.locate(prefix), manifest };
    },

    async verifyBackupSet(input: {
      storage?: string;
      cluster: string;
      component: Component;
      set: string;
    }): Promise<{ set: ResolvedSet; report: VerificationReport }> {
      const { name, backend } = deps.openStorage(input.storage);
      const { prefix, manifest } = await resolveSet(backend, input.cluster, input.component, input.set);
      const report = await verifySet(backend, prefix, manifest);
      if (manifest.component === 'volume-snapshot') {
        const problems = await recordedSnapshotProblems(deps.config, manifest);
        report.problems.push(...problems);
        report.ok &&= problems.length === 0;
      }
      return { set: { storage: name, prefix, location: backend.locate(prefix), manifest }, report };
    },
  };
}

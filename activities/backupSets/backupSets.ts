import { ApplicationFailure } from '@temporalio/common';
import { FailureType } from '../../common/failures';
import { artifactKey, manifestKey } from '../../common/backupSetLayout';
import { Manifest, MANIFEST_SCHEMA_VERSION } from '../../common/manifest';
import type { Component } from '../../common/names';
import type { ActivityDeps } from '../deps';
import { resolveSet } from '../../lib/backupSets/catalog';
import { verifySet, type VerificationReport } from '../../lib/backupSets/verify';

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
        if (stored?.size !== artifact.size) {
          throw ApplicationFailure.create({
            message: `artifact ${artifact.name} at ${backend.locate(key)} is ${stored ? `${stored.size} bytes, expected ${artifact.size}` : 'missing'}`,
            type: FailureType.StorageError,
          });
        }
      }
      const manifest = Manifest.parse({ ...input.manifest, schemaVersion: MANIFEST_SCHEMA_VERSION, toolVersion: deps.toolVersion });
      await backend.put(manifestKey(input.prefix), Buffer.from(`${JSON.stringify(manifest, null, 2)}\n`), {
        contentType: 'application/json',
      });
      return { location: backend.locate(input.prefix) };
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
      return { set: { storage: name, prefix, location: backend.locate(prefix), manifest }, report };
    },
  };
}

import { heartbeat } from '@temporalio/activity';
import { ApplicationFailure } from '@temporalio/common';
import { FailureType } from '../../common/failures';
import { artifactKey, manifestKey, manifestSignatureKey } from '../../common/backupSetLayout';
import type { Component } from '../../common/names';
import { readSmallObject, storeArtifact } from '../../lib/backupSets/artifacts';
import { readManifest, resolveSet } from '../../lib/backupSets/catalog';
import { verifySet, type VerificationReport } from '../../lib/backupSets/verify';
import { rawBackend } from '../../lib/storage/sealedStorage';
import type { ActivityDeps } from '../deps';

export interface OffsiteCopyResult {
  cluster: string;
  component: Component;
  setId: string;
  from: string;
  to: string;
  location: string;
  // True when the target already held this exact manifest: only re-verified.
  alreadyThere: boolean;
  bytesCopied: number;
  verification: VerificationReport;
}

// The guide's 3-2-1 rule: each artifact streamed to the second target and
// hashed on the way, the manifest copied last (byte for byte), then every
// artifact re-read from the target and checked against the manifest.
export function createOffsiteActivities(deps: ActivityDeps) {
  return {
    async offsiteTarget(): Promise<string | null> {
      return deps.config.offsite?.target ?? null;
    },

    async copySetOffsite(input: { cluster: string; component: Component; set: string; from?: string; to?: string }): Promise<OffsiteCopyResult> {
      const to = input.to ?? deps.config.offsite?.target;
      if (!to) {
        throw ApplicationFailure.create({
          message: 'no off-site target: set offsite.target in the config or pass "to"',
          type: FailureType.UnknownStorage,
          nonRetryable: true,
        });
      }
      const source = deps.openStorage(input.from);
      const target = deps.openStorage(to);
      if (source.name === target.name) {
        throw ApplicationFailure.create({ message: `off-site target "${to}" is the source itself`, type: FailureType.InvalidInput, nonRetryable: true });
      }
      const { prefix, manifest } = await resolveSet(source.backend, input.cluster, input.component, input.set);
      const manifestBytes = await readSmallObject(source.backend, manifestKey(prefix));
      const existing = await target.backend.stat(manifestKey(prefix));
      const alreadyThere = existing !== null && (await readSmallObject(target.backend, manifestKey(prefix))).equals(manifestBytes);
      let bytesCopied = 0;
      if (!alreadyThere) {
        // A different manifest at the target would make a torn mix: replace it last, remove it first.
        if (existing) await target.backend.delete(manifestKey(prefix));
        for (const artifact of manifest.artifacts) {
          heartbeat({ artifact: artifact.name, bytesCopied });
          // The bytes as stored, encrypted or not: the copy opens with the same keys and needs none here.
          const copied = await storeArtifact(rawBackend(target.backend), prefix, artifact.name, await rawBackend(source.backend).get(artifactKey(prefix, artifact.name)), artifact.contentType);
          const expected = artifact.stored ?? artifact;
          if (copied.sha256 !== expected.sha256 || copied.size !== expected.size) {
            throw ApplicationFailure.create({
              message: `artifact ${artifact.name} of set ${manifest.setId} read from ${source.backend.locate(prefix)} does not match its manifest (SHA-256 ${copied.sha256}): the source is damaged, nothing copied off-site is marked complete`,
              type: FailureType.ManifestChecksumMismatch,
              nonRetryable: true,
            });
          }
          bytesCopied += copied.size;
        }
        // A signed set keeps its signature, written before the manifest as at the source.
        const signature = manifestSignatureKey(prefix);
        if (await source.backend.stat(signature)) await rawBackend(target.backend).put(signature, await readSmallObject(source.backend, signature, 64 * 1024));
        await target.backend.put(manifestKey(prefix), manifestBytes, { contentType: 'application/json' });
      }
      heartbeat({ verifying: prefix });
      const verification = await verifySet(target.backend, prefix, await readManifest(target.backend, prefix), 'stored');
      if (!verification.ok) {
        // Incomplete again, so the retry copies anew instead of trusting the damaged copy.
        await target.backend.delete(manifestKey(prefix));
        throw ApplicationFailure.create({
          message: `off-site copy of set ${manifest.setId} at ${target.backend.locate(prefix)} failed verification: ${verification.problems.map((p) => `${p.artifact}: ${p.problem}`).join('; ')}`,
          type: FailureType.ManifestChecksumMismatch,
          details: [verification],
        });
      }
      return {
        cluster: input.cluster,
        component: input.component,
        setId: manifest.setId,
        from: source.name,
        to: target.name,
        location: target.backend.locate(prefix),
        alreadyThere,
        bytesCopied,
        verification,
      };
    },
  };
}

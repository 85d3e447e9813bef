import { ApplicationFailure } from '@temporalio/common';
import { artifactKey } from '../../common/backupSetLayout';
import { FailureType } from '../../common/failures';
import type { Artifact } from '../../common/manifest';
import { readSmallObject } from '../../lib/backupSets/artifacts';
import { sha256Of } from '../../lib/storage/hashingCounter';
import type { ActivityDeps } from '../deps';
import { InvalidDefinitions, MAX_DEFINITIONS_BYTES, parseDefinitions, type Definitions } from '../../lib/definitions/model';
import { planRestore, type RestorePlan } from '../../lib/definitions/plan';

export interface DefinitionsSource {
  storage?: string;
  prefix: string;
  artifact: Artifact;
}

export function createDefinitionsRestoreActivities(deps: ActivityDeps) {
  // Every read of the artifact re-checks its SHA-256, so nothing that changed
  // since verification can reach a broker; it reads no more than the manifest's
  // size, and never more than any real definitions file is.
  async function readVerifiedArtifact(source: DefinitionsSource): Promise<Buffer> {
    const { backend } = deps.openStorage(source.storage);
    const key = artifactKey(source.prefix, source.artifact.name);
    const bytes = await readSmallObject(backend, key, Math.min(source.artifact.size, MAX_DEFINITIONS_BYTES));
    if (sha256Of(bytes) !== source.artifact.sha256) {
      throw ApplicationFailure.create({
        message: `artifact ${source.artifact.name} at ${backend.locate(key)} does not match its manifest checksum: the target was not touched`,
        type: FailureType.ManifestChecksumMismatch,
        nonRetryable: true,
      });
    }
    return bytes;
  }

  function parseOrFail(bytes: Buffer, source: string): Definitions {
    try {
      return parseDefinitions(bytes, source, false);
    } catch (error) {
      if (!(error instanceof InvalidDefinitions)) throw error;
      throw ApplicationFailure.create({ message: error.message, type: FailureType.InvalidDefinitions, nonRetryable: true });
    }
  }

  async function planAgainstTarget(source: DefinitionsSource, cluster: string): Promise<RestorePlan> {
    const backup = parseOrFail(await readVerifiedArtifact(source), source.artifact.name);
    const api = deps.managementApi(cluster);
    const live = parseOrFail(await api.exportDefinitions(), `live definitions of ${api.url}`);
    return planRestore(backup, live);
  }

  return {
    // Reads only: what a restore would create, leave, update, or conflict with.
    async planDefinitionsRestore(input: { source: DefinitionsSource; cluster: string }): Promise<RestorePlan> {
      return planAgainstTarget(input.source, input.cluster);
    },

    // POST /api/definitions with the artifact exactly as backed up.
    async importDefinitions(input: { source: DefinitionsSource; cluster: string }): Promise<void> {
      const bytes = await readVerifiedArtifact(input.source);
      await deps.managementApi(input.cluster).importDefinitions(bytes);
    },
  };
}

import { ApplicationFailure } from '@temporalio/common';
import { artifactKey } from '../../common/backupSetLayout';
import { FailureType } from '../../common/failures';
import type { Artifact } from '../../common/manifest';
import { readSmallObject } from '../../lib/backupSets/artifacts';
import { sha256Of } from '../../lib/storage/hashingCounter';
import type { ActivityDeps } from '../deps';
import { InvalidDefinitions, MAX_DEFINITIONS_BYTES, parseDefinitions, type Definitions } from '../../lib/definitions/model';
import { planRestore, type RestorePlan } from '../../lib/definitions/plan';
import { checkCompatibility } from '../../lib/definitions/compatibility';
import { applyTransforms } from '../../lib/definitions/definitionsTransforms';
import { exportLacksVhostMetadata, MAX_VHOSTS_BYTES, StoredVhostMetadata, vhostMetadataFromApi, vhostMetadataOf, withVhostMetadata, type VhostMetadata } from '../../lib/definitions/vhostMetadata';
import type { ManagementApi } from '../../lib/rabbitmq/managementApi';
import type { Failover } from '../../lib/rabbitmq/endpoints';
import { refuseUnhealthyTarget } from '../../lib/rabbitmq/healthChecks';
import type { TransformName } from '../../common/definitionsTransformNames';

export interface DefinitionsSource {
  storage?: string;
  prefix: string;
  artifact: Artifact;
  // vhosts.json, in sets whose source export dropped vhost metadata.
  vhostMetadata?: Artifact;
}

// What the restore imports and how the target is judged (restoreDefinitions' input).
export interface DefinitionsImportOptions {
  transforms?: TransformName[];
  targetVersion?: string;
}

export function createDefinitionsRestoreActivities(deps: ActivityDeps) {
  // Every read of the artifact re-checks its SHA-256, so nothing that changed
  // since verification can reach a broker; it reads no more than the manifest's
  // size, and never more than any real definitions file is.
  async function readVerifiedArtifact(source: { storage?: string; prefix: string }, artifact: Artifact, limit: number): Promise<Buffer> {
    const { backend } = deps.openStorage(source.storage);
    const key = artifactKey(source.prefix, artifact.name);
    const bytes = await readSmallObject(backend, key, Math.min(artifact.size, limit));
    if (sha256Of(bytes) !== artifact.sha256) {
      throw ApplicationFailure.create({
        message: `artifact ${artifact.name} at ${backend.locate(key)} does not match its manifest checksum: the target was not touched`,
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

  // The stored vhosts.json: verified, bounded, and strictly parsed before any use.
  async function readVhostMetadata(source: DefinitionsSource): Promise<VhostMetadata[]> {
    if (!source.vhostMetadata) return [];
    const bytes = await readVerifiedArtifact(source, source.vhostMetadata, MAX_VHOSTS_BYTES);
    let json: unknown;
    try {
      json = JSON.parse(bytes.toString('utf8'));
    } catch (error) {
      throw ApplicationFailure.create({ message: `${source.vhostMetadata.name}: not valid JSON (${(error as Error).message})`, type: FailureType.InvalidDefinitions, nonRetryable: true });
    }
    const parsed = StoredVhostMetadata.safeParse(json);
    if (!parsed.success) {
      const issue = parsed.error.issues[0]!;
      throw ApplicationFailure.create({ message: `${source.vhostMetadata.name}: ${issue.path.join('.')}: ${issue.message}`, type: FailureType.InvalidDefinitions, nonRetryable: true });
    }
    return parsed.data;
  }

  // What the restore imports: the verified artifact, its vhost metadata put
  // back, and the operator's transformations (on this copy only).
  async function toImport(source: DefinitionsSource, transforms: TransformName[]) {
    const bytes = await readVerifiedArtifact(source, source.artifact, MAX_DEFINITIONS_BYTES);
    const backup = withVhostMetadata(parseOrFail(bytes, source.artifact.name), await readVhostMetadata(source));
    return { bytes, ...applyTransforms(backup, transforms) };
  }

  // The target as a complete export would show it (its vhosts with their metadata).
  async function liveDefinitions(api: ManagementApi): Promise<Definitions> {
    const live = parseOrFail(await api.exportDefinitions(), `live definitions of ${api.url}`);
    return exportLacksVhostMetadata(live) ? withVhostMetadata(live, vhostMetadataFromApi(await api.listVhosts())) : live;
  }

  async function planAgainstTarget(source: DefinitionsSource, cluster: string, options: DefinitionsImportOptions): Promise<RestorePlan> {
    const api = deps.managementApi(cluster);
    await refuseUnhealthyTarget(api, 'the target was not touched');
    const transforms = options.transforms ?? [];
    const { defs, changes } = await toImport(source, transforms);
    const version = options.targetVersion ?? (await api.overview()).rabbitmq_version ?? null;
    const compatibility = checkCompatibility(defs, { version, declared: options.targetVersion !== undefined }, transforms, changes);
    return { ...planRestore(defs, await liveDefinitions(api)), compatibility };
  }

  return {
    // Reads only: what a restore would create, leave, update, or conflict with,
    // and what the target's version would refuse.
    async planDefinitionsRestore(input: { source: DefinitionsSource; cluster: string } & DefinitionsImportOptions): Promise<RestorePlan> {
      return planAgainstTarget(input.source, input.cluster, input);
    },

    // POST /api/definitions (the artifact exactly as backed up, or its
    // transformed copy), with the vhost metadata around it: a missing vhost is
    // created first with its metadata (RabbitMQ sets a default queue type only
    // at creation), and description and tags that still differ afterwards are
    // put back. Every step is idempotent, so a retry repeats it safely.
    async importDefinitions(input: { source: DefinitionsSource; cluster: string } & DefinitionsImportOptions): Promise<{ failover?: Failover }> {
      const api = deps.managementApi(input.cluster);
      const transforms = input.transforms ?? [];
      const { bytes, defs } = await toImport(input.source, transforms);
      const wanted = vhostMetadataOf(defs);
      const putDiffering = async (missingOnly: boolean) => {
        const live = new Map(vhostMetadataFromApi(await api.listVhosts()).map((v) => [v.name, v]));
        for (const v of wanted) {
          const have = live.get(v.name);
          if (have && (missingOnly || (have.description === v.description && [...have.tags].sort().join(',') === [...v.tags].sort().join(',')))) continue;
          await api.putVhost(v.name, { description: v.description, tags: v.tags, defaultQueueType: v.default_queue_type });
        }
      };
      await putDiffering(true);
      await api.importDefinitions(transforms.length === 0 ? bytes : Buffer.from(JSON.stringify(defs)));
      await putDiffering(false);
      return api.failover ? { failover: api.failover } : {};
    },
  };
}

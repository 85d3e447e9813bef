import { ApplicationFailure } from '@temporalio/common';
import { FailureType } from '../../common/failures';
import type { Artifact } from '../../common/manifest';
import { DEFINITIONS_ARTIFACT, setPrefix, VHOSTS_ARTIFACT } from '../../common/backupSetLayout';
import { storeArtifact } from '../../lib/backupSets/artifacts';
import type { ActivityDeps } from '../deps';
import type { Failover } from '../../lib/rabbitmq/endpoints';
import { countDefinitions, InvalidDefinitions, parseDefinitions, type Definitions, type DefinitionsCounts } from '../../lib/definitions/model';
import { exportLacksVhostMetadata, vhostMetadataFromApi } from '../../lib/definitions/vhostMetadata';

export interface ExportedDefinitions {
  storage: string;
  prefix: string;
  artifact: Artifact;
  // vhosts.json, when the export dropped vhost metadata (description, tags, default queue type).
  vhostMetadata?: Artifact;
  counts: DefinitionsCounts;
  rabbitmqVersion: string | null;
  // Set when a node of the cluster did not answer and another one did.
  failover?: Failover;
}

export function createDefinitionsBackupActivities(deps: ActivityDeps) {
  return {
    // GET /api/definitions, check it, store it byte for byte; where the export
    // drops vhost metadata (3.x), GET /api/vhosts beside it as vhosts.json.
    // Idempotent: a retry rewrites the same keys of the same set.
    async exportDefinitions(input: { cluster: string; storage?: string; setId: string }): Promise<ExportedDefinitions> {
      const api = deps.managementApi(input.cluster);
      const { name, backend } = deps.openStorage(input.storage);
      const bytes = await api.exportDefinitions();
      let counts: DefinitionsCounts;
      let rabbitmqVersion: string | null;
      let defs: Definitions;
      try {
        defs = parseDefinitions(bytes, `definitions exported from ${api.url}`, true);
        counts = countDefinitions(defs);
        rabbitmqVersion = typeof defs.rabbitmq_version === 'string' ? defs.rabbitmq_version : typeof defs.rabbit_version === 'string' ? defs.rabbit_version : null;
      } catch (error) {
        if (!(error instanceof InvalidDefinitions)) throw error;
        throw ApplicationFailure.create({ message: error.message, type: FailureType.InvalidDefinitions, nonRetryable: true });
      }
      const prefix = setPrefix(input.cluster, 'definitions', input.setId);
      const artifact = await storeArtifact(backend, prefix, DEFINITIONS_ARTIFACT, bytes, 'application/json');
      const failover = () => (api.failover ? { failover: api.failover } : {});
      if (!exportLacksVhostMetadata(defs)) return { storage: name, prefix, artifact, counts, rabbitmqVersion, ...failover() };
      const metadata = vhostMetadataFromApi(await api.listVhosts());
      const vhostMetadata = await storeArtifact(backend, prefix, VHOSTS_ARTIFACT, Buffer.from(`${JSON.stringify(metadata, null, 1)}\n`), 'application/json');
      return { storage: name, prefix, artifact, vhostMetadata, counts, rabbitmqVersion, ...failover() };
    },
  };
}

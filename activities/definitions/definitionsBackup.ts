import { ApplicationFailure } from '@temporalio/common';
import { FailureType } from '../../common/failures';
import type { Artifact } from '../../common/manifest';
import { DEFINITIONS_ARTIFACT, setPrefix } from '../../common/backupSetLayout';
import { storeArtifact } from '../../lib/backupSets/artifacts';
import type { ActivityDeps } from '../deps';
import { countDefinitions, InvalidDefinitions, parseDefinitions, type DefinitionsCounts } from '../../lib/definitions/model';

export interface ExportedDefinitions {
  storage: string;
  prefix: string;
  artifact: Artifact;
  counts: DefinitionsCounts;
  rabbitmqVersion: string | null;
}

export function createDefinitionsBackupActivities(deps: ActivityDeps) {
  return {
    // GET /api/definitions, check it, store it byte for byte. Idempotent: a
    // retry rewrites the same key of the same set.
    async exportDefinitions(input: { cluster: string; storage?: string; setId: string }): Promise<ExportedDefinitions> {
      const api = deps.managementApi(input.cluster);
      const { name, backend } = deps.openStorage(input.storage);
      const bytes = await api.exportDefinitions();
      let counts: DefinitionsCounts;
      let rabbitmqVersion: string | null;
      try {
        const defs = parseDefinitions(bytes, `definitions exported from ${api.url}`, true);
        counts = countDefinitions(defs);
        rabbitmqVersion = typeof defs.rabbitmq_version === 'string' ? defs.rabbitmq_version : typeof defs.rabbit_version === 'string' ? defs.rabbit_version : null;
      } catch (error) {
        if (!(error instanceof InvalidDefinitions)) throw error;
        throw ApplicationFailure.create({ message: error.message, type: FailureType.InvalidDefinitions, nonRetryable: true });
      }
      const prefix = setPrefix(input.cluster, 'definitions', input.setId);
      const artifact = await storeArtifact(backend, prefix, DEFINITIONS_ARTIFACT, bytes, 'application/json');
      return { storage: name, prefix, artifact, counts, rabbitmqVersion };
    },
  };
}

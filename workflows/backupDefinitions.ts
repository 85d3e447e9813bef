import { uuid4, workflowInfo } from '@temporalio/workflow';
import type { DefinitionsCounts } from '../lib/definitions/model';
import type { Artifact } from '../common/manifest';
import { newSetId } from '../common/names';
import { BackupDefinitionsInput } from '../common/workflowInputs';
import { activitiesWithRetry, explainFailure, parseWorkflowInput, trackProgress } from './toolkit/support';

export interface BackupDefinitionsResult {
  cluster: string;
  setId: string;
  storage: string;
  location: string;
  artifact: Artifact;
  counts: DefinitionsCounts;
  rabbitmqVersion: string | null;
  startedAt: string;
  finishedAt: string;
}

// The guide's "Definitions Backup": export, check, store, then the manifest.
// The set id comes from workflow time and workflow randomness, so a replay
// after a worker crash writes into the same set, never a second one.
export async function backupDefinitions(rawInput: BackupDefinitionsInput): Promise<BackupDefinitionsResult> {
  const input = parseWorkflowInput(BackupDefinitionsInput, rawInput, 'backupDefinitions');
  const progress = trackProgress();
  const act = activitiesWithRetry(input.retry);
  const startedAt = new Date();
  const setId = newSetId(startedAt, uuid4());

  progress('exporting definitions', `cluster ${input.cluster}, set ${setId}`);
  const exported = await act.exportDefinitions({ cluster: input.cluster, storage: input.storage, setId }).catch((error: unknown) => {
    throw explainFailure(`exporting definitions of cluster ${input.cluster}`, error);
  });

  progress('writing manifest', exported.prefix);
  const finishedAt = new Date();
  const { workflowId, runId } = workflowInfo();
  const { location } = await act
    .writeManifest({
      storage: exported.storage,
      prefix: exported.prefix,
      manifest: {
        cluster: input.cluster,
        component: 'definitions',
        setId,
        rabbitmqVersion: exported.rabbitmqVersion,
        artifacts: [exported.artifact],
        workflow: { workflowId, runId },
        startedAt: startedAt.toISOString(),
        finishedAt: finishedAt.toISOString(),
        details: { counts: exported.counts },
      },
    })
    .catch((error: unknown) => {
      throw explainFailure('writing the manifest', error, `set ${setId} stays incomplete and is never offered for restore`);
    });

  progress('done', location);
  return {
    cluster: input.cluster,
    setId,
    storage: exported.storage,
    location,
    artifact: exported.artifact,
    counts: exported.counts,
    rabbitmqVersion: exported.rabbitmqVersion,
    startedAt: startedAt.toISOString(),
    finishedAt: finishedAt.toISOString(),
  };
}

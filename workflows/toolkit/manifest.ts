import { workflowInfo } from '@temporalio/workflow';
import type { ManifestDraft } from '../../activities/backupSets/backupSets';
import type { ActivitiesFor } from './activities';
import { explainFailure } from './failures';

// The last step of every backup: the manifest, naming the run that wrote it.
// Until it exists the set is incomplete and never offered for restore.
export async function writeSetManifest(
  act: Pick<ActivitiesFor<'backupSets'>, 'writeManifest'>,
  request: { storage?: string; prefix: string; manifest: Omit<ManifestDraft, 'workflow'> },
  // What becomes of the set when this fails, when the caller says it (workflows/toolkit/incompleteSet.ts).
  { fateSaidByCaller = false }: { fateSaidByCaller?: boolean } = {},
): Promise<{ location: string }> {
  const { workflowId, runId } = workflowInfo();
  return act.writeManifest({ ...request, manifest: { ...request.manifest, workflow: { workflowId, runId } } }).catch((error: unknown) => {
    throw explainFailure('writing the manifest', error, fateSaidByCaller ? '' : `set ${request.manifest.setId} stays incomplete and is never offered for restore`);
  });
}

import { uuid4 } from '@temporalio/workflow';
import { newSetId } from '../common/names';
import { BackupDefinitionsInput, type BackupDefinitionsResult } from '../contracts/definitions';
import { activitiesWithRetry } from './toolkit/activities';
import { explainFailure } from './toolkit/failures';
import { removingIncompleteSet } from './toolkit/incompleteSet';
import { parseWorkflowInput } from './toolkit/input';
import { writeSetManifest } from './toolkit/manifest';
import { reportFailover, trackProgress } from './toolkit/progress';

// The guide's "Definitions Backup": export, check, store, then the manifest.
// The set id comes from workflow time and workflow randomness, so a replay
// after a worker crash writes into the same set, never a second one.
export async function backupDefinitions(rawInput: BackupDefinitionsInput): Promise<BackupDefinitionsResult> {
  const input = parseWorkflowInput(BackupDefinitionsInput, rawInput, 'backupDefinitions');
  const progress = trackProgress();
  const act = activitiesWithRetry('definitions', input.retry);
  const startedAt = new Date();
  const setId = newSetId(startedAt, uuid4());

  // A failure once something is stored removes it: without a manifest nothing would ever read it.
  let exported: Awaited<ReturnType<typeof act.exportDefinitions>> | undefined;
  return removingIncompleteSet({ storage: input.storage, cluster: input.cluster, component: 'definitions', setId }, { mayHoldData: () => exported !== undefined }, async () => {
    progress('exporting definitions', `cluster ${input.cluster}, set ${setId}`);
    exported = await act.exportDefinitions({ cluster: input.cluster, storage: input.storage, setId }).catch((error: unknown) => {
      throw explainFailure(`exporting definitions of cluster ${input.cluster}`, error);
    });

    reportFailover(progress, 'management API', exported.failover);
    progress('writing manifest', exported.prefix);
    const finishedAt = new Date();
    const { location } = await writeSetManifest(act, {
      storage: exported.storage,
      prefix: exported.prefix,
      manifest: {
        cluster: input.cluster,
        component: 'definitions',
        setId,
        rabbitmqVersion: exported.rabbitmqVersion,
        artifacts: [exported.artifact, ...(exported.vhostMetadata ? [exported.vhostMetadata] : [])],
        startedAt: startedAt.toISOString(),
        finishedAt: finishedAt.toISOString(),
        details: { counts: exported.counts },
      },
    }, { fateSaidByCaller: true });

    progress('done', location);
    return {
      cluster: input.cluster,
      setId,
      storage: exported.storage,
      location,
      artifact: exported.artifact,
      ...(exported.vhostMetadata ? { vhostMetadata: exported.vhostMetadata } : {}),
      counts: exported.counts,
      rabbitmqVersion: exported.rabbitmqVersion,
      startedAt: startedAt.toISOString(),
      finishedAt: finishedAt.toISOString(),
    };
  });
}

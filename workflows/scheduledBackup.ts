import { executeChild, workflowInfo } from '@temporalio/workflow';
import { ScheduledBackupInput, type ScheduledBackupResult } from '../contracts/schedules';
import { ClusterAttribute, ComponentAttribute } from '../common/searchAttributes';
import type { OffsiteCopyResult } from '../activities/offsite/offsiteCopy';
import { activitiesWithRetry } from './toolkit/activities';
import { explainFailure } from './toolkit/failures';
import { parseWorkflowInput } from './toolkit/input';
import { trackProgress } from './toolkit/progress';

// What a backup schedule starts: the component's own backup workflow as a
// child (searchable by cluster and component), then the off-site copy of the
// set it wrote when offsite.target is configured. Backup workflows stay
// unchanged, so their recorded histories still replay.
export async function scheduledBackup(rawInput: ScheduledBackupInput): Promise<ScheduledBackupResult> {
  const input = parseWorkflowInput(ScheduledBackupInput, rawInput, 'scheduledBackup');
  const progress = trackProgress();
  const act = activitiesWithRetry('offsite', input.retry);
  const searchAttributes = [
    { key: ClusterAttribute, value: input.cluster },
    { key: ComponentAttribute, value: input.component },
  ];
  const backupWorkflowId = `${workflowInfo().workflowId}-${input.workflowType}`;
  progress(`running ${input.workflowType}`, backupWorkflowId);
  const backup = await executeChild<(i: unknown) => Promise<ScheduledBackupResult['backup']>>(input.workflowType, {
    workflowId: backupWorkflowId,
    args: [{ ...input.input, cluster: input.cluster, ...(input.storage ? { storage: input.storage } : {}) }],
    typedSearchAttributes: searchAttributes,
  }).catch((error: unknown) => {
    throw explainFailure(`${input.component} backup of ${input.cluster} (${backupWorkflowId})`, error);
  });

  const offsiteTarget = await act.offsiteTarget();
  if (!offsiteTarget) {
    progress('done', `set ${backup.setId ?? '?'}; no off-site target configured`);
    return { cluster: input.cluster, component: input.component, backupWorkflowId, backup };
  }
  progress('copying off-site', `${backup.setId ?? 'latest'} -> ${offsiteTarget}`);
  const offsite = await executeChild<(i: unknown) => Promise<OffsiteCopyResult>>('copyBackupOffsite', {
    workflowId: `${workflowInfo().workflowId}-offsite`,
    args: [{ cluster: input.cluster, component: input.component, set: backup.setId ?? 'latest', from: backup.storage ?? input.storage, to: offsiteTarget, retry: input.retry }],
    typedSearchAttributes: searchAttributes,
  }).catch((error: unknown) => {
    throw explainFailure(`copying set ${backup.setId ?? 'latest'} off-site to ${offsiteTarget}`, error, 'the set itself is complete on its primary storage');
  });
  progress('done', `set ${offsite.setId} on ${offsite.from} and ${offsite.to}`);
  return { cluster: input.cluster, component: input.component, backupWorkflowId, backup, offsite };
}

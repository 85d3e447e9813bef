import type { RetentionDecision } from '../activities/retention/policy';
import { PruneBackupsInput } from '../common/automationInputs';
import { activitiesWithRetry, explainFailure, parseWorkflowInput, trackProgress } from './support';

export interface PruneBackupsResult {
  dryRun: boolean;
  storages: Array<{ storage: string; location: string; deleted: RetentionDecision[]; kept: RetentionDecision[] }>;
  deletedSets: number;
  deletedBytes: number;
}

// The guide's retention script, per component policy, on every storage target.
// Never the newest complete set of a cluster+component, never a set a running
// restore reads; each set's manifest is deleted first.
export async function pruneBackups(rawInput: PruneBackupsInput): Promise<PruneBackupsResult> {
  const input = parseWorkflowInput(PruneBackupsInput, rawInput, 'pruneBackups');
  const progress = trackProgress();
  const act = activitiesWithRetry(input.retry);
  const fail = (step: string) => (error: unknown) => {
    throw explainFailure(step, error);
  };

  progress('finding running restores');
  const inUse = await act.findRestoresInUse().catch(fail('finding running restores in Temporal visibility'));
  const storages = input.storages ?? (await act.listStorageTargets());
  const now = new Date().toISOString();
  const result: PruneBackupsResult = { dryRun: input.dryRun, storages: [], deletedSets: 0, deletedBytes: 0 };
  for (const storage of storages) {
    progress('applying retention', storage);
    const plan = await act
      .planPrune({ storage, clusters: input.clusters, components: input.components, inUse, now })
      .catch(fail(`listing the sets of storage ${storage}`));
    const doomed = plan.decisions.filter((d) => d.action === 'delete');
    if (!input.dryRun && doomed.length > 0) {
      progress('deleting', `${doomed.length} sets from ${storage}`);
      await act.deleteBackupSets({ storage, prefixes: doomed.map((d) => d.prefix) }).catch(fail(`deleting sets from storage ${storage}`));
    }
    result.storages.push({ storage, location: plan.location, deleted: doomed, kept: plan.decisions.filter((d) => d.action === 'keep') });
    result.deletedSets += doomed.length;
    result.deletedBytes += doomed.reduce((sum, d) => sum + d.bytes, 0);
  }
  progress('done', `${input.dryRun ? 'would delete' : 'deleted'} ${result.deletedSets} sets`);
  return result;
}

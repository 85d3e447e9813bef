import { patched } from '@temporalio/workflow';
import type { RetentionDecision } from '../lib/retention/policy';
import { PruneBackupsInput, type PruneBackupsResult } from '../contracts/retention';
import { activitiesWithRetry, heartbeatingActivities } from './toolkit/activities';
import { explainFailure } from './toolkit/failures';
import { parseWorkflowInput } from './toolkit/input';
import { trackProgress } from './toolkit/progress';

// restic prune rewrites the repository's packs: hours on a large repository.
const RESTIC_PRUNE_TIMEOUT_SECONDS = 6 * 3600;

// The guide's retention script, per component policy, on every storage target.
// Never the newest restorable (verified) set of a cluster+component, never a
// set a running restore reads (asked again right before each delete), never a
// folder that is not a set; each set's manifest is deleted first. The restic snapshots of
// deleted data-directory sets are forgotten, then the repository pruned.
export async function pruneBackups(rawInput: PruneBackupsInput): Promise<PruneBackupsResult> {
  const input = parseWorkflowInput(PruneBackupsInput, rawInput, 'pruneBackups');
  const progress = trackProgress();
  const act = activitiesWithRetry('retention', input.retry);
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
    let doomed = plan.decisions.filter((d) => d.action === 'delete');
    const kept = plan.decisions.filter((d) => d.action === 'keep');
    const restic: { resticSnapshotsForgotten?: number; resticPruneSeconds?: number; resticSetsKeptForCopies?: string[] } = {};
    if (!input.dryRun && doomed.length > 0) {
      progress('deleting', `${doomed.length} sets from ${storage}`);
      const deleted = await act.deleteBackupSets({ storage, prefixes: doomed.map((d) => d.prefix) }).catch(fail(`deleting sets from storage ${storage}`));
      if (deleted.resticSetsKeptForCopies?.length) restic.resticSetsKeptForCopies = deleted.resticSetsKeptForCopies;
      const spared = sparedAtDelete(deleted);
      kept.push(...doomed.filter((d) => spared.has(d.prefix)).map((d): RetentionDecision => ({ ...d, action: 'keep', reason: spared.get(d.prefix)! })));
      doomed = doomed.filter((d) => !spared.has(d.prefix));
      // Runs started before restic snapshots were cleaned up replay without it.
      if (deleted.resticSets && patched('restic-prune')) {
        restic.resticSnapshotsForgotten = deleted.resticSnapshotsForgotten;
        progress('restic prune', `${deleted.resticSnapshotsForgotten} snapshots forgotten in the restic repository of ${storage}; freeing their data`);
        const pruned = await heartbeatingActivities('retention', { ...input.retry, attemptTimeoutSeconds: RESTIC_PRUNE_TIMEOUT_SECONDS }, 60)
          .pruneResticRepository({ storage, timeoutSeconds: RESTIC_PRUNE_TIMEOUT_SECONDS })
          .catch(fail(`restic prune of the repository of storage ${storage} (the sets and their snapshots are already gone)`));
        restic.resticPruneSeconds = pruned.seconds;
      }
    }
    const verification = plan.setsVerified === undefined ? {} : { setsVerified: plan.setsVerified, verdictsCached: plan.verdictsCached };
    result.storages.push({ storage, location: plan.location, deleted: doomed, kept, ...(plan.notSets?.length ? { notSets: plan.notSets } : {}), ...verification, ...restic });
    result.deletedSets += doomed.length;
    result.deletedBytes += doomed.reduce((sum, d) => sum + d.bytes, 0);
  }
  progress('done', `${input.dryRun ? 'would delete' : 'deleted'} ${result.deletedSets} sets`);
  return result;
}

// Sets the delete step left: a restore started reading them after the plan, or the prefix is no set.
function sparedAtDelete(deleted: { skippedInUse?: Array<{ prefix: string; workflowId: string }>; refused?: string[] }): Map<string, string> {
  const spared = new Map<string, string>();
  for (const s of deleted.skippedInUse ?? []) spared.set(s.prefix, `a restore started after the plan reads it (${s.workflowId}): not deleted`);
  for (const prefix of deleted.refused ?? []) spared.set(prefix, 'not <cluster>/<component>/<set id>: not deleted');
  return spared;
}

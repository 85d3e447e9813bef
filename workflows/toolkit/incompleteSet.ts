import { ApplicationFailure, isCancellation, patched, proxyActivities } from '@temporalio/workflow';
import type { BackupSetActivities } from '../../activities';
import { FailureType, nonRetryableFailureTypes } from '../../common/failures';
import type { Component } from '../../common/names';
import { describe } from './failures';

// Recorded histories of failed backups from before this compensation replay without it.
export const REMOVE_INCOMPLETE_SET_PATCH = 'remove-incomplete-set-on-failure';

// A compensation must not outlast the failure it follows: a few quick attempts, then the set is left as it is.
const compensation = proxyActivities<BackupSetActivities>({
  scheduleToCloseTimeout: 120_000,
  startToCloseTimeout: 60_000,
  retry: { initialInterval: 1000, maximumInterval: 5000, backoffCoefficient: 2, maximumAttempts: 3, nonRetryableErrorTypes: nonRetryableFailureTypes },
});

export interface SetUnderWay {
  storage?: string;
  cluster: string;
  component: Component;
  setId: string;
}

export interface SetFate {
  // A step that writes into the set has begun (a storage failure always counts as one).
  mayHoldData: () => boolean;
  // Why the set must stay although incomplete (drained messages stored nowhere else).
  keep?: () => string | undefined;
}

// Runs a backup's steps into `set`. When they fail, the set (which has no
// manifest, so nothing ever restores it) is removed, unless `keep` names a
// reason to leave it; the failure says what became of it. A failure before
// anything could be written (credentials, an unreachable API) and a
// cancellation leave everything as it was.
export async function removingIncompleteSet<T>(set: SetUnderWay, fate: SetFate, work: () => Promise<T>): Promise<T> {
  try {
    return await work();
  } catch (error) {
    if (isCancellation(error) || !(error instanceof ApplicationFailure)) throw error;
    if (!fate.mayHoldData() && error.type !== FailureType.StorageError) throw error;
    const stays = `set ${set.setId} stays incomplete and is never offered for restore`;
    if (!patched(REMOVE_INCOMPLETE_SET_PATCH)) throw withFate(error, stays);
    const reason = fate.keep?.();
    if (reason) throw withFate(error, `${stays} (kept: ${reason})`);
    const outcome = await compensation.removeIncompleteSet(set).then(
      (r) => (r.complete ? `set ${set.setId} has its manifest after all and was kept` : r.removed ? `the partial set ${r.location} was removed (${r.removed} objects)` : ''),
      (cleanupError: unknown) => `${stays}; removing it failed: ${describe(cleanupError)}`,
    );
    throw withFate(error, outcome);
  }
}

// fate '': nothing of the set was ever stored, nothing to say.
function withFate(error: ApplicationFailure, fate: string): ApplicationFailure {
  return ApplicationFailure.create({ message: fate ? `${error.message}; ${fate}` : error.message, type: error.type ?? undefined, nonRetryable: true, details: error.details as unknown[] | undefined });
}

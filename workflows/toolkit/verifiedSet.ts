import { ApplicationFailure } from '@temporalio/workflow';
import type { ResolvedSet } from '../../activities/backupSets/backupSets';
import { FailureType } from '../../common/failures';
import type { Component } from '../../common/names';
import type { ActivitiesFor } from './activities';
import { explainFailure } from './failures';

// The first step of every restore: resolve the set and re-hash every artifact.
// Any mismatch stops the restore here, before it touches anything.
export async function verifiedSetOrRefuse(
  act: Pick<ActivitiesFor<'backupSets'>, 'verifyBackupSet'>,
  request: { storage?: string; cluster: string; component: Component; set: string },
  untouched = 'the target was not touched',
): Promise<ResolvedSet> {
  const { set, report } = await act.verifyBackupSet(request).catch((error: unknown) => {
    throw explainFailure('verifying the backup set', error, untouched);
  });
  if (!report.ok) {
    throw ApplicationFailure.create({
      message: `backup set ${report.setId} failed verification (${report.problems.map((p) => `${p.artifact}: ${p.problem}`).join('; ')}); ${untouched}`,
      type: FailureType.ManifestChecksumMismatch,
      nonRetryable: true,
      details: [report],
    });
  }
  return set;
}

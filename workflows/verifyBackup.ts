import { ApplicationFailure } from '@temporalio/workflow';
import type { VerificationReport } from '../lib/backupSets/verify';
import { FailureType } from '../common/failures';
import { VerifyBackupInput } from '../contracts/backupSets';
import { activitiesWithRetry } from './toolkit/activities';
import { explainFailure } from './toolkit/failures';
import { parseWorkflowInput } from './toolkit/input';
import { trackProgress } from './toolkit/progress';

// Re-hashes every artifact of a set against its manifest; the history is the
// audit record that the set was checked, and when.
export async function verifyBackup(rawInput: VerifyBackupInput): Promise<VerificationReport> {
  const input = parseWorkflowInput(VerifyBackupInput, rawInput, 'verifyBackup');
  const progress = trackProgress();
  const act = activitiesWithRetry('backupSets', input.retry);
  progress('verifying backup set', `${input.cluster} ${input.component} ${input.set}`);
  const { cluster, component, set, storage } = input;
  const { report } = await act.verifyBackupSet({ cluster, component, set, storage }).catch((error: unknown) => {
    throw explainFailure('verifying the backup set', error);
  });
  if (!report.ok) {
    throw ApplicationFailure.create({
      message: `backup set ${report.setId} failed verification: ${report.problems.map((p) => `${p.artifact}: ${p.problem}`).join('; ')}`,
      type: FailureType.ManifestChecksumMismatch,
      nonRetryable: true,
      details: [report],
    });
  }
  progress('done', `${report.artifactsChecked} artifacts, ${report.bytesChecked} bytes verified`);
  return report;
}

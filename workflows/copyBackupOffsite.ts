import type { OffsiteCopyResult } from '../activities/offsite/offsiteCopy';
import { CopyBackupOffsiteInput } from '../common/automationInputs';
import { activitiesWithRetry, explainFailure, parseWorkflowInput, trackProgress } from './toolkit/support';

// The guide's 3-2-1 rule: a completed set copied to a second storage target
// (another bucket, region or endpoint), manifest last, and verified there.
export async function copyBackupOffsite(rawInput: CopyBackupOffsiteInput): Promise<OffsiteCopyResult> {
  const input = parseWorkflowInput(CopyBackupOffsiteInput, rawInput, 'copyBackupOffsite');
  const progress = trackProgress();
  const act = activitiesWithRetry(input.retry);
  progress('copying and verifying', `${input.cluster} ${input.component} ${input.set} -> ${input.to ?? 'offsite.target'}`);
  const { cluster, component, set, from, to } = input;
  const result = await act.copySetOffsite({ cluster, component, set, from, to }).catch((error: unknown) => {
    throw explainFailure(`copying ${component} set ${set} of ${cluster} off-site`, error);
  });
  progress('done', `${result.verification.artifactsChecked} artifacts verified at ${result.location}`);
  return result;
}

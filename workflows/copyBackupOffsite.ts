import type { OffsiteCopyResult } from '../activities/offsite/offsiteCopy';
import { CopyBackupOffsiteInput } from '../contracts/offsite';
import { activitiesWithRetry } from './toolkit/activities';
import { explainFailure } from './toolkit/failures';
import { parseWorkflowInput } from './toolkit/input';
import { trackProgress } from './toolkit/progress';

// The guide's 3-2-1 rule: a completed set copied to a second storage target
// (another bucket, region or endpoint), manifest last, and verified there.
export async function copyBackupOffsite(rawInput: CopyBackupOffsiteInput): Promise<OffsiteCopyResult> {
  const input = parseWorkflowInput(CopyBackupOffsiteInput, rawInput, 'copyBackupOffsite');
  const progress = trackProgress();
  const act = activitiesWithRetry('offsite', input.retry);
  progress('copying and verifying', `${input.cluster} ${input.component} ${input.set} -> ${input.to ?? 'offsite.target'}`);
  const { cluster, component, set, from, to } = input;
  const result = await act.copySetOffsite({ cluster, component, set, from, to }).catch((error: unknown) => {
    throw explainFailure(`copying ${component} set ${set} of ${cluster} off-site`, error);
  });
  progress('done', `${result.verification.artifactsChecked} artifacts verified at ${result.location}`);
  return result;
}

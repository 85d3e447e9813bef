import type { ReplicationStatusReport } from '../lib/replication/replicationStatus';
import { ReplicationStatusInput } from '../contracts/replication';
import { activitiesWithRetry } from './toolkit/activities';
import { explainFailure } from './toolkit/failures';
import { parseWorkflowInput } from './toolkit/input';
import { trackProgress } from './toolkit/progress';

// Each shovel's and federation link's state and lag, as the brokers report them.
export async function replicationStatus(rawInput: ReplicationStatusInput): Promise<ReplicationStatusReport> {
  const input = parseWorkflowInput(ReplicationStatusInput, rawInput, 'replicationStatus');
  const progress = trackProgress();
  const act = activitiesWithRetry('replication', input.retry);
  progress('reading replication state', `${input.source} to ${input.destination}`);
  const report = await act.readReplicationStatus({ source: input.source, destination: input.destination }).catch((error: unknown) => {
    throw explainFailure(`reading replication from ${input.source} to ${input.destination}`, error);
  });
  if (input.record) {
    progress('recording', `${input.source} -> ${input.destination}`);
    await act.storeReplicationStatus({ report }).catch((error: unknown) => {
      throw explainFailure('storing the replication report', error);
    });
  }
  progress('done', `${report.links.length} link(s), ${report.up ? 'all running' : 'NOT all running'}`);
  return report;
}

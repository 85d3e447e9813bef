import { StopReplicationInput, type StopReplicationResult } from '../contracts/replication';
import { activitiesWithRetry } from './toolkit/activities';
import { explainFailure } from './toolkit/failures';
import { parseWorkflowInput } from './toolkit/input';
import { trackProgress } from './toolkit/progress';

// `replicate stop`: removes exactly what setupReplication created for the pair
// (its shovels, federation upstream and policy); queues, exchanges and
// messages on both sides stay.
export async function stopReplication(rawInput: StopReplicationInput): Promise<StopReplicationResult> {
  const input = parseWorkflowInput(StopReplicationInput, rawInput, 'stopReplication');
  const progress = trackProgress();
  const act = activitiesWithRetry('replication', input.retry);
  progress('removing replication', `${input.source} to ${input.destination}`);
  const { removed } = await act.removeReplication({ source: input.source, destination: input.destination }).catch((error: unknown) => {
    throw explainFailure(`removing replication from ${input.source} to ${input.destination}`, error);
  });
  progress('done', removed.length ? `${removed.length} removed` : 'nothing to remove');
  return { source: input.source, destination: input.destination, removed };
}

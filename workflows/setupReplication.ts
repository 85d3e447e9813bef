import { SetupReplicationInput, type SetupReplicationResult } from '../contracts/replication';
import { activitiesWithRetry } from './toolkit/activities';
import { explainFailure } from './toolkit/failures';
import { parseWorkflowInput } from './toolkit/input';
import { trackProgress } from './toolkit/progress';

// The guide's Option B (shovel), Option D (federation) and Method 4: what it
// does with curl, idempotently. The input names clusters, never URIs: the
// credentials a shovel or upstream needs are resolved inside the activity.
export async function setupReplication(rawInput: SetupReplicationInput): Promise<SetupReplicationResult> {
  const input = parseWorkflowInput(SetupReplicationInput, rawInput, 'setupReplication');
  const progress = trackProgress();
  const act = activitiesWithRetry('replication', input.retry);
  const { source, destination, method } = input;

  progress('checking plugins, vhosts and what to replicate', `${method} from ${source} to ${destination}`);
  const targets = await act.prepareReplication({ source, destination, method, vhosts: input.vhosts, queues: input.queues, exchanges: input.exchanges }).catch((error: unknown) => {
    throw explainFailure(`preparing ${method} replication from ${source} to ${destination}`, error, 'no replication was configured');
  });
  const what = method === 'shovel' ? `${targets.queues.length} queue(s)` : `${targets.exchanges.length} exchange(s)`;
  progress('configuring', `${what}; declared on ${destination}: ${targets.declaredOnDestination.length}`);
  const applied = await act.configureReplication({ source, destination, method, targets: { queues: targets.queues, exchanges: targets.exchanges } }).catch((error: unknown) => {
    throw explainFailure(`configuring ${method} replication from ${source} to ${destination}`, error);
  });
  const changed = applied.created.length + applied.updated.length;
  progress('done', changed === 0 ? 'nothing changed: already configured' : `${applied.created.length} created, ${applied.updated.length} updated`);
  return { source, destination, method, ...applied, declaredOnDestination: targets.declaredOnDestination };
}

import { ApplicationFailure, sleep } from '@temporalio/workflow';
import { FailureType } from '../common/failures';
import { FailoverInput, type FailoverResult } from '../contracts/replication';
import type { ReplicationStatusReport } from '../lib/replication/replicationStatus';
import { activitiesWithRetry } from './toolkit/activities';
import { explainFailure } from './toolkit/failures';
import { parseWorkflowInput } from './toolkit/input';
import { trackProgress } from './toolkit/progress';

const lagOf = (s: ReplicationStatusReport): number | null =>
  s.unreachable.some((u) => u.startsWith(`${s.source}: `)) ? null : s.links.reduce((sum, l) => sum + (l.lagMessages ?? 0), 0);

// The DR switch the guide's Method 4 implies: wait for what is in flight to
// reach the destination (every link's lag 0, or drainTimeoutSeconds), stop
// replication (what the source no longer answers for is named, not waited
// on), then report what the destination holds for the applications to use.
export async function failover(rawInput: FailoverInput): Promise<FailoverResult> {
  const input = parseWorkflowInput(FailoverInput, rawInput, 'failover');
  const progress = trackProgress();
  const act = activitiesWithRetry('replication', input.retry);
  const pair = { source: input.source, destination: input.destination };
  const read = () =>
    act.readReplicationStatus(pair).catch((error: unknown) => {
      throw explainFailure(`reading replication from ${input.source} to ${input.destination}`, error);
    });

  progress('reading replication', `${input.source} to ${input.destination}`);
  const first = await read();
  if (first.links.length === 0 && first.unreachable.length === 0) {
    throw ApplicationFailure.create({ message: `no replication of rabbitvault's from ${input.source} to ${input.destination} to fail over: nothing was changed`, type: FailureType.InvalidInput, nonRetryable: true });
  }
  const started = Date.now();
  let status = first;
  let lag = lagOf(status);
  while (lag !== null && lag > 0 && (Date.now() - started) / 1000 < input.drainTimeoutSeconds) {
    progress('waiting for in-flight messages', `${lag} message(s) still on ${input.source}`);
    await sleep(input.pollSeconds * 1000);
    status = await read();
    lag = lagOf(status);
  }
  const waitedSeconds = (Date.now() - started) / 1000;
  const drained = lag === 0;

  progress('stopping replication', drained ? 'drained' : lag === null ? `${input.source} does not answer: not waiting` : `${lag} message(s) left after ${input.drainTimeoutSeconds} s`);
  const { removed, notRemoved } = await act.removeReplication({ ...pair, tolerateUnreachable: true }).catch((error: unknown) => {
    throw explainFailure(`stopping replication from ${input.source} to ${input.destination}`, error);
  });

  progress('reading the destination', input.destination);
  const { queues: destinationQueues, unreachable } = await act.destinationQueues({ ...pair, links: first.links.map((l) => ({ vhost: l.vhost, queue: l.queue, exchange: l.exchange })) }).catch((error: unknown) => {
    throw explainFailure(`reading what ${input.destination} holds`, error, `replication was stopped (${removed.length} removed)`);
  });
  progress('done', `${drained ? 'drained' : 'NOT drained'}; ${destinationQueues.reduce((n, q) => n + (q.messages ?? 0), 0)} message(s) on ${input.destination}`);
  return { ...pair, drained, waitedSeconds, lagAtStop: lag, removed, notRemoved, destinationQueues, ...(unreachable ? { destinationUnreachable: unreachable } : {}) };
}

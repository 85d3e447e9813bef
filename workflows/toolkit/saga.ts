import { ApplicationFailure, CancellationScope, isCancellation } from '@temporalio/workflow';
import { FailureType } from '../../common/failures';
import type { RetryInput } from '../../contracts/retry';
import type { StopWindow } from '../../contracts/dataDirectory';
import { describe, explainFailure } from './failures';

export interface SagaTiming {
  downtimeLimitSeconds: number;
  nodeStartTimeoutSeconds: number;
  heartbeatTimeoutSeconds: number;
  retry: RetryInput;
}

export function stopWindow(stoppedAt: Date, runningAt: Date): StopWindow {
  return { stoppedAt: stoppedAt.toISOString(), runningAt: runningAt.toISOString(), seconds: (runningAt.getTime() - stoppedAt.getTime()) / 1000 };
}

// Runs work while a node's app is stopped. Whatever happens in it (failure,
// workflow cancellation, downtime limit) the node is restarted, in a scope the
// cancellation cannot reach, before the outcome is reported.
export async function whileStopped<T>(
  what: string,
  timing: SagaTiming,
  stop: () => Promise<void>,
  start: () => Promise<void>,
  work: () => Promise<T>,
  onRestarting: (reason: string) => void,
): Promise<{ result: T; window: StopWindow }> {
  const stoppedAt = new Date();
  let outcome: { ok: true; value: T } | { ok: false; error: unknown } | undefined;
  try {
    await stop();
    const value = await CancellationScope.withTimeout(timing.downtimeLimitSeconds * 1000, work);
    outcome = { ok: true, value };
  } catch (error) {
    outcome = { ok: false, error };
  }
  const reason = outcome.ok ? 'copy done' : describe(outcome.error);
  onRestarting(reason);
  try {
    await CancellationScope.nonCancellable(start);
  } catch (error) {
    throw explainFailure(`restarting ${what}`, error, `the node may still be stopped${outcome.ok ? '' : `; the step before failed: ${reason}`}`);
  }
  const window = stopWindow(stoppedAt, new Date());
  if (outcome.ok) return { result: outcome.value, window };
  const error = outcome.error;
  const timedOut = isCancellation(error) && !CancellationScope.current().consideredCancelled && window.seconds >= timing.downtimeLimitSeconds;
  if (timedOut) {
    throw ApplicationFailure.create({
      message: `${what}: downtime limit of ${timing.downtimeLimitSeconds} s reached while the app was stopped; the copy was abandoned and RabbitMQ restarted (stopped ${window.seconds.toFixed(1)} s)`,
      type: FailureType.DowntimeLimitReached,
      nonRetryable: true,
      details: [window],
    });
  }
  if (isCancellation(error)) throw error;
  throw explainFailure(what, error, `RabbitMQ was restarted (stopped ${window.seconds.toFixed(1)} s)`);
}

// Runs tasks in parallel; the first failure cancels the others, and it is
// reported only once all of them settled (so no sibling is still starting).
export async function allOrCancel<T>(tasks: Array<() => Promise<T>>): Promise<T[]> {
  const scope = new CancellationScope();
  return scope.run(async () => {
    const running = tasks.map((task) => task());
    running.forEach((p) => void p.catch(() => scope.cancel()));
    const settled = await Promise.allSettled(running);
    const failures = settled.flatMap((s) => (s.status === 'rejected' ? [s.reason as unknown] : []));
    if (failures.length > 0) throw failures.find((f) => !isCancellation(f)) ?? failures[0];
    return settled.map((s) => (s as PromiseFulfilledResult<T>).value);
  });
}

import { Context } from '@temporalio/activity';

// How often a step calls heartbeat while it waits or streams: a quarter of
// its heartbeat timeout, and at least every 2 s. The SDK sends at most one
// heartbeat per 0.8 heartbeat timeout, so calling often costs no traffic. A
// fixed 2 s beat against a 2 s heartbeat timeout (the crash suite's) reached
// the server just after the timeout whenever the machine was loaded: every
// start_app attempt was cancelled as silent, its commands stopped with it,
// until the node-start deadline passed and the restore was rolled back.
export function heartbeatEveryMs(context: Context = Context.current()): number {
  const timeoutMs = context.info.heartbeatTimeoutMs ?? 0;
  return timeoutMs > 0 ? Math.max(50, Math.min(2000, Math.floor(timeoutMs / 4))) : 2000;
}

// Heartbeats while `work` runs, for steps that wait on RabbitMQ (start_app,
// putting a directory back): a worker that dies meanwhile is noticed at the
// heartbeat timeout and the step retried on a live worker, instead of the
// attempt timeout eating the node-start deadline.
export async function beating<T>(work: () => Promise<T>): Promise<T> {
  const context = Context.current();
  context.heartbeat();
  const ticker = setInterval(() => context.heartbeat(), heartbeatEveryMs(context));
  try {
    return await work();
  } finally {
    clearInterval(ticker);
  }
}

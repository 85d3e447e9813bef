import { Context } from '@temporalio/activity';
import type { Readable } from 'node:stream';

export interface StreamProgress {
  phase: string;
  bytesDone: number;
  bytesTotal?: number;
}

// Heartbeats at most once a second with the bytes done, and aborts the stream
// when the workflow cancels the step (downtime limit, operator cancel).
export function streamWatch(phase: string, bytesTotal?: number) {
  const context = Context.current();
  let last = 0;
  let streams: Readable[] = [];
  const abort = () => streams.forEach((s) => s.destroy(new Error(`${phase} cancelled`)));
  context.cancellationSignal.addEventListener('abort', abort, { once: true });
  return {
    // Aborted when the workflow cancels the step (for work that is not a stream).
    signal: context.cancellationSignal,
    watch(...s: Readable[]) {
      streams = s;
    },
    onBytes(bytesDone: number) {
      const now = Date.now();
      if (now - last < 1000) return;
      last = now;
      context.heartbeat({ phase, bytesDone, bytesTotal } satisfies StreamProgress);
    },
    done() {
      context.cancellationSignal.removeEventListener('abort', abort);
    },
  };
}

// Heartbeats every 2 s while `work` runs, for steps that wait on RabbitMQ
// (start_app, putting a directory back): a worker that dies meanwhile is
// noticed at the heartbeat timeout and the step retried on a live worker,
// instead of the attempt timeout eating the node-start deadline.
export async function beating<T>(work: () => Promise<T>): Promise<T> {
  const context = Context.current();
  context.heartbeat();
  const ticker = setInterval(() => context.heartbeat(), 2000);
  try {
    return await work();
  } finally {
    clearInterval(ticker);
  }
}

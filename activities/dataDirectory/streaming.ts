import { Context } from '@temporalio/activity';
import type { Readable } from 'node:stream';
import { heartbeatEveryMs } from '../heartbeats';

export interface StreamProgress {
  phase: string;
  bytesDone: number;
  bytesTotal?: number;
}

// Heartbeats with the bytes done (at most once a second, more often for a
// short heartbeat timeout), and aborts the stream when the workflow cancels
// the step (downtime limit, operator cancel).
export function streamWatch(phase: string, bytesTotal?: number) {
  const context = Context.current();
  const everyMs = Math.min(1000, heartbeatEveryMs(context));
  let last = 0;
  let streams: Readable[] = [];
  const abort = () => streams.forEach((s) => s.destroy(new Error(`${phase} cancelled`)));
  context.cancellationSignal.addEventListener('abort', abort, { once: true });
  return {
    // Aborted when the workflow cancels the step (for work that is not a stream).
    signal: context.cancellationSignal,
    // How often a step with no bytes to report should still call onBytes.
    everyMs,
    watch(...s: Readable[]) {
      streams = s;
    },
    onBytes(bytesDone: number) {
      const now = Date.now();
      if (now - last < everyMs) return;
      last = now;
      context.heartbeat({ phase, bytesDone, bytesTotal } satisfies StreamProgress);
    },
    done() {
      context.cancellationSignal.removeEventListener('abort', abort);
    },
  };
}

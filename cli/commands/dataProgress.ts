import { defaultPayloadConverter, type WorkflowHandle } from '@temporalio/client';
import type { WorkflowName, WorkflowResult } from '../../contracts';
import type { CliContext } from '../context';
import { runWorkflowCommand } from '../runWorkflowCommand';
import type { StartRequest } from '../workflowRun';

interface StreamProgress {
  phase: string;
  bytesDone: number;
  bytesTotal?: number;
}

const MiB = 1024 * 1024;

// Like runWorkflowCommand, and with --wait also the bytes done of the running
// copy, read from the streaming activity's heartbeats.
export function runDataCommand<N extends WorkflowName>(
  ctx: CliContext,
  request: StartRequest<N>,
  mode: { wait: boolean; json: boolean },
  summarize: (r: WorkflowResult<N>) => string[],
): Promise<number> {
  return runWorkflowCommand(ctx, request, mode, summarize, printBytes);
}

function printBytes(handle: WorkflowHandle, print: (line: string) => void): () => void {
  let last = '';
  const timer = setInterval(() => {
    handle
      .describe()
      .then((d) => {
        for (const pending of d.raw.pendingActivities ?? []) {
          const payload = pending.heartbeatDetails?.payloads?.[0];
          if (!payload) continue;
          const p = defaultPayloadConverter.fromPayload<StreamProgress>(payload);
          const line = `  ... ${p.phase}: ${(p.bytesDone / MiB).toFixed(1)} MiB${p.bytesTotal ? ` of ${(p.bytesTotal / MiB).toFixed(1)} MiB` : ''}`;
          if (line !== last) print(line);
          last = line;
        }
      })
      .catch(() => undefined);
  }, 1000);
  return () => clearInterval(timer);
}

export function formatStopWindow(w: { seconds: number; stoppedAt: string; runningAt: string }): string {
  return `stopped ${w.seconds.toFixed(1)} s (${w.stoppedAt} → ${w.runningAt})`;
}

import { defaultPayloadConverter, type WorkflowHandle } from '@temporalio/client';
import type { CliContext } from '../context';
import { failureMessage, follow, openClient, startWorkflow, webUiLink, type StartRequest } from '../workflowRun';

interface StreamProgress {
  phase: string;
  bytesDone: number;
  bytesTotal?: number;
}

const MiB = 1024 * 1024;

// Like runWorkflowCommand, and with --wait also the bytes done of the running
// copy, read from the streaming activity's heartbeats.
export async function runDataCommand<T>(ctx: CliContext, request: StartRequest, mode: { wait: boolean; json: boolean }, summarize: (r: T) => string[]): Promise<number> {
  const client = await openClient(ctx.config);
  try {
    const handle = await startWorkflow(client, ctx.config, request);
    const runId = handle.firstExecutionRunId;
    const started = { workflowType: request.workflowType, workflowId: request.workflowId, runId, url: webUiLink(ctx.config, request.workflowId, runId) };
    if (!mode.json) {
      ctx.out(`started ${request.workflowType}: workflow id ${request.workflowId}`);
      ctx.out(`  Web UI: ${started.url}`);
    }
    if (!mode.wait) {
      if (mode.json) ctx.out(JSON.stringify({ ...started, status: 'started' }, null, 2));
      return 0;
    }
    const print = mode.json ? () => undefined : ctx.out;
    const stopBytes = mode.json ? () => undefined : printBytes(handle, print);
    try {
      const result = await follow<T>(handle, print);
      stopBytes();
      if (mode.json) ctx.out(JSON.stringify({ ...started, status: 'completed', result }, null, 2));
      else summarize(result).forEach((line) => ctx.out(line));
      return 0;
    } catch (error) {
      stopBytes();
      const message = failureMessage(error);
      if (mode.json) ctx.out(JSON.stringify({ ...started, status: 'failed', error: message }, null, 2));
      else ctx.err(`FAILED: ${message}`);
      return 1;
    }
  } finally {
    await client.connection.close();
  }
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

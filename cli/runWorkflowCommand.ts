import type { WorkflowHandle } from '@temporalio/client';
import type { WorkflowName, WorkflowResult } from '../contracts';
import type { CliContext } from './context';
import { failureMessage, follow, openClient, startSearchable, webUiLink, type StartRequest } from './workflowRun';

export interface OutputMode {
  wait: boolean;
  json: boolean;
}

// Start a workflow, print its id and Web UI link, and with --wait follow it to
// the end: exit 0 on success, 1 on failure (with the workflow's own message).
export async function runWorkflowCommand<N extends WorkflowName>(
  ctx: CliContext,
  request: StartRequest<N>,
  mode: OutputMode,
  summarize: (result: WorkflowResult<N>) => string[],
  // Extra live output beside the steps (e.g. bytes copied), shown with --wait
  // unless --json; returns its stop function.
  watch?: (handle: WorkflowHandle, print: (line: string) => void) => () => void,
): Promise<number> {
  const client = await openClient(ctx.config);
  try {
    const handle = await startSearchable(client, ctx.config, request);
    const runId = handle.firstExecutionRunId;
    const url = webUiLink(ctx.config, request.workflowId, runId);
    const started = { workflowType: request.workflowType, workflowId: request.workflowId, runId, url };
    if (!mode.json) {
      ctx.out(`started ${request.workflowType}: workflow id ${request.workflowId}`);
      ctx.out(`  Web UI: ${url}`);
    }
    if (!mode.wait) {
      if (mode.json) ctx.out(JSON.stringify({ ...started, status: 'started' }, null, 2));
      return 0;
    }
    const stopWatching = watch && !mode.json ? watch(handle, ctx.out) : () => undefined;
    try {
      const result = await follow(handle, mode.json ? undefined : ctx.out);
      stopWatching();
      if (mode.json) ctx.out(JSON.stringify({ ...started, status: 'completed', result }, null, 2));
      else summarize(result).forEach((line) => ctx.out(line));
      return 0;
    } catch (error) {
      stopWatching();
      const message = failureMessage(error);
      if (mode.json) ctx.out(JSON.stringify({ ...started, status: 'failed', error: message }, null, 2));
      else ctx.err(`FAILED: ${message}`);
      return 1;
    }
  } finally {
    await client.connection.close();
  }
}

import type { CliContext } from '../context';
import { openClient } from '../workflowRun';

// Live "N messages, M bytes" lines from the running step's heartbeat details,
// printed beside the workflow's own steps while --wait follows it.
export function watchMessageProgress(ctx: CliContext, workflowId: string): () => Promise<void> {
  let stopped = false;
  const watching = (async () => {
    const client = await openClient(ctx.config).catch(() => undefined);
    if (!client) return;
    let last = '';
    try {
      while (!stopped) {
        await new Promise((r) => setTimeout(r, 1000));
        const described = await client.workflow.getHandle(workflowId).describe().catch(() => undefined);
        for (const pending of described?.raw.pendingActivities ?? []) {
          const payload = pending.heartbeatDetails?.payloads?.[0]?.data;
          if (!payload) continue;
          const details = JSON.parse(Buffer.from(payload).toString('utf8')) as { progress?: { messages: number; bytes: number }; confirmed?: number };
          const line = details.progress
            ? `${details.progress.messages} messages read, ${details.progress.bytes} bytes`
            : details.confirmed !== undefined
              ? `${details.confirmed} messages confirmed`
              : '';
          if (line && line !== last && (details.progress?.messages || details.confirmed)) ctx.out(`  ... ${line}`);
          last = line;
        }
      }
    } finally {
      await client.connection.close();
    }
  })();
  return async () => {
    stopped = true;
    await watching;
  };
}

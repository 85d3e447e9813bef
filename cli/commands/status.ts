import { collectBackupHealth } from '../../lib/status/collectBackupHealth';
import { parseFlags, UsageError } from '../args';
import type { CliContext } from '../context';
import { statusText } from '../format/statusText';
import { openClient } from '../workflowRun';

const usage = 'usage: rabbitvault status [--cluster NAME] [--json]';

// Exit 0 when healthy, 1 when anything is past its RPO or failing (or a source
// cannot be read), so it can run from cron or as a readiness check.
export async function statusCommand(ctx: CliContext, argv: string[]): Promise<number> {
  const { values } = parseFlags(argv, { cluster: { type: 'string' } }, usage);
  if (values.cluster !== undefined && !ctx.config.clusters[values.cluster]) {
    throw new UsageError(`--cluster: no cluster "${values.cluster}" in ${ctx.configSource} (it has: ${Object.keys(ctx.config.clusters).join(', ')})`);
  }
  let client: Awaited<ReturnType<typeof openClient>> | undefined;
  try {
    const health = await collectBackupHealth(ctx.config, async () => (client ??= await openClient(ctx.config)), { cluster: values.cluster, details: true });
    if (values.json) ctx.out(JSON.stringify(health, null, 2));
    else for (const line of statusText(health)) ctx.out(line);
    return health.healthy ? 0 : 1;
  } finally {
    await client?.connection.close();
  }
}

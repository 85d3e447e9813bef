import { backupMessagesWorkflowId } from '../../common/workflowIds';
import { BackupMessagesInput, MessagesWorkflow } from '../../contracts/messages';
import { checkInput, parseFlags } from '../args';
import type { CliContext } from '../context';
import { runWorkflowCommand } from '../runWorkflowCommand';
import { watchMessageProgress } from './messageProgress';

const usage =
  'usage: rabbitvault backup messages --cluster NAME [--queue NAME|PATTERN]... [--vhost VHOST]... [--mode copy|drain] [--segment-mib N] [--storage NAME] [--wait] [--json]';

export async function backupMessagesCommand(ctx: CliContext, argv: string[]): Promise<number> {
  const { values } = parseFlags(
    argv,
    {
      cluster: { type: 'string' },
      queue: { type: 'string', multiple: true },
      vhost: { type: 'string', multiple: true },
      mode: { type: 'string' },
      'segment-mib': { type: 'string' },
      storage: { type: 'string' },
      wait: { type: 'boolean', default: false },
    },
    usage,
  );
  const segment = values['segment-mib'];
  const input = checkInput(
    BackupMessagesInput,
    { cluster: values.cluster, storage: values.storage, queues: values.queue, vhosts: values.vhost, mode: values.mode, segmentMiB: segment === undefined ? undefined : Number(segment) },
    { cluster: '--cluster', storage: '--storage', queues: '--queue', vhosts: '--vhost', mode: '--mode', segmentMiB: '--segment-mib' },
  );
  const { retry: _retry, ...workflowInput } = input;
  const workflowId = backupMessagesWorkflowId(input.cluster, new Date());
  const stop = values.wait && !values.json ? watchMessageProgress(ctx, workflowId) : async () => undefined;
  try {
    return await runWorkflowCommand(
      ctx,
      { workflowType: MessagesWorkflow.backup, workflowId, input: workflowInput, cluster: input.cluster, component: 'messages' },
      { wait: values.wait, json: values.json },
      (r) => [
        `backed up ${r.totals.messages} messages (${r.totals.bytes} bytes) from ${r.totals.queues} queues of ${r.cluster} (${r.mode})`,
        ...r.queues.map((q) => `  ${q.vhost} ${q.queue}: ${q.captured} captured of ${q.depthAtStart} at the start${q.difference ? ` (DIFFERENCE ${q.difference})` : ''}${q.note ? `: ${q.note}` : ''}`),
        `set ${r.setId}: ${r.location}`,
      ],
    );
  } finally {
    await stop();
  }
}

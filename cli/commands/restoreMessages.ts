import { restoreMessagesWorkflowId } from '../../common/workflowIds';
import { MessagesWorkflow, RestoreMessagesInput } from '../../contracts/messages';
import { checkInput, parseFlags } from '../args';
import type { CliContext } from '../context';
import { runWorkflowCommand } from '../runWorkflowCommand';
import { watchMessageProgress } from './messageProgress';

const usage =
  'usage: rabbitvault restore messages --cluster TARGET --from SET_ID|latest [--source-cluster NAME] [--queue NAME]... [--to-queue NAME] [--to-vhost VHOST] [--via-original-exchange] [--storage NAME] [--wait] [--json]';

export async function restoreMessagesCommand(ctx: CliContext, argv: string[]): Promise<number> {
  const { values } = parseFlags(
    argv,
    {
      cluster: { type: 'string' },
      from: { type: 'string' },
      'source-cluster': { type: 'string' },
      queue: { type: 'string', multiple: true },
      'to-queue': { type: 'string' },
      'to-vhost': { type: 'string' },
      'via-original-exchange': { type: 'boolean', default: false },
      storage: { type: 'string' },
      wait: { type: 'boolean', default: false },
    },
    usage,
  );
  const input = checkInput(
    RestoreMessagesInput,
    {
      cluster: values.cluster,
      from: values.from,
      sourceCluster: values['source-cluster'],
      storage: values.storage,
      queues: values.queue,
      toQueue: values['to-queue'],
      toVhost: values['to-vhost'],
      route: values['via-original-exchange'] ? 'original-exchange' : 'default-exchange',
    },
    { cluster: '--cluster', from: '--from', sourceCluster: '--source-cluster', storage: '--storage', queues: '--queue', toQueue: '--to-queue', toVhost: '--to-vhost' },
  );
  const { retry: _retry, ...workflowInput } = input;
  const workflowId = restoreMessagesWorkflowId(input.cluster, new Date());
  const stop = values.wait && !values.json ? watchMessageProgress(ctx, workflowId) : async () => undefined;
  try {
    return await runWorkflowCommand(
      ctx,
      { workflowType: MessagesWorkflow.restore, workflowId, input: workflowInput, cluster: input.cluster, component: 'messages' },
      { wait: values.wait, json: values.json },
      (r) => [
        `restored set ${r.setId} of ${r.sourceCluster} into ${r.cluster}: ${r.totals.published} published, ${r.totals.confirmed} confirmed`,
        ...r.queues.map(
          (q) => `  ${q.source.vhost} ${q.source.name} -> ${q.target.vhost} ${q.target.name}${q.declared ? ' (declared)' : ''}: ${q.confirmed} of ${q.messages} confirmed, depth ${q.depthBefore} -> ${q.depthAfter}`,
        ),
      ],
    );
  } finally {
    await stop();
  }
}

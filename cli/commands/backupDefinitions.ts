import { backupDefinitionsWorkflowId } from '../../common/workflowIds';
import { BackupDefinitionsInput, DefinitionsWorkflow } from '../../contracts/definitions';
import { checkInput, parseFlags } from '../args';
import type { CliContext } from '../context';
import { runWorkflowCommand } from '../runWorkflowCommand';

const usage = 'usage: rabbitvault backup definitions --cluster NAME [--storage NAME] [--wait] [--json]';

export async function backupDefinitionsCommand(ctx: CliContext, argv: string[]): Promise<number> {
  const { values } = parseFlags(
    argv,
    { cluster: { type: 'string' }, storage: { type: 'string' }, wait: { type: 'boolean', default: false } },
    usage,
  );
  const input = checkInput(BackupDefinitionsInput, { cluster: values.cluster, storage: values.storage }, { cluster: '--cluster', storage: '--storage' });
  return runWorkflowCommand(
    ctx,
    {
      workflowType: DefinitionsWorkflow.backup,
      workflowId: backupDefinitionsWorkflowId(input.cluster, new Date()),
      input: { cluster: input.cluster, storage: input.storage },
      cluster: input.cluster,
      component: 'definitions',
    },
    { wait: values.wait, json: values.json },
    (r) => [
      `backed up definitions of ${r.cluster} (RabbitMQ ${r.rabbitmqVersion ?? 'unknown'}): ${r.counts.vhosts} vhosts, ${r.counts.users} users, ${r.counts.queues} queues, ${r.counts.exchanges} exchanges, ${r.counts.bindings} bindings, ${r.counts.policies} policies, ${r.counts.parameters} parameters`,
      `set ${r.setId}: ${r.location} (${r.artifact.size} bytes, sha256 ${r.artifact.sha256})`,
    ],
  );
}

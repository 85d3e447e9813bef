import { compactUtc } from '../../common/names';
import { CopyBackupOffsiteInput, OffsiteWorkflow } from '../../contracts/offsite';
import { checkInput, parseFlags, UsageError } from '../args';
import type { CliContext } from '../context';
import { runWorkflowCommand } from '../runWorkflowCommand';

const usage = 'usage: rabbitvault offsite copy --cluster NAME [--component KIND] [--set SET_ID|latest] [--from STORAGE] [--to STORAGE] [--wait] [--json]';

export async function offsiteCommand(ctx: CliContext, argv: string[]): Promise<number> {
  const { values, positionals } = parseFlags(
    argv,
    { cluster: { type: 'string' }, component: { type: 'string' }, set: { type: 'string' }, from: { type: 'string' }, to: { type: 'string' }, wait: { type: 'boolean', default: false } },
    usage,
  );
  if (positionals[0] !== 'copy') throw new UsageError(usage);
  const input = checkInput(
    CopyBackupOffsiteInput,
    { cluster: values.cluster, component: values.component ?? 'definitions', set: values.set, from: values.from, to: values.to ?? ctx.config.offsite?.target },
    { cluster: '--cluster', component: '--component', set: '--set', from: '--from', to: '--to' },
  );
  if (!input.to) throw new UsageError('--to: no off-site target (set offsite.target in the config or pass --to)');
  const { retry: _retry, ...workflowInput } = input;
  return runWorkflowCommand(
    ctx,
    { workflowType: OffsiteWorkflow.copy, workflowId: `copy-offsite-${input.cluster}-${input.component}-${compactUtc(new Date())}`, input: workflowInput, cluster: input.cluster, component: input.component },
    { wait: values.wait, json: values.json },
    (r) => [`set ${r.setId} ${r.alreadyThere ? 'already on' : 'copied to'} ${r.to}: ${r.location} (${r.verification.artifactsChecked} artifacts verified)`],
  );
}

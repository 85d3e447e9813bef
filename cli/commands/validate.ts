import { compactUtc } from '../../common/names';
import { ValidateBackupsInput, ValidationWorkflow } from '../../contracts/validation';
import { checkInput, parseFlags } from '../args';
import type { CliContext } from '../context';
import { runWorkflowCommand } from '../runWorkflowCommand';

const usage = 'usage: rabbitvault validate [--cluster NAME]... [--component KIND]... [--storage NAME] [--restore-into CLUSTER | --no-restore] [--wait] [--json]';

export async function validateCommand(ctx: CliContext, argv: string[]): Promise<number> {
  const { values } = parseFlags(
    argv,
    {
      cluster: { type: 'string', multiple: true },
      component: { type: 'string', multiple: true },
      storage: { type: 'string' },
      'restore-into': { type: 'string' },
      'no-restore': { type: 'boolean', default: false },
      wait: { type: 'boolean', default: false },
    },
    usage,
  );
  const input = checkInput(
    ValidateBackupsInput,
    { clusters: values.cluster, components: values.component, storage: values.storage, restoreInto: values['no-restore'] ? null : values['restore-into'] },
    { clusters: '--cluster', components: '--component', storage: '--storage', restoreInto: '--restore-into' },
  );
  const { retry: _retry, ...workflowInput } = input;
  return runWorkflowCommand(
    ctx,
    {
      workflowType: ValidationWorkflow.validate,
      workflowId: `validate-backups-${compactUtc(new Date())}`,
      input: workflowInput,
      cluster: input.clusters?.join(',') ?? 'all',
      component: 'validation',
    },
    { wait: values.wait, json: values.json },
    (r) => [
      ...r.results.flatMap((c) => [
        `${c.cluster} ${c.component}: ${c.status}${c.setId ? ` (set ${c.setId})` : ''}`,
        ...c.checks.map((k) => `  ${k.ok ? 'ok  ' : k.warning ? 'warn' : 'FAIL'} ${k.check}: ${k.detail}`),
      ]),
      `report: ${r.reportLocations.join(', ')}`,
    ],
  );
}

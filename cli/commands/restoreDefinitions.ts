import { restoreDefinitionsWorkflowId } from '../../common/workflowIds';
import { DefinitionsWorkflow, RestoreDefinitionsInput } from '../../contracts/definitions';
import { checkInput, parseFlags } from '../args';
import type { CliContext } from '../context';
import { runWorkflowCommand } from '../runWorkflowCommand';

const usage =
  'usage: rabbitvault restore definitions --cluster TARGET --from SET_ID|latest [--source-cluster NAME] [--dry-run] [--on-conflict abort|keep-target] [--transform NAME]... [--target-version X.Y[.Z]] [--storage NAME] [--wait] [--json]';

export async function restoreDefinitionsCommand(ctx: CliContext, argv: string[]): Promise<number> {
  const { values } = parseFlags(
    argv,
    {
      cluster: { type: 'string' },
      from: { type: 'string' },
      'source-cluster': { type: 'string' },
      storage: { type: 'string' },
      'dry-run': { type: 'boolean', default: false },
      'on-conflict': { type: 'string' },
      transform: { type: 'string', multiple: true },
      'target-version': { type: 'string' },
      wait: { type: 'boolean', default: false },
    },
    usage,
  );
  const input = checkInput(
    RestoreDefinitionsInput,
    {
      cluster: values.cluster,
      from: values.from,
      sourceCluster: values['source-cluster'],
      storage: values.storage,
      dryRun: values['dry-run'],
      onConflict: values['on-conflict'],
      transforms: values.transform,
      targetVersion: values['target-version'],
    },
    { cluster: '--cluster', from: '--from', sourceCluster: '--source-cluster', storage: '--storage', onConflict: '--on-conflict', transforms: '--transform', targetVersion: '--target-version' },
  );
  const { retry: _retry, ...workflowInput } = input;
  return runWorkflowCommand(
    ctx,
    {
      workflowType: DefinitionsWorkflow.restore,
      workflowId: restoreDefinitionsWorkflowId(input.cluster, new Date()),
      input: workflowInput,
      cluster: input.cluster,
      component: 'definitions',
    },
    // A dry run is only useful with its plan, so it always waits.
    { wait: values.wait || input.dryRun, json: values.json },
    (r) => {
      const t = r.plan.totals;
      const lines = [
        `${r.dryRun ? 'plan (dry run, nothing changed)' : 'restored'}: set ${r.setId} of ${r.sourceCluster} into ${r.cluster}`,
        `  ${t.create} to create, ${t.identical} identical, ${t.update} updated, ${t.conflict} conflicting`,
        ...r.plan.conflicts.map((c) => `  conflict: ${c.entity} differs in ${c.fields.join(', ')}`),
        ...r.plan.update.map((u) => `  update: ${u.entity} (${u.fields.join(', ')})`),
      ];
      if (r.plan.truncated) lines.push('  (lists truncated; counts are exact; --json has the full result)');
      const c = r.plan.compatibility;
      if (c) {
        lines.push(`  RabbitMQ ${c.targetVersion ?? '(version unknown: every rule checked)'}${c.declared ? ' (declared with --target-version)' : ''}: ${c.refusedCount} would be refused${c.transforms.length ? `; transformations ${c.transforms.join(', ')}: ${c.changeCount} changes` : ''}`);
        for (const f of c.refusals) lines.push(`  refused by ${f.since}+: ${f.entity}: ${f.detail} [${f.rule}: ${f.what}] fix: --transform ${f.fixedBy}`);
        for (const ch of c.changes) lines.push(`  changed (${ch.transform}): ${ch.entity}: ${ch.change}`);
      }
      if (r.verification) lines.push(`  verified: every backed-up entity is on ${r.cluster} as backed up (${r.verification.conflictsLeftAsTarget} conflicts left as the target had them)`);
      return lines;
    },
  );
}

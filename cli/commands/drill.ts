import { compactUtc } from '../../common/names';
import { DrillsWorkflow, RestoreDrillInput } from '../../contracts/drills';
import { checkInput, parseFlags } from '../args';
import type { CliContext } from '../context';
import { runWorkflowCommand } from '../runWorkflowCommand';

const usage = 'usage: rabbitvault drill --cluster SOURCE [--target CLUSTER] [--component KIND]... [--storage NAME] [--wait] [--json]';

export async function drillCommand(ctx: CliContext, argv: string[]): Promise<number> {
  const { values } = parseFlags(
    argv,
    {
      cluster: { type: 'string' },
      target: { type: 'string' },
      component: { type: 'string', multiple: true },
      storage: { type: 'string' },
      wait: { type: 'boolean', default: false },
    },
    usage,
  );
  const input = checkInput(
    RestoreDrillInput,
    { cluster: values.cluster, target: values.target, components: values.component, storage: values.storage },
    { cluster: '--cluster', target: '--target', components: '--component', storage: '--storage' },
  );
  const { retry: _retry, ...workflowInput } = input;
  return runWorkflowCommand(
    ctx,
    { workflowType: DrillsWorkflow.drill, workflowId: `restore-drill-${input.cluster}-${compactUtc(new Date())}`, input: workflowInput, cluster: input.cluster, component: 'drill' },
    { wait: values.wait, json: values.json },
    (r) => [
      `drill ${r.cluster} -> ${r.target}: ${r.passed ? 'PASSED' : 'targets MISSED'}; RTO ${r.rtoSeconds.toFixed(1)} s (target ${r.rtoTargetSeconds} s)`,
      ...r.components.map((c) => `  ${c.component}: ${c.status}${c.rpoSeconds !== undefined ? `, RPO ${(c.rpoSeconds / 3600).toFixed(2)} h (target ${c.rpoTargetSeconds / 3600} h)` : ''}${c.restoreSeconds !== undefined ? `, restore ${c.restoreSeconds.toFixed(1)} s` : ''}`),
      `report: ${r.reportMarkdown}`,
    ],
  );
}

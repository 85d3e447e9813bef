import { restoreConfigurationWorkflowId } from '../../common/workflowIds';
import { ConfigurationWorkflow, RestoreConfigurationInput } from '../../contracts/configuration';
import { checkInput, parseFlags } from '../args';
import type { CliContext } from '../context';
import { runWorkflowCommand } from '../runWorkflowCommand';

const usage =
  'usage: rabbitvault restore configuration --cluster TARGET --from SET_ID|latest [--source-cluster NAME] [--node NODE]... [--no-kubernetes] [--dry-run] [--restart] [--storage NAME] [--wait] [--json]';

export async function restoreConfigurationCommand(ctx: CliContext, argv: string[]): Promise<number> {
  const { values } = parseFlags(
    argv,
    {
      cluster: { type: 'string' },
      from: { type: 'string' },
      'source-cluster': { type: 'string' },
      storage: { type: 'string' },
      node: { type: 'string', multiple: true },
      'dry-run': { type: 'boolean', default: false },
      restart: { type: 'boolean', default: false },
      'no-kubernetes': { type: 'boolean', default: false },
      wait: { type: 'boolean', default: false },
    },
    usage,
  );
  const input = checkInput(
    RestoreConfigurationInput,
    {
      cluster: values.cluster,
      from: values.from,
      sourceCluster: values['source-cluster'],
      storage: values.storage,
      nodes: values.node,
      dryRun: values['dry-run'],
      restart: values.restart,
      kubernetes: !values['no-kubernetes'],
    },
    { cluster: '--cluster', from: '--from', sourceCluster: '--source-cluster', storage: '--storage', nodes: '--node' },
  );
  const { retry: _retry, ...workflowInput } = input;
  return runWorkflowCommand(
    ctx,
    {
      workflowType: ConfigurationWorkflow.restore,
      workflowId: restoreConfigurationWorkflowId(input.cluster, new Date()),
      input: workflowInput,
      cluster: input.cluster,
      component: 'configuration',
    },
    { wait: values.wait, json: values.json },
    (r) => [
      `${r.dryRun ? 'dry run: would restore' : 'restored'} the configuration of ${r.nodes.length} node(s) of ${r.cluster} from set ${r.setId} of ${r.sourceCluster}${r.dryRun ? '' : `: ${r.filesChanged} file(s) written`}`,
      ...(r.kubernetes
        ? [
            `  ConfigMap ${r.kubernetes.namespace}/${r.kubernetes.configMap}: ${r.kubernetes.action}${r.kubernetes.keysChanged.length ? ` (${r.kubernetes.keysChanged.join(', ')})` : ''}${r.kubernetes.previous ? `; current ${r.dryRun ? 'would be ' : ''}kept as ConfigMap ${r.kubernetes.previous}` : ''}${r.kubernetes.restarted ? `; StatefulSet ${r.kubernetes.statefulSet} rollout restarted` : ''}`,
          ]
        : []),
      ...r.nodes.flatMap((n) => [
        `  ${n.node}${n.restarted ? ' (restarted)' : ''}:`,
        ...n.files.map((f) => `    ${f.action} ${f.path}${f.previous ? ` (current file ${r.dryRun ? 'would be ' : ''}kept as ${f.previous})` : ''}`),
      ]),
      ...(r.dryRun || !(r.filesChanged || (r.kubernetes && r.kubernetes.action !== 'identical')) || r.nodes.some((n) => n.restarted) || r.kubernetes?.restarted
        ? []
        : ['RabbitMQ reads its configuration when it starts: restart the nodes (or run again with --restart) to apply it']),
    ],
  );
}

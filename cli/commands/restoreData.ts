import { restoreDataDirectoryWorkflowId } from '../../common/workflowIds';
import { DataDirectoryWorkflow, RestoreDataDirectoryInput } from '../../contracts/dataDirectory';
import { checkInput, parseFlags, UsageError } from '../args';
import type { CliContext } from '../context';
import { formatStopWindow, runDataCommand } from './dataProgress';

const usage =
  'usage: rabbitvault restore data --cluster TARGET --from SET_ID|latest [--method archive|restic] [--source-cluster NAME] [--node NODE]... [--downtime-limit SECONDS] [--storage NAME] [--wait] [--json]';

// --method is optional: the set's manifest says how it was taken; given, it must match.
export async function restoreDataCommand(ctx: CliContext, argv: string[]): Promise<number> {
  const { values } = parseFlags(
    argv,
    {
      cluster: { type: 'string' },
      from: { type: 'string' },
      method: { type: 'string' },
      'source-cluster': { type: 'string' },
      storage: { type: 'string' },
      node: { type: 'string', multiple: true },
      'downtime-limit': { type: 'string' },
      wait: { type: 'boolean', default: false },
    },
    usage,
  );
  if (values.method !== undefined && values.method !== 'archive' && values.method !== 'restic') throw new UsageError(`--method: must be archive or restic\n${usage}`);
  const input = checkInput(
    RestoreDataDirectoryInput,
    {
      cluster: values.cluster,
      from: values.from,
      method: values.method,
      sourceCluster: values['source-cluster'],
      storage: values.storage,
      nodes: values.node,
      downtimeLimitSeconds: values['downtime-limit'] === undefined ? undefined : Number(values['downtime-limit']),
    },
    { cluster: '--cluster', from: '--from', method: '--method', sourceCluster: '--source-cluster', storage: '--storage', nodes: '--node', downtimeLimitSeconds: '--downtime-limit' },
  );
  const { retry: _retry, ...workflowInput } = input;
  return runDataCommand(
    ctx,
    {
      workflowType: DataDirectoryWorkflow.restore,
      workflowId: restoreDataDirectoryWorkflowId(input.cluster, new Date()),
      input: workflowInput,
      cluster: input.cluster,
      component: 'data-directory',
    },
    { wait: values.wait, json: values.json },
    (r) => [
      `restored the data directory of ${r.nodes.length} node(s) of ${r.cluster} from set ${r.setId} of ${r.sourceCluster}`,
      ...r.nodes.map((n) => `  ${n.node}: ${n.queues} queues, ${n.messages} messages as in the manifest; ${formatStopWindow(n.stopWindow)}`),
    ],
  );
}

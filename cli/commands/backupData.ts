import { backupDataDirectoryWorkflowId } from '../../common/workflowIds';
import { BackupDataDirectoryInput, DataDirectoryWorkflow, type BackupDataDirectoryResult } from '../../contracts/dataDirectory';
import { checkInput, parseFlags } from '../args';
import type { CliContext } from '../context';
import { formatStopWindow, runDataCommand } from './dataProgress';

const MiB = 1024 * 1024;

// How the copy was taken: the pre-copy while running and what the stop window re-copied, or why not.
function formatCopy(n: BackupDataDirectoryResult['nodes'][number]): string {
  if (n.copy === 'pre-copy' && n.preCopy && n.delta) {
    return `; pre-copied ${(n.preCopy.bytes / MiB).toFixed(1)} MiB in ${n.preCopy.seconds.toFixed(1)} s while running, then ${n.delta.filesCopied} changed file(s), ${(n.delta.bytesCopied / MiB).toFixed(1)} MiB, in ${n.delta.seconds.toFixed(1)} s while stopped`;
  }
  return `; copied while stopped${n.copyNote ? ` (${n.copyNote})` : ''}`;
}

const usage =
  'usage: rabbitvault backup data --cluster NAME [--method archive|restic] [--node NODE]... [--all-together] [--copy pre-copy|while-stopped] [--downtime-limit SECONDS] [--storage NAME] [--wait] [--json]';

export async function backupDataCommand(ctx: CliContext, argv: string[]): Promise<number> {
  const { values } = parseFlags(
    argv,
    {
      cluster: { type: 'string' },
      storage: { type: 'string' },
      method: { type: 'string' },
      node: { type: 'string', multiple: true },
      'all-together': { type: 'boolean', default: false },
      copy: { type: 'string' },
      'downtime-limit': { type: 'string' },
      wait: { type: 'boolean', default: false },
    },
    usage,
  );
  const raw = {
    cluster: values.cluster,
    storage: values.storage,
    method: values.method,
    nodes: values.node,
    mode: values['all-together'] ? 'all-together' : undefined,
    copy: values.copy,
    downtimeLimitSeconds: values['downtime-limit'] === undefined ? undefined : Number(values['downtime-limit']),
  };
  const input = checkInput(BackupDataDirectoryInput, raw, {
    cluster: '--cluster',
    storage: '--storage',
    method: '--method',
    nodes: '--node',
    copy: '--copy',
    downtimeLimitSeconds: '--downtime-limit',
  });
  const { retry: _retry, ...workflowInput } = input;
  return runDataCommand(
    ctx,
    {
      workflowType: DataDirectoryWorkflow.backup,
      workflowId: backupDataDirectoryWorkflowId(input.cluster, new Date()),
      input: workflowInput,
      cluster: input.cluster,
      component: 'data-directory',
    },
    { wait: values.wait, json: values.json },
    (r) => [
      `backed up the data directory of ${r.nodes.length} node(s) of ${r.cluster} (${r.method}, ${r.mode}): set ${r.setId} at ${r.location}`,
      ...r.nodes.map(
        (n) =>
          `  ${n.node}: ${n.artifact}, ${n.tarBytes} bytes of data directory, ${n.bytes} bytes stored${n.resticSnapshotId ? `, restic snapshot ${n.resticSnapshotId}` : ''}; ${formatStopWindow(n.stopWindow)}${formatCopy(n)}`,
      ),
    ],
  );
}

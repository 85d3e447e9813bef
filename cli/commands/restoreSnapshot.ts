import { restoreVolumeSnapshotWorkflowId } from '../../common/workflowIds';
import { RestoreVolumeSnapshotInput, VolumeSnapshotRestoreWorkflow } from '../../contracts/volumeSnapshotRestore';
import { checkInput, parseFlags } from '../args';
import type { CliContext } from '../context';
import { runWorkflowCommand } from '../runWorkflowCommand';

const usage = 'usage: rabbitvault restore snapshot --cluster NAME --from SET_ID|latest [--ready-timeout SECONDS] [--storage NAME] [--wait] [--json]';

// The guide's Recovery 4: the StatefulSet's PVCs created again from a set's VolumeSnapshots, the old volumes kept.
export async function restoreSnapshotCommand(ctx: CliContext, argv: string[]): Promise<number> {
  const { values } = parseFlags(
    argv,
    {
      cluster: { type: 'string' },
      from: { type: 'string' },
      storage: { type: 'string' },
      'ready-timeout': { type: 'string' },
      wait: { type: 'boolean', default: false },
    },
    usage,
  );
  const raw = {
    cluster: values.cluster,
    from: values.from,
    storage: values.storage,
    readyTimeoutSeconds: values['ready-timeout'] === undefined ? undefined : Number(values['ready-timeout']),
  };
  const input = checkInput(RestoreVolumeSnapshotInput, raw, { cluster: '--cluster', from: '--from', storage: '--storage', readyTimeoutSeconds: '--ready-timeout' });
  const { retry: _retry, ...workflowInput } = input;
  return runWorkflowCommand(
    ctx,
    {
      workflowType: VolumeSnapshotRestoreWorkflow.restore,
      workflowId: restoreVolumeSnapshotWorkflowId(input.cluster, new Date()),
      input: workflowInput,
      cluster: input.cluster,
      component: 'volume-snapshot',
    },
    { wait: values.wait, json: values.json },
    (r) => [
      `restored ${r.claims.length} PVC(s) of ${r.namespace}/${r.statefulSet} from set ${r.setId}; ${r.replicas} pod(s) Ready, nodes running: ${r.nodes.join(', ')}${r.queues === null ? '' : `; ${r.queues} queues, ${r.messages} messages as in the manifest`}`,
      ...r.claims.map((c) => `  ${c.persistentVolumeClaim} (${c.pod}): from VolumeSnapshot ${c.volumeSnapshot}, volume ${c.volume} (${c.storage}); previous volume ${c.previousVolume ?? 'none'}${c.previousVolume ? ' kept (Retain)' : ''}`),
    ],
  );
}

import { backupVolumeSnapshotWorkflowId } from '../../common/workflowIds';
import { BackupVolumeSnapshotInput, VolumeSnapshotWorkflow } from '../../contracts/volumeSnapshot';
import { checkInput, parseFlags } from '../args';
import type { CliContext } from '../context';
import { runWorkflowCommand } from '../runWorkflowCommand';
import { formatStopWindow } from './dataProgress';

const usage = 'usage: rabbitvault backup snapshot --cluster NAME [--consistent] [--ready-timeout SECONDS] [--downtime-limit SECONDS] [--storage NAME] [--wait] [--json]';

// The guide's Option A (Method 2): one CSI VolumeSnapshot per PVC of the cluster's StatefulSet.
export async function backupSnapshotCommand(ctx: CliContext, argv: string[]): Promise<number> {
  const { values } = parseFlags(
    argv,
    {
      cluster: { type: 'string' },
      storage: { type: 'string' },
      consistent: { type: 'boolean', default: false },
      'ready-timeout': { type: 'string' },
      'downtime-limit': { type: 'string' },
      wait: { type: 'boolean', default: false },
    },
    usage,
  );
  const seconds = (v: string | undefined) => (v === undefined ? undefined : Number(v));
  const raw = {
    cluster: values.cluster,
    storage: values.storage,
    consistent: values.consistent,
    readyTimeoutSeconds: seconds(values['ready-timeout']),
    downtimeLimitSeconds: seconds(values['downtime-limit']),
  };
  const input = checkInput(BackupVolumeSnapshotInput, raw, {
    cluster: '--cluster',
    storage: '--storage',
    consistent: '--consistent',
    readyTimeoutSeconds: '--ready-timeout',
    downtimeLimitSeconds: '--downtime-limit',
  });
  const { retry: _retry, ...workflowInput } = input;
  return runWorkflowCommand(
    ctx,
    {
      workflowType: VolumeSnapshotWorkflow.backup,
      workflowId: backupVolumeSnapshotWorkflowId(input.cluster, new Date()),
      input: workflowInput,
      cluster: input.cluster,
      component: 'volume-snapshot',
    },
    { wait: values.wait, json: values.json },
    (r) => [
      `snapshotted ${r.snapshots.length} PVC(s) of ${r.namespace}/${r.statefulSet} (class ${r.volumeSnapshotClass}, ${r.consistent ? `consistent: ${formatStopWindow(r.stopWindow!)}` : 'crash-consistent'}): set ${r.setId} at ${r.location}`,
      ...r.snapshots.map((s) => `  ${s.persistentVolumeClaim} (${s.pod}): VolumeSnapshot ${s.name}, content ${s.volumeSnapshotContent}, restoreSize ${s.restoreSize ?? 'unknown'}`),
    ],
  );
}

import { z } from 'zod';
import { ResourceName } from '../common/names';
import { downtime, type StopWindow } from './dataDirectory';
import { retryField as retry } from './retry';

// Workflow type name: recorded in every history and schedule, never renamed.
export const VolumeSnapshotWorkflow = { backup: 'backupVolumeSnapshot' } as const;

// The guide's "Option A: PVC Snapshot" (Method 2): one CSI VolumeSnapshot per PVC of the StatefulSet.
export const BackupVolumeSnapshotInput = z
  .object({
    cluster: ResourceName,
    // Where the set's manifest goes (the snapshots stay in the cluster).
    storage: ResourceName.optional(),
    // true: stop_app on every node of the cluster until each snapshot is cut
    // (status.creationTime), so the volumes hold a quiesced data directory;
    // false: crash-consistent, the nodes keep running.
    consistent: z.boolean().default(false),
    // How long the snapshot controller may take until every snapshot is
    // readyToUse; when consistent, also until each is cut, while stopped.
    readyTimeoutSeconds: z.number().positive().max(86400).default(1800),
    // How often the snapshots' status is read while waiting.
    pollIntervalSeconds: z.number().positive().max(60).default(2),
    ...downtime,
    retry,
  })
  .strict();
export type BackupVolumeSnapshotInput = z.input<typeof BackupVolumeSnapshotInput>;

export interface VolumeSnapshotRecord {
  name: string;
  persistentVolumeClaim: string;
  pod: string;
  volumeSnapshotContent: string;
  // As the snapshot controller reports it (e.g. "8Gi"), null when the driver gives none.
  restoreSize: string | null;
  creationTime: string | null;
}

export interface BackupVolumeSnapshotResult {
  cluster: string;
  setId: string;
  location: string;
  namespace: string;
  statefulSet: string;
  volumeSnapshotClass: string;
  consistent: boolean;
  snapshots: VolumeSnapshotRecord[];
  // consistent: when the nodes were stopped and running again.
  stopWindow?: StopWindow;
  startedAt: string;
  finishedAt: string;
}

export interface VolumeSnapshotContracts {
  [VolumeSnapshotWorkflow.backup]: { input: BackupVolumeSnapshotInput; result: BackupVolumeSnapshotResult };
}

import { z } from 'zod';
import { ResourceName, SetRef } from '../common/names';
import { retryField as retry } from './retry';

// Workflow type name: recorded in every history, never renamed.
export const VolumeSnapshotRestoreWorkflow = { restore: 'restoreVolumeSnapshot' } as const;

// The guide's "Recovery 4: full disaster recovery from a PVC snapshot": the
// StatefulSet's PVCs replaced by claims provisioned from a set's VolumeSnapshots.
export const RestoreVolumeSnapshotInput = z
  .object({
    cluster: ResourceName,
    from: SetRef,
    // Where the set's manifest is (the snapshots are in the cluster).
    storage: ResourceName.optional(),
    // How long the pods may take to go after the scale to 0.
    podsGoneTimeoutSeconds: z.number().positive().max(86400).default(600),
    // How long an old PVC may take to go (the pvc-protection finalizer), and
    // the restored PVCs to be Bound and the pods Ready after the scale back
    // (the CSI driver provisions each volume from its snapshot meanwhile).
    readyTimeoutSeconds: z.number().positive().max(86400).default(1800),
    // How long RabbitMQ may take to report the set's nodes running (and its queues) after the pods are Ready.
    verifyTimeoutSeconds: z.number().positive().max(86400).default(300),
    // How often the pods, PVCs and nodes are read while waiting.
    pollIntervalSeconds: z.number().positive().max(60).default(2),
    // A wait that stops heartbeating for this long is retried (its worker died).
    heartbeatTimeoutSeconds: z.number().positive().max(3600).default(30),
    retry,
  })
  .strict();
export type RestoreVolumeSnapshotInput = z.input<typeof RestoreVolumeSnapshotInput>;

export interface RestoredClaim {
  persistentVolumeClaim: string;
  pod: string;
  // The claim's spec.dataSource.
  volumeSnapshot: string;
  // The request of the new claim: the old one's, or the snapshot's restoreSize when larger.
  storage: string;
  // The PV the claim was bound to before, kept with reclaim policy Retain (null: the claim was absent or unbound).
  previousVolume: string | null;
  // The PV provisioned from the snapshot.
  volume: string;
}

export interface RestoreVolumeSnapshotResult {
  cluster: string;
  setId: string;
  namespace: string;
  statefulSet: string;
  replicas: number;
  claims: RestoredClaim[];
  // The nodes RabbitMQ reports running, each one the set recorded.
  nodes: string[];
  // Checked only when the manifest records queues.
  queues: number | null;
  messages: number | null;
  startedAt: string;
  finishedAt: string;
}

export interface VolumeSnapshotRestoreContracts {
  [VolumeSnapshotRestoreWorkflow.restore]: { input: RestoreVolumeSnapshotInput; result: RestoreVolumeSnapshotResult };
}

import { z } from 'zod';
import { NodeName } from './names';

// What a volume-snapshot set's manifest records (details), as read back from
// storage: untrusted, so every field a check or a restore uses is checked here.
const objectName = z.string().regex(/^[a-z0-9]([-a-z0-9.]{0,251}[a-z0-9])?$/, 'must be a Kubernetes object name');

export const VOLUME_SNAPSHOT_RECORD_ARTIFACT = 'volume-snapshots.json';

// Labels on every VolumeSnapshot a backup creates: retention and the
// compensation find a set's snapshots by them, never by names read from storage.
export const SNAPSHOT_SET_LABEL = 'rabbitvault.io/set-id';
export const SNAPSHOT_CLUSTER_LABEL = 'rabbitvault.io/cluster';

export const RecordedVolumeSnapshot = z.looseObject({
  name: objectName,
  persistentVolumeClaim: objectName,
  pod: objectName,
  volumeSnapshotContent: objectName,
  restoreSize: z.string().max(64).nullable(),
  creationTime: z.string().max(64).nullable(),
});

export const VolumeSnapshotDetails = z.looseObject({
  namespace: objectName,
  statefulSet: objectName,
  volumeSnapshotClass: objectName,
  driver: z.string().max(253).nullable(),
  consistent: z.boolean(),
  // Which PVC naming the StatefulSet uses: the Helm chart's data-<release>-N,
  // the cluster operator's persistence-<cluster>-server-N, or the config's list.
  naming: z.enum(['helm', 'operator', 'configured']),
  nodes: z.array(NodeName),
  snapshots: z.array(RecordedVolumeSnapshot).min(1),
});
export type VolumeSnapshotDetails = z.infer<typeof VolumeSnapshotDetails>;

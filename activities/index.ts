import { createBackupSetActivities } from './backupSets/backupSets';
import { createConfigurationActivities, createKubernetesConfigurationActivities } from './configuration';
import { createDefinitionsBackupActivities } from './definitions/definitionsBackup';
import { createDefinitionsRestoreActivities } from './definitions/definitionsRestore';
import type { ActivityDeps } from './deps';
import { createDrillActivities } from './drills/drill';
import { createOffsiteActivities } from './offsite/offsiteCopy';
import { createRetentionActivities } from './retention/retentionPrune';
import { createValidationActivities } from './validation/validation';
import { createMessageActivities } from './messages';
import { createNodeActivities } from './dataDirectory/index';
import { createReplicationActivities } from './replication/replication';
import { createVolumeSnapshotActivities } from './volumeSnapshot/volumeSnapshotBackup';
import { createVolumeSnapshotRestoreActivities } from './volumeSnapshot/volumeSnapshotRestore';

export function createActivities(deps: ActivityDeps) {
  return {
    ...createBackupSetActivities(deps),
    ...createDefinitionsBackupActivities(deps),
    ...createDefinitionsRestoreActivities(deps),
    ...createMessageActivities(deps),
    ...createRetentionActivities(deps),
    ...createOffsiteActivities(deps),
    ...createValidationActivities(deps),
    ...createDrillActivities(deps),
    ...createNodeActivities(deps),
    ...createConfigurationActivities(deps),
    ...createKubernetesConfigurationActivities(deps),
    ...createReplicationActivities(deps),
    ...createVolumeSnapshotActivities(deps),
    ...createVolumeSnapshotRestoreActivities(deps),
  };
}

export type Activities = ReturnType<typeof createActivities>;

// Per component: each workflow proxies only the activities of its own component
// (workflows/toolkit/activities.ts), so a call into another one fails the type-check.
export type BackupSetActivities = ReturnType<typeof createBackupSetActivities>;
export type DefinitionsActivities = ReturnType<typeof createDefinitionsBackupActivities> & ReturnType<typeof createDefinitionsRestoreActivities>;
export type MessagesActivities = ReturnType<typeof createMessageActivities>;
export type DataDirectoryActivities = ReturnType<typeof createNodeActivities>;
export type ConfigurationActivities = ReturnType<typeof createConfigurationActivities> & ReturnType<typeof createKubernetesConfigurationActivities>;
export type OffsiteActivities = ReturnType<typeof createOffsiteActivities>;
export type RetentionActivities = ReturnType<typeof createRetentionActivities>;
export type ValidationActivities = ReturnType<typeof createValidationActivities>;
export type DrillActivities = ReturnType<typeof createDrillActivities>;
export type ReplicationActivities = ReturnType<typeof createReplicationActivities>;
export type VolumeSnapshotActivities = ReturnType<typeof createVolumeSnapshotActivities>;
export type VolumeSnapshotRestoreActivities = ReturnType<typeof createVolumeSnapshotRestoreActivities>;
export { defaultDeps, type ActivityDeps } from './deps';

import { compactUtc } from './names';

// One helper per workflow so ids stay greppable and never collide by accident.
export function backupDefinitionsWorkflowId(cluster: string, at: Date): string {
  return `backup-definitions-${cluster}-${compactUtc(at)}`;
}

export function restoreDefinitionsWorkflowId(cluster: string, at: Date): string {
  return `restore-definitions-${cluster}-${compactUtc(at)}`;
}

export function verifyBackupWorkflowId(cluster: string, component: string, setId: string, at: Date): string {
  return `verify-backup-${cluster}-${component}-${setId}-${compactUtc(at)}`;
}

export function backupMessagesWorkflowId(cluster: string, at: Date): string {
  return `backup-messages-${cluster}-${compactUtc(at)}`;
}

export function restoreMessagesWorkflowId(cluster: string, at: Date): string {
  return `restore-messages-${cluster}-${compactUtc(at)}`;
}

export function backupDataDirectoryWorkflowId(cluster: string, at: Date): string {
  return `backup-data-${cluster}-${compactUtc(at)}`;
}

export function restoreDataDirectoryWorkflowId(cluster: string, at: Date): string {
  return `restore-data-${cluster}-${compactUtc(at)}`;
}

// Fixed per cluster: held by the one data-directory backup or restore running
// on it (workflows/dataDirectoryLock.ts, taken through workflows/toolkit/lock.ts).
export function dataDirectoryLockWorkflowId(cluster: string): string {
  return `rabbitvault-data-directory-lock-${cluster}`;
}

export function backupVolumeSnapshotWorkflowId(cluster: string, at: Date): string {
  return `backup-snapshot-${cluster}-${compactUtc(at)}`;
}

export function restoreVolumeSnapshotWorkflowId(cluster: string, at: Date): string {
  return `restore-snapshot-${cluster}-${compactUtc(at)}`;
}

export function backupConfigurationWorkflowId(cluster: string, at: Date): string {
  return `backup-configuration-${cluster}-${compactUtc(at)}`;
}

export function restoreConfigurationWorkflowId(cluster: string, at: Date): string {
  return `restore-configuration-${cluster}-${compactUtc(at)}`;
}

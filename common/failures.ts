// Named failure types shared by workflows, activities and the CLI. Code matches
// on these, never on message text.
export const FailureType = {
  InvalidInput: 'InvalidInput',
  UnknownCluster: 'UnknownCluster',
  UnknownStorage: 'UnknownStorage',
  SecretUnresolved: 'SecretUnresolved',
  AuthenticationFailed: 'AuthenticationFailed',
  ManagementApiUnreachable: 'ManagementApiUnreachable',
  ManagementApiError: 'ManagementApiError',
  InvalidDefinitions: 'InvalidDefinitions',
  BackupSetNotFound: 'BackupSetNotFound',
  ManifestInvalid: 'ManifestInvalid',
  ManifestChecksumMismatch: 'ManifestChecksumMismatch',
  DefinitionsConflict: 'DefinitionsConflict',
  ImportRejected: 'ImportRejected',
  RestoreVerificationFailed: 'RestoreVerificationFailed',
  StorageError: 'StorageError',
  StepFailed: 'StepFailed',
  QueueNotFound: 'QueueNotFound',
  // The live queue listing lacks durable queues the definitions hold (a node just went down): retried.
  QueueListingIncomplete: 'QueueListingIncomplete',
  CopyWouldDeadLetter: 'CopyWouldDeadLetter',
  AmqpUnavailable: 'AmqpUnavailable',
  PublishRejected: 'PublishRejected',
  SegmentCorrupt: 'SegmentCorrupt',
  BackupValidationFailed: 'BackupValidationFailed',
  DrillFailed: 'DrillFailed',
  // Data-directory backup/restore (issue 3).
  NodeUnreachable: 'NodeUnreachable',
  NodeCommandFailed: 'NodeCommandFailed',
  UnknownNode: 'UnknownNode',
  UnsafeArchive: 'UnsafeArchive',
  DataDirectoryRestoreRefused: 'DataDirectoryRestoreRefused',
  DowntimeLimitReached: 'DowntimeLimitReached',
  ResticError: 'ResticError',
  // Another data-directory backup or restore of the cluster holds its lock.
  ClusterBusy: 'ClusterBusy',
  // Kubernetes API (configuration of Helm-deployed clusters).
  KubernetesApiError: 'KubernetesApiError',
  KubernetesObjectNotFound: 'KubernetesObjectNotFound',
  // Read back from backup storage and refused (issue 10): a message segment
  // whose bytes break the format, and a configuration file whose path the
  // target node does not report for that kind.
  SegmentMalformed: 'SegmentMalformed',
  ConfigurationPathRefused: 'ConfigurationPathRefused',
  // Definitions a target of another RabbitMQ version would refuse (issue 15),
  // and a target whose /api/health/checks/* fail (alarms, vhosts, listeners).
  DefinitionsIncompatible: 'DefinitionsIncompatible',
  TargetUnhealthy: 'TargetUnhealthy',
  // An encrypted artifact sealed with a key this worker does not hold: the
  // operator adds it to encryption.previousKeys, retrying cannot help.
  EncryptionKeyMissing: 'EncryptionKeyMissing',
  // CSI VolumeSnapshots (the guide's Option A): the snapshot controller
  // reported an error, or a snapshot was not ready by its deadline.
  VolumeSnapshotFailed: 'VolumeSnapshotFailed',
  VolumeSnapshotTimeout: 'VolumeSnapshotTimeout',
  // A snapshot restore (the guide's Recovery 4) that cannot go ahead, and a
  // StatefulSet whose pods or claims did not get where it waited for by its deadline.
  VolumeSnapshotRestoreRefused: 'VolumeSnapshotRestoreRefused',
  StatefulSetNotReady: 'StatefulSetNotReady',
} as const;

export type FailureType = (typeof FailureType)[keyof typeof FailureType];

// Failures that no retry can fix: the activity retry policy lists them so an
// activity that forgot to mark one non-retryable still stops at once.
export const nonRetryableFailureTypes: FailureType[] = [
  FailureType.InvalidInput,
  FailureType.UnknownCluster,
  FailureType.UnknownStorage,
  FailureType.SecretUnresolved,
  FailureType.AuthenticationFailed,
  FailureType.InvalidDefinitions,
  FailureType.BackupSetNotFound,
  FailureType.ManifestInvalid,
  FailureType.ManifestChecksumMismatch,
  FailureType.EncryptionKeyMissing,
  FailureType.DefinitionsConflict,
  FailureType.ImportRejected,
  FailureType.RestoreVerificationFailed,
  FailureType.QueueNotFound,
  FailureType.CopyWouldDeadLetter,
  FailureType.PublishRejected,
  FailureType.SegmentCorrupt,
  FailureType.BackupValidationFailed,
  FailureType.DrillFailed,
  FailureType.UnknownNode,
  FailureType.UnsafeArchive,
  FailureType.DataDirectoryRestoreRefused,
  FailureType.DowntimeLimitReached,
  FailureType.KubernetesObjectNotFound,
  FailureType.SegmentMalformed,
  FailureType.ConfigurationPathRefused,
  FailureType.DefinitionsIncompatible,
  FailureType.TargetUnhealthy,
  FailureType.VolumeSnapshotFailed,
  FailureType.VolumeSnapshotTimeout,
  FailureType.VolumeSnapshotRestoreRefused,
  FailureType.StatefulSetNotReady,
];

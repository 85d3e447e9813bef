// Every workflow by its type name: the input it takes and the result it
// returns. Starts from the CLI, the schedules and scripts are typed by this
// table (lib/temporal/startWorkflow.ts), and workflows/contractCheck.ts holds
// each workflow function to its entry: a renamed field fails the type-check.
import { BackupSetsWorkflow, type BackupSetsContracts } from './backupSets';
import { ConfigurationWorkflow, type ConfigurationContracts } from './configuration';
import { DataDirectoryWorkflow, type DataDirectoryContracts } from './dataDirectory';
import { DefinitionsWorkflow, type DefinitionsContracts } from './definitions';
import { DrillsWorkflow, type DrillsContracts } from './drills';
import { MessagesWorkflow, type MessagesContracts } from './messages';
import { OffsiteWorkflow, type OffsiteContracts } from './offsite';
import { ReplicationWorkflow, type ReplicationContracts } from './replication';
import { RetentionWorkflow, type RetentionContracts } from './retention';
import { SchedulesWorkflow, type SchedulesContracts } from './schedules';
import { ValidationWorkflow, type ValidationContracts } from './validation';
import { VolumeSnapshotWorkflow, type VolumeSnapshotContracts } from './volumeSnapshot';
import { VolumeSnapshotRestoreWorkflow, type VolumeSnapshotRestoreContracts } from './volumeSnapshotRestore';

export type WorkflowContracts = DefinitionsContracts &
  BackupSetsContracts &
  MessagesContracts &
  DataDirectoryContracts &
  ConfigurationContracts &
  OffsiteContracts &
  RetentionContracts &
  ValidationContracts &
  DrillsContracts &
  SchedulesContracts &
  ReplicationContracts &
  VolumeSnapshotContracts &
  VolumeSnapshotRestoreContracts;

export type WorkflowName = keyof WorkflowContracts;
export type WorkflowInput<N extends WorkflowName> = WorkflowContracts[N]['input'];
export type WorkflowResult<N extends WorkflowName> = WorkflowContracts[N]['result'];

// One start: a workflow's type name with the input its contract takes, checked together.
export type WorkflowStart = { [N in WorkflowName]: { workflowType: N; input: WorkflowInput<N> } }[WorkflowName];

// Every workflow type name, at run time (the worker registers exactly these).
export const WORKFLOW_NAMES = [
  ...Object.values(DefinitionsWorkflow),
  ...Object.values(BackupSetsWorkflow),
  ...Object.values(MessagesWorkflow),
  ...Object.values(DataDirectoryWorkflow),
  ...Object.values(ConfigurationWorkflow),
  ...Object.values(OffsiteWorkflow),
  ...Object.values(RetentionWorkflow),
  ...Object.values(ValidationWorkflow),
  ...Object.values(DrillsWorkflow),
  ...Object.values(SchedulesWorkflow),
  ...Object.values(ReplicationWorkflow),
  ...Object.values(VolumeSnapshotWorkflow),
  ...Object.values(VolumeSnapshotRestoreWorkflow),
];

// Compile time: the list above and the table name the same workflows.
type Same<A, B> = [A] extends [B] ? ([B] extends [A] ? true : false) : false;
type Holds<T extends true> = T;
export type NamesMatchTable = Holds<Same<(typeof WORKFLOW_NAMES)[number], WorkflowName>>;

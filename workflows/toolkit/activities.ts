import { proxyActivities, type ActivityInterfaceFor, type ActivityOptions, type RetryPolicy } from '@temporalio/workflow';
import type {
  BackupSetActivities,
  ConfigurationActivities,
  DataDirectoryActivities,
  DefinitionsActivities,
  DrillActivities,
  MessagesActivities,
  OffsiteActivities,
  ReplicationActivities,
  RetentionActivities,
  ValidationActivities,
  VolumeSnapshotActivities,
  VolumeSnapshotRestoreActivities,
} from '../../activities';
import { FailureType, nonRetryableFailureTypes } from '../../common/failures';
import type { RetryInput } from '../../contracts/retry';
import type { SagaTiming } from './saga';

// What each kind of workflow may call: its component's activities, and the
// backup-set ones (verify a set, write its manifest) where it reads or writes sets.
interface ActivitiesByComponent {
  backupSets: BackupSetActivities;
  definitions: BackupSetActivities & DefinitionsActivities;
  messages: BackupSetActivities & MessagesActivities;
  dataDirectory: BackupSetActivities & DataDirectoryActivities;
  // A configuration restore finds the nodes and starts them again as the data-directory workflows do.
  configuration: BackupSetActivities & ConfigurationActivities & Pick<DataDirectoryActivities, 'planDataDirectoryNodes' | 'startNodeApp'>;
  offsite: OffsiteActivities;
  retention: RetentionActivities;
  validation: ValidationActivities;
  drills: BackupSetActivities & DrillActivities;
  replication: ReplicationActivities;
  // A snapshot backup finds and stops the nodes as the data-directory backup does.
  volumeSnapshot: BackupSetActivities & VolumeSnapshotActivities & Pick<DataDirectoryActivities, 'planDataDirectoryNodes'>;
  volumeSnapshotRestore: BackupSetActivities & VolumeSnapshotRestoreActivities;
}
type Component = keyof ActivitiesByComponent;
export type ActivitiesFor<C extends Component> = ActivityInterfaceFor<ActivitiesByComponent[C]>;

// The one mapping from a workflow's retry input to Temporal's retry policy.
function retryPolicy(retry: RetryInput): RetryPolicy {
  return {
    initialInterval: retry.initialIntervalSeconds * 1000,
    maximumInterval: retry.maximumIntervalSeconds * 1000,
    backoffCoefficient: 2,
    maximumAttempts: retry.maximumAttempts,
    nonRetryableErrorTypes: nonRetryableFailureTypes,
  };
}

function attempts(retry: RetryInput, heartbeatTimeoutSeconds?: number): ActivityOptions {
  return {
    startToCloseTimeout: retry.attemptTimeoutSeconds * 1000,
    ...(heartbeatTimeoutSeconds ? { heartbeatTimeout: heartbeatTimeoutSeconds * 1000 } : {}),
    retry: retryPolicy(retry),
  };
}

// Steps on the workflow's own task queue, each attempt bounded and retried as the input says.
// The component only narrows the type: which activities this workflow may call.
export function activitiesWithRetry<C extends Component>(_component: C, retry: RetryInput): ActivitiesFor<C> {
  return proxyActivities<ActivitiesByComponent[C]>(attempts(retry));
}

// Long steps that heartbeat their checkpoint: a silent one is retried from it
// instead of waiting out the attempt timeout.
export function heartbeatingActivities<C extends Component>(_component: C, retry: RetryInput, heartbeatTimeoutSeconds: number): ActivitiesFor<C> {
  return proxyActivities<ActivitiesByComponent[C]>(attempts(retry, heartbeatTimeoutSeconds));
}

// Steps bound to one node's task queue: only a worker on that node's host serves it.
export function nodeActivities<C extends 'dataDirectory' | 'configuration'>(_component: C, taskQueue: string, timing: SagaTiming) {
  // Every 1 to 10 s, for as long as the scheduleToCloseTimeout allows.
  const often = (nonRetryableErrorTypes: string[]): RetryPolicy => ({ initialInterval: 1000, maximumInterval: 10_000, backoffCoefficient: 2, nonRetryableErrorTypes });
  return {
    quick: proxyActivities<ActivitiesByComponent[C]>({ taskQueue, ...attempts(timing.retry) }),
    streaming: proxyActivities<ActivitiesByComponent[C]>({ taskQueue, ...attempts(timing.retry, timing.heartbeatTimeoutSeconds) }),
    // Compensation that must not hang on a node queue nobody serves: removing a staging copy.
    cleanup: proxyActivities<ActivitiesByComponent[C]>({
      taskQueue,
      scheduleToCloseTimeout: timing.nodeStartTimeoutSeconds * 1000,
      startToCloseTimeout: Math.min(timing.retry.attemptTimeoutSeconds, 300) * 1000,
      heartbeatTimeout: timing.heartbeatTimeoutSeconds * 1000,
      retry: often(nonRetryableFailureTypes),
    }),
    // start_app is retried until the node is back, for as long as nodeStartTimeoutSeconds allows.
    // These steps heartbeat while they wait: a worker that dies meanwhile is
    // noticed at the heartbeat timeout, not at the attempt timeout (which could
    // use up the whole deadline and leave the node stopped).
    restart: proxyActivities<ActivitiesByComponent[C]>({
      taskQueue,
      scheduleToCloseTimeout: timing.nodeStartTimeoutSeconds * 1000,
      startToCloseTimeout: Math.min(timing.nodeStartTimeoutSeconds, 300) * 1000,
      heartbeatTimeout: timing.heartbeatTimeoutSeconds * 1000,
      retry: often([FailureType.UnknownNode]),
    }),
  };
}

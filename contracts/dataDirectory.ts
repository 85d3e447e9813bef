import { z } from 'zod';
import type { DeltaResult } from '../lib/dataDirectory/stagedCopy';
import { DataDirectoryMethod } from '../common/dataDirectoryMethod';
import { NodeName, ResourceName, SetRef } from '../common/names';
import { retryField as retry } from './retry';

// Workflow type names: recorded in every history and schedule, never renamed.
// The lock is a child of each operation that stops a cluster's nodes.
export const DataDirectoryWorkflow = { backup: 'backupDataDirectory', restore: 'restoreDataDirectory', lock: 'dataDirectoryLock' } as const;

export const DataDirectoryCopy = z.enum(['pre-copy', 'while-stopped']);
export type DataDirectoryCopy = z.infer<typeof DataDirectoryCopy>;

// How long a node may stay stopped, and how its restart is awaited.
export const downtime = {
  // Past this the copy is abandoned and the node restarted (the backup fails with DowntimeLimitReached).
  downtimeLimitSeconds: z.number().positive().max(86400).default(600),
  // How long start_app is retried until the node runs and accepts AMQP connections again.
  nodeStartTimeoutSeconds: z.number().positive().max(86400).default(600),
  // A streaming step that stops heartbeating for this long is retried (its worker died).
  heartbeatTimeoutSeconds: z.number().positive().max(3600).default(30),
};

export const BackupDataDirectoryInput = z
  .object({
    cluster: ResourceName,
    storage: ResourceName.optional(),
    method: DataDirectoryMethod.default('archive'),
    // Subset of the cluster's configured nodes, in the order given (default: all, in config order).
    nodes: z.array(NodeName).min(1).optional(),
    // one-at-a-time keeps the cluster serving; all-together stops every node for one consistent set.
    mode: z.enum(['one-at-a-time', 'all-together']).default('one-at-a-time'),
    // pre-copy: copy into a staging directory while RabbitMQ runs, then only what
    // changed while the app is stopped; the upload reads the staging copy after
    // the restart. while-stopped: the whole copy and upload while stopped.
    // pre-copy falls back to while-stopped when staging has too little space.
    copy: DataDirectoryCopy.default('pre-copy'),
    ...downtime,
    retry,
  })
  .strict();
export type BackupDataDirectoryInput = z.input<typeof BackupDataDirectoryInput>;

// When a node was stopped and when it ran again.
export interface StopWindow {
  stoppedAt: string;
  runningAt: string;
  seconds: number;
}

// How a node's data directory was copied, with the figures of the two phases.
export interface CopyFigures {
  copy: DataDirectoryCopy;
  // Why pre-copy was not used (e.g. "staging needs 1.2 GiB, 800.0 MiB free at /var/lib/rabbitmq").
  copyNote?: string;
  // Phase 1, RabbitMQ running.
  preCopy?: { files: number; bytes: number; seconds: number; changedWhileCopied: number };
  // Phase 2, inside the stop window.
  delta?: DeltaResult;
}

export interface BackupDataDirectoryResult {
  cluster: string;
  setId: string;
  method: 'archive' | 'restic';
  mode: 'one-at-a-time' | 'all-together';
  location: string;
  nodes: Array<{ node: string; artifact: string; bytes: number; tarBytes: number; stopWindow: StopWindow; resticSnapshotId?: string } & CopyFigures>;
  // e.g. a staging copy that could not be removed (the set itself is complete).
  warnings?: string[];
  startedAt: string;
  finishedAt: string;
}

export const RestoreDataDirectoryInput = z
  .object({
    cluster: ResourceName,
    from: SetRef,
    sourceCluster: ResourceName.optional(),
    storage: ResourceName.optional(),
    // Optional: the set's manifest says how it was taken; when given it must match.
    method: DataDirectoryMethod.optional(),
    nodes: z.array(NodeName).min(1).optional(),
    ...downtime,
    retry,
  })
  .strict();
export type RestoreDataDirectoryInput = z.input<typeof RestoreDataDirectoryInput>;

export interface RestoreDataDirectoryResult {
  cluster: string;
  sourceCluster: string;
  setId: string;
  nodes: Array<{ node: string; queues: number; messages: number; stopWindow: StopWindow }>;
  // Members of one cluster restored together: started all at once, quorum queues checked.
  wholeCluster?: { startedTogether: string[]; quorumQueues: number; replicasOnline: number };
}

// Started only by the workflows that hold the lock, never parsed: a plain type.
export interface DataDirectoryLockInput {
  cluster: string;
  // The workflow holding the lock (also its parent in the Temporal UI).
  holder: { workflowType: string; workflowId: string; runId: string };
}

export interface DataDirectoryContracts {
  [DataDirectoryWorkflow.backup]: { input: BackupDataDirectoryInput; result: BackupDataDirectoryResult };
  [DataDirectoryWorkflow.restore]: { input: RestoreDataDirectoryInput; result: RestoreDataDirectoryResult };
  // Ends when released (signal "release") or with its holder.
  [DataDirectoryWorkflow.lock]: { input: DataDirectoryLockInput; result: void };
}

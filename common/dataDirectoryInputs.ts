import { z } from 'zod';
import { NodeName, ResourceName, SetRef } from './names';
import { RetryInput } from './workflowInputs';

const retry = RetryInput.default(RetryInput.parse({}));

// archive: one compressed tar per node in the backup set. restic: an
// incremental, deduplicated, encrypted snapshot in the storage target's restic repository.
export const DataDirectoryMethod = z.enum(['archive', 'restic']);
export type DataDirectoryMethod = z.infer<typeof DataDirectoryMethod>;

export const DataDirectoryCopy = z.enum(['pre-copy', 'while-stopped']);
export type DataDirectoryCopy = z.infer<typeof DataDirectoryCopy>;

// How long a node may stay stopped, and how its restart is awaited.
const downtime = {
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

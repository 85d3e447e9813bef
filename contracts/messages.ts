import { z } from 'zod';
import type { QueueBackup } from '../lib/messages/queueIndex';
import type { QueueRestore } from '../activities/messages/messagesRestore';
import { ResourceName, SetRef } from '../common/names';
import { retryField as retry } from './retry';

// Workflow type names: recorded in every history and schedule, never renamed.
export const MessagesWorkflow = { backup: 'backupMessages', restore: 'restoreMessages' } as const;

// A step that stops heartbeating this long is presumed dead and retried from its checkpoint.
const heartbeatTimeoutSeconds = z.number().positive().max(3600).default(30);

// A queue selector: an exact name, or a pattern with * and ? wildcards.
const QueueSelector = z.string().min(1).max(255);

export const BackupMessagesInput = z
  .object({
    cluster: ResourceName,
    storage: ResourceName.optional(),
    // Empty or absent: every vhost.
    vhosts: z.array(z.string().min(1)).default([]),
    // Empty or absent: every queue of the chosen vhosts. Exact names must exist.
    queues: z.array(QueueSelector).default([]),
    // copy: read without acking and give every message back (non-destructive).
    // drain: move the messages out; each is acked only once its segment is stored.
    mode: z.enum(['copy', 'drain']).default('copy'),
    // Uncompressed size at which a segment is closed and stored.
    segmentMiB: z.number().positive().max(1024).default(32),
    // In copy mode, how long to wait for a message the queue said it had before reporting it missing.
    idleSeconds: z.number().positive().max(3600).default(5),
    heartbeatTimeoutSeconds,
    retry,
  })
  .strict();
export type BackupMessagesInput = z.input<typeof BackupMessagesInput>;

export interface QueueReconciliation {
  vhost: string;
  queue: string;
  mode: QueueBackup['mode'];
  depthAtStart: number;
  captured: number;
  bytes: number;
  segments: number;
  difference: number;
  endedBy: QueueBackup['endedBy'];
  note?: string;
}

export interface BackupMessagesResult {
  cluster: string;
  setId: string;
  storage: string;
  location: string;
  mode: 'copy' | 'drain';
  rabbitmqVersion: string | null;
  totals: { queues: number; messages: number; bytes: number; depthAtStart: number; difference: number };
  // Captured vs queue depth at the start, per queue: differences are reported, not hidden.
  queues: QueueReconciliation[];
}

export const RestoreMessagesInput = z
  .object({
    cluster: ResourceName,
    from: SetRef,
    sourceCluster: ResourceName.optional(),
    storage: ResourceName.optional(),
    // Restrict to these backed-up queues (exact names); absent: all in the set.
    queues: z.array(z.string().min(1)).default([]),
    // Publish into this queue / vhost instead of the original (toQueue needs exactly one source queue).
    toQueue: z.string().min(1).max(255).optional(),
    toVhost: z.string().min(1).optional(),
    // default-exchange: straight into the target queue. original-exchange: through the
    // exchange and routing key each message was published with (bindings decide).
    route: z.enum(['default-exchange', 'original-exchange']).default('default-exchange'),
    // Publishes awaiting a confirm at once.
    confirmWindow: z.number().int().min(1).max(100_000).default(2000),
    heartbeatTimeoutSeconds,
    retry,
  })
  .strict();
export type RestoreMessagesInput = z.input<typeof RestoreMessagesInput>;

export interface RestoreMessagesResult {
  cluster: string;
  sourceCluster: string;
  setId: string;
  location: string;
  totals: { queues: number; messages: number; published: number; confirmed: number };
  queues: QueueRestore[];
}

export interface MessagesContracts {
  [MessagesWorkflow.backup]: { input: BackupMessagesInput; result: BackupMessagesResult };
  [MessagesWorkflow.restore]: { input: RestoreMessagesInput; result: RestoreMessagesResult };
}

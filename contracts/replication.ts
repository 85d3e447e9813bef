import { z } from 'zod';
import type { ReplicationStatusReport } from '../lib/replication/replicationStatus';
import { ResourceName } from '../common/names';
import { retryField as retry } from './retry';

// Workflow type names: recorded in every history, never renamed.
export const ReplicationWorkflow = { setup: 'setupReplication', stop: 'stopReplication', status: 'replicationStatus', failover: 'failover' } as const;

const Names = z.array(z.string().min(1).max(255)).max(1000);
const Pair = { source: ResourceName, destination: ResourceName };
const differ = (i: { source: string; destination: string }) => i.source !== i.destination;
const distinct = { message: 'must differ from source', path: ['destination'] };

export const SetupReplicationInput = z
  .object({
    ...Pair,
    // shovel: one dynamic shovel per queue on the source (Option B). federation:
    // an upstream and an exchange policy on the destination (Option D).
    method: z.enum(['shovel', 'federation']).default('shovel'),
    vhosts: Names.min(1).default(['/']),
    // shovel: queue names or patterns (* ?), default every queue of the vhosts.
    queues: Names.default([]),
    // federation: exchange names or patterns, default every exchange but the default and amq.* ones.
    exchanges: Names.default([]),
    retry,
  })
  .strict()
  .refine(differ, distinct);
export type SetupReplicationInput = z.input<typeof SetupReplicationInput>;

export interface SetupReplicationResult {
  source: string;
  destination: string;
  method: 'shovel' | 'federation';
  // Names of the broker objects, never their values (those carry credentials).
  created: string[];
  updated: string[];
  unchanged: string[];
  // Queues and exchanges the destination lacked, declared from the source's definitions first.
  declaredOnDestination: string[];
}

export const StopReplicationInput = z.object({ ...Pair, retry }).strict().refine(differ, distinct);
export type StopReplicationInput = z.input<typeof StopReplicationInput>;
export interface StopReplicationResult {
  source: string;
  destination: string;
  removed: string[];
}

export const ReplicationStatusInput = z
  .object({
    ...Pair,
    // Store the report for the metrics and `status` (the scheduled check does).
    record: z.boolean().default(false),
    retry,
  })
  .strict()
  .refine(differ, distinct);
export type ReplicationStatusInput = z.input<typeof ReplicationStatusInput>;

// The DR switch: wait for what is in flight (lag 0, or drainTimeoutSeconds),
// stop replication, report what the destination holds.
export const FailoverInput = z
  .object({
    ...Pair,
    drainTimeoutSeconds: z.number().int().min(0).max(86400).default(300),
    pollSeconds: z.number().positive().max(60).default(2),
    retry,
  })
  .strict()
  .refine(differ, distinct);
export type FailoverInput = z.input<typeof FailoverInput>;

export interface FailoverResult {
  source: string;
  destination: string;
  // Every link's lag reached 0 before replication was stopped.
  drained: boolean;
  waitedSeconds: number;
  // Messages still on the source when replication stopped (null: the source did not answer).
  lagAtStop: number | null;
  removed: string[];
  // Objects left in place because their cluster did not answer (remove them with `replicate stop` once it is back).
  notRemoved: string[];
  destinationQueues: Array<{ vhost: string; queue: string; messages: number | null }>;
  // The destination did not answer when its queues were read (messages are null then).
  destinationUnreachable?: string;
}

export interface ReplicationContracts {
  [ReplicationWorkflow.failover]: { input: FailoverInput; result: FailoverResult };
  [ReplicationWorkflow.setup]: { input: SetupReplicationInput; result: SetupReplicationResult };
  [ReplicationWorkflow.stop]: { input: StopReplicationInput; result: StopReplicationResult };
  [ReplicationWorkflow.status]: { input: ReplicationStatusInput; result: ReplicationStatusReport };
}

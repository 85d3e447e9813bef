import { z } from 'zod';
import { NodeName } from '../common/names';

// How a worker reaches a RabbitMQ node's host. Only `local` exists today (the
// worker runs on the node's host); a Kubernetes exec access can join the union.
const LocalNodeAccess = z
  .object({
    type: z.literal('local'),
    // Served only by a worker on this node's host (`rabbitvault worker --node-queue NAME`).
    taskQueue: z.string().min(1),
    rabbitmqctl: z.string().min(1).default('/usr/lib/rabbitmq/bin/rabbitmqctl'),
    // rabbitmq-server, used only if the Erlang VM is down and must be started.
    rabbitmqServer: z.string().min(1).default('/usr/lib/rabbitmq/bin/rabbitmq-server'),
    // Environment the node's CLI tools need (HOME for the Erlang cookie, RABBITMQ_* of a non-default node).
    env: z.record(z.string(), z.string()).default({}),
    // user[:group] that owns a restored data directory; default: the owner of the directory it replaces.
    owner: z.string().min(1).optional(),
    // Where backups stage a copy of the data directory while RabbitMQ runs (pre-copy);
    // default: a sibling of the node's data directory, <data-dir>.rabbitvault-staging.
    stagingDirectory: z.string().startsWith('/', 'must be an absolute path').optional(),
  })
  .strict();

export const NodeAccess = z.discriminatedUnion('type', [LocalNodeAccess]);
export type NodeAccess = z.infer<typeof NodeAccess>;

export const NodeConfig = z
  .object({
    // Erlang node name, e.g. rabbit@host1 (as `rabbitmqctl status` reports it).
    name: NodeName,
    access: NodeAccess,
  })
  .strict();
export type NodeConfig = z.infer<typeof NodeConfig>;

import { z } from 'zod';
import { NodeName } from '../common/names';
import { ObjectName } from './kubernetesSchema';

// How a worker reaches a RabbitMQ node's host: `local` (a worker runs on the
// node's host) or `kubernetes` (any worker, through the API server's pod exec).
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

// The node runs in a pod: commands go through the API server's exec
// (`kubectl exec` without kubectl), so the steps run on the main task queue.
const KubernetesNodeAccess = z
  .object({
    type: z.literal('kubernetes'),
    // The pod by name, or as the StatefulSet's pod <statefulSet>-<ordinal>.
    pod: ObjectName.optional(),
    statefulSet: ObjectName.optional(),
    ordinal: z.number().int().min(0).optional(),
    // Default: clusters.C.kubernetes.namespace.
    namespace: ObjectName.optional(),
    container: z.string().min(1).default('rabbitmq'),
    // Default: clusters.C.kubernetes.kubeconfig / context ("in-cluster" for the worker pod's service account).
    kubeconfig: z.string().min(1).optional(),
    context: z.string().min(1).optional(),
    // The node's CLI tools inside the container (found on the container's PATH by default).
    rabbitmqctl: z.string().min(1).default('rabbitmqctl'),
    rabbitmqServer: z.string().min(1).default('rabbitmq-server'),
    // Extra environment for the CLI tools in the pod (run through `env`), e.g. RABBITMQ_NODENAME.
    env: z.record(z.string().regex(/^[A-Za-z_][A-Za-z0-9_]*$/, 'must be an environment variable name'), z.string()).default({}),
  })
  .strict()
  .refine((a) => (a.pod !== undefined) !== (a.statefulSet !== undefined && a.ordinal !== undefined), {
    message: 'name the pod: either pod, or statefulSet and ordinal',
  });
export type KubernetesNodeAccess = z.infer<typeof KubernetesNodeAccess>;

export const NodeAccess = z.discriminatedUnion('type', [LocalNodeAccess, KubernetesNodeAccess]);
export type NodeAccess = z.infer<typeof NodeAccess>;

export const NodeConfig = z
  .object({
    // Erlang node name, e.g. rabbit@host1 (as `rabbitmqctl status` reports it).
    name: NodeName,
    access: NodeAccess,
  })
  .strict();
export type NodeConfig = z.infer<typeof NodeConfig>;

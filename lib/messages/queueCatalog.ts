import { ApplicationFailure } from '@temporalio/common';
import { z } from 'zod';
import { FailureType } from '../../common/failures';
import type { ManagementApi } from '../rabbitmq/managementApi';

// The queue's own declaration, stored with its messages so a restore can recreate it.
export const QueueDeclaration = z.object({
  vhost: z.string(),
  name: z.string(),
  type: z.string(),
  durable: z.boolean(),
  autoDelete: z.boolean(),
  exclusive: z.boolean(),
  arguments: z.record(z.string(), z.unknown()),
  policy: z.string().nullable(),
  effectivePolicy: z.record(z.string(), z.unknown()),
});
export type QueueDeclaration = z.infer<typeof QueueDeclaration>;

interface ApiQueue {
  name: string;
  vhost: string;
  type?: string;
  durable: boolean;
  auto_delete: boolean;
  exclusive?: boolean;
  owner_pid_details?: unknown;
  arguments?: Record<string, unknown>;
  policy?: string | null;
  effective_policy_definition?: Record<string, unknown> | unknown[];
}

function toDeclaration(q: ApiQueue): QueueDeclaration {
  const effective = q.effective_policy_definition;
  return {
    vhost: q.vhost,
    name: q.name,
    type: q.type ?? String(q.arguments?.['x-queue-type'] ?? 'classic'),
    durable: q.durable,
    autoDelete: q.auto_delete,
    exclusive: q.exclusive === true || q.owner_pid_details !== undefined,
    arguments: q.arguments ?? {},
    policy: q.policy ?? null,
    effectivePolicy: effective && !Array.isArray(effective) ? effective : {},
  };
}

export function wildcard(pattern: string): RegExp {
  return new RegExp(`^${pattern.replace(/[.+^${}()|[\]\\]/g, '\\$&').replace(/\*/g, '.*').replace(/\?/g, '.')}$`, 's');
}

export const isPattern = (s: string) => /[*?]/.test(s);

// The queues a backup covers. An exact name that matches nothing is an error
// (a typo must not produce an empty "successful" backup).
export async function selectQueues(api: ManagementApi, vhosts: string[], selectors: string[]): Promise<QueueDeclaration[]> {
  // The durable records first: a queue deleted between the two reads can only
  // make the check below retry, never let a listed queue go unnoticed.
  const durable = (await api.getJson<{ queues?: Array<{ vhost: string; name: string }> }>('/api/definitions')).queues ?? [];
  const all = (await api.getJson<ApiQueue[]>('/api/queues?disable_stats=true&enable_queue_totals=true')).map(toDeclaration);
  const inVhosts = vhosts.length ? all.filter((q) => vhosts.includes(q.vhost)) : all;
  assertListingComplete(api.clusterName, inVhosts, vhosts.length ? durable.filter((q) => vhosts.includes(q.vhost)) : durable);
  for (const vhost of vhosts) {
    const known = await api.getJson<Array<{ name: string }>>('/api/vhosts');
    if (!known.some((v) => v.name === vhost)) throw notFound(`vhost "${vhost}" does not exist on cluster ${api.clusterName}`);
  }
  if (!selectors.length) return inVhosts;
  const chosen = new Map<string, QueueDeclaration>();
  for (const selector of selectors) {
    const re = wildcard(selector);
    const matched = inVhosts.filter((q) => (isPattern(selector) ? re.test(q.name) : q.name === selector));
    if (!matched.length && !isPattern(selector)) {
      throw notFound(`queue "${selector}" does not exist in ${vhosts.length ? `vhost ${vhosts.map((v) => `"${v}"`).join(', ')}` : 'any vhost'} of cluster ${api.clusterName}`);
    }
    for (const q of matched) chosen.set(`${q.vhost}\0${q.name}`, q);
  }
  if (!chosen.size) throw notFound(`no queue of cluster ${api.clusterName} matches ${selectors.join(', ')}`);
  return [...chosen.values()];
}

// For a moment after a cluster member dies, another node's /api/queues lists
// only what it can reach: measured on RabbitMQ 3.10, about 0.4 s without the
// dead node's classic queues and the quorum queues it led (one node even
// answered an empty list), while /api/definitions, read from the durable
// records, lists them all. Taken as the cluster's queues, such a listing would
// make "all queues" a backup that silently leaves queues out, or call an exact
// name missing. A listing that lacks a durable queue is retried instead.
function assertListingComplete(cluster: string, listed: QueueDeclaration[], durable: Array<{ vhost: string; name: string }>): void {
  const seen = new Set(listed.map((q) => `${q.vhost}\0${q.name}`));
  const missing = durable.filter((q) => !seen.has(`${q.vhost}\0${q.name}`));
  if (!missing.length) return;
  const named = missing.slice(0, 5).map((q) => `"${q.name}" (vhost "${q.vhost}")`).join(', ');
  throw ApplicationFailure.create({
    message: `the queue listing of cluster ${cluster} lacks ${missing.length} durable queue(s) its definitions hold (${named}${missing.length > 5 ? ', ...' : ''}): a node may have just gone down; the listing is read again`,
    type: FailureType.QueueListingIncomplete,
  });
}

function notFound(message: string): ApplicationFailure {
  return ApplicationFailure.create({ message, type: FailureType.QueueNotFound, nonRetryable: true });
}

// Each requeue of a quorum-queue message counts toward its delivery limit, and
// a message over the limit is dead-lettered or dropped: copy must refuse such a queue.
export function copyRefusal(q: QueueDeclaration, rabbitmqVersion: string | null): string | null {
  if (q.type !== 'quorum') return null;
  const explicit = q.arguments['x-delivery-limit'] ?? q.effectivePolicy['delivery-limit'];
  const major = Number((rabbitmqVersion ?? '0').split('.')[0]);
  const limit = explicit === undefined ? (major >= 4 ? 20 : null) : Number(explicit);
  if (limit === null || limit < 0) return null;
  return `quorum queue "${q.name}" in vhost "${q.vhost}" has a delivery limit of ${limit}${explicit === undefined ? ' (the RabbitMQ 4 default)' : ''}: a copy requeues every message, which counts toward that limit and could dead-letter it. Back it up with mode "drain" (and restore it), or lift the limit first`;
}

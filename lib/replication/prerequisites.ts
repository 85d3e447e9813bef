import { ApplicationFailure } from '@temporalio/common';
import { FailureType } from '../../common/failures';
import type { ManagementApi } from '../rabbitmq/managementApi';
import { isPattern, selectQueues, wildcard } from '../messages/queueCatalog';

// The plugins a method needs on the cluster that runs it (a shovel runs on
// the source, a federation link on the destination), and the management route
// each one's management part serves: that route answers as soon as the plugin
// is enabled (the node list's applications lag by a statistics interval), and
// the management part depends on the plugin itself.
export const METHOD_PLUGINS = {
  shovel: { plugins: ['rabbitmq_shovel', 'rabbitmq_shovel_management'], route: '/api/shovels' },
  federation: { plugins: ['rabbitmq_federation', 'rabbitmq_federation_management'], route: '/api/federation-links' },
} as const;

// One line: what is missing, where, and the command that enables it.
export async function requirePlugins(api: ManagementApi, need: (typeof METHOD_PLUGINS)[keyof typeof METHOD_PLUGINS]): Promise<void> {
  if ((await api.getJsonOrNull<unknown>(need.route)) !== null) return;
  throw ApplicationFailure.create({
    message: `plugin ${need.plugins.join(' and ')} is not enabled on cluster ${api.clusterName}: run \`rabbitmq-plugins enable ${need.plugins.join(' ')}\` on each of its nodes`,
    type: FailureType.InvalidInput,
    nonRetryable: true,
  });
}

export async function requireVhosts(api: ManagementApi, vhosts: string[]): Promise<void> {
  const known = new Set((await api.getJson<Array<{ name: string }>>('/api/vhosts')).map((v) => v.name));
  const missing = vhosts.filter((v) => !known.has(v));
  if (missing.length) {
    throw ApplicationFailure.create({
      message: `vhost ${missing.map((v) => `"${v}"`).join(', ')} does not exist on cluster ${api.clusterName}: create it (with permissions for the user replication connects as) first`,
      type: FailureType.InvalidInput,
      nonRetryable: true,
    });
  }
}

export interface Selected {
  vhost: string;
  name: string;
}

export async function selectShovelQueues(api: ManagementApi, vhosts: string[], selectors: string[]): Promise<Selected[]> {
  return (await selectQueues(api, vhosts, selectors)).filter((q) => !q.exclusive).map((q) => ({ vhost: q.vhost, name: q.name }));
}

// Exchanges a federation mirrors: the named ones, else every exchange but the default and amq.* ones.
export async function selectFederatedExchanges(api: ManagementApi, vhosts: string[], selectors: string[]): Promise<Selected[]> {
  const out: Selected[] = [];
  for (const vhost of vhosts) {
    const all = (await api.getJson<Array<{ name: string; internal?: boolean }>>(`/api/exchanges/${encodeURIComponent(vhost)}`)).filter((e) => e.name !== '' && !e.name.startsWith('amq.') && !e.internal);
    const chosen = selectors.length ? all.filter((e) => selectors.some((s) => (isPattern(s) ? wildcard(s).test(e.name) : e.name === s))) : all;
    for (const s of selectors.filter((x) => !isPattern(x))) {
      if (!all.some((e) => e.name === s)) {
        throw ApplicationFailure.create({ message: `exchange "${s}" does not exist in vhost "${vhost}" of cluster ${api.clusterName}`, type: FailureType.QueueNotFound, nonRetryable: true });
      }
    }
    out.push(...chosen.map((e) => ({ vhost, name: e.name })));
  }
  if (!out.length) throw ApplicationFailure.create({ message: `no exchange of cluster ${api.clusterName} to federate in ${vhosts.join(', ')}`, type: FailureType.QueueNotFound, nonRetryable: true });
  return out;
}

type Entity = Record<string, unknown>;
const key = (e: Entity) => `${String(e.vhost)}\u0000${String(e.name)}`;

// Declares on the destination the queues and exchanges it lacks (and, for
// federation, the bindings that route what arrives into them), from the
// source's own definitions, through the import RabbitMQ itself offers.
// Returns what was declared; what exists is left as it is.
export async function declareMissingTopology(source: ManagementApi, destination: ManagementApi, selected: { queues: Selected[]; exchanges: Selected[] }): Promise<string[]> {
  const defs = JSON.parse((await source.exportDefinitions()).toString('utf8')) as { queues?: Entity[]; exchanges?: Entity[]; bindings?: Entity[] };
  const live = JSON.parse((await destination.exportDefinitions()).toString('utf8')) as { queues?: Entity[]; exchanges?: Entity[]; bindings?: Entity[] };
  const want = new Set([...selected.queues, ...selected.exchanges].map((s) => `${s.vhost}\u0000${s.name}`));
  const exchangeKeys = new Set(selected.exchanges.map((s) => `${s.vhost}\u0000${s.name}`));
  const bindings = (defs.bindings ?? []).filter((b) => exchangeKeys.has(`${String(b.vhost)}\u0000${String(b.source)}`));
  for (const b of bindings) want.add(`${String(b.vhost)}\u0000${String(b.destination)}`);
  const haveQueues = new Set((live.queues ?? []).map(key));
  const haveExchanges = new Set((live.exchanges ?? []).map(key));
  const queues = (defs.queues ?? []).filter((q) => want.has(key(q)) && !haveQueues.has(key(q)));
  const exchanges = (defs.exchanges ?? []).filter((e) => want.has(key(e)) && !haveExchanges.has(key(e)));
  const liveBindings = new Set((live.bindings ?? []).map((b) => JSON.stringify([b.vhost, b.source, b.destination, b.destination_type, b.routing_key])));
  const newBindings = bindings.filter((b) => !liveBindings.has(JSON.stringify([b.vhost, b.source, b.destination, b.destination_type, b.routing_key])));
  if (queues.length || exchanges.length || newBindings.length) {
    await destination.importDefinitions(Buffer.from(JSON.stringify({ queues, exchanges, bindings: newBindings })));
  }
  return [
    ...exchanges.map((e) => `exchange "${String(e.name)}" in vhost "${String(e.vhost)}"`),
    ...queues.map((q) => `queue "${String(q.name)}" in vhost "${String(q.vhost)}"`),
    ...newBindings.map((b) => `binding ${String(b.source)} -> ${String(b.destination)} (${String(b.routing_key)}) in vhost "${String(b.vhost)}"`),
  ];
}

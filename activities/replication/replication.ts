import type { ActivityDeps } from '../deps';
import { brokerUri } from '../../lib/replication/brokerUri';
import { declareMissingTopology, METHOD_PLUGINS, requirePlugins, requireVhosts, selectFederatedExchanges, selectShovelQueues, type Selected } from '../../lib/replication/prerequisites';
import {
  describeObject,
  federationPolicy,
  federationPolicyName,
  pairPrefix,
  shovelName,
  shovelValue,
  upstreamName,
  upstreamValue,
  type ReplicationMethod,
  type ReplicationObject,
} from '../../lib/replication/replicationObjects';
import { readReplicationStatus, type ReplicationStatusReport } from '../../lib/replication/replicationStatus';
import { QueueDepths } from '../../lib/replication/queueDepths';
import { withLastTransfer } from '../../lib/replication/transfers';
import { replicationReport } from '../../lib/reports/newestReports';
import { canonicalJson } from '../../lib/definitions/model';
import type { ManagementApi } from '../../lib/rabbitmq/managementApi';
import { FailureType } from '../../common/failures';
import { replicationStatusKey } from '../../common/backupSetLayout';

// A cluster that does not answer (management API or AMQP): reported, not failed on.
const UNREACHABLE: string[] = [FailureType.ManagementApiUnreachable, FailureType.AmqpUnavailable];

interface PairInput {
  source: string;
  destination: string;
}

export interface ReplicationTargets {
  queues: Selected[];
  exchanges: Selected[];
  declaredOnDestination: string[];
}

export interface AppliedReplication {
  created: string[];
  updated: string[];
  unchanged: string[];
}

const enc = encodeURIComponent;

export function createReplicationActivities(deps: ActivityDeps) {
  // One broker object, put only when absent or different: a second run changes nothing.
  async function converge(o: ReplicationObject, path: string, body: Record<string, unknown>, out: AppliedReplication): Promise<void> {
    const api = deps.managementApi(o.cluster);
    const existing = await api.getJsonOrNull<Record<string, unknown>>(path);
    const current = existing ? (o.kind === 'policy' ? { pattern: existing.pattern, definition: existing.definition, 'apply-to': existing['apply-to'], priority: existing.priority } : existing.value) : undefined;
    const wanted = o.kind === 'policy' ? body : body.value;
    if (current !== undefined && canonicalJson(current) === canonicalJson(wanted)) {
      out.unchanged.push(describeObject(o));
      return;
    }
    await api.putJson(path, body);
    (current === undefined ? out.created : out.updated).push(describeObject(o));
  }

  return {
    // Plugins where the method runs, vhosts on both sides, what to replicate,
    // and the destination's missing queues and exchanges declared from the source's definitions.
    async prepareReplication(input: PairInput & { method: ReplicationMethod; vhosts: string[]; queues: string[]; exchanges: string[] }): Promise<ReplicationTargets> {
      const source = deps.managementApi(input.source);
      const destination = deps.managementApi(input.destination);
      await requirePlugins(input.method === 'shovel' ? source : destination, METHOD_PLUGINS[input.method]);
      await requireVhosts(source, input.vhosts);
      await requireVhosts(destination, input.vhosts);
      const queues = input.method === 'shovel' ? await selectShovelQueues(source, input.vhosts, input.queues) : [];
      const exchanges = input.method === 'federation' ? await selectFederatedExchanges(source, input.vhosts, input.exchanges) : [];
      const declaredOnDestination = await declareMissingTopology(source, destination, { queues, exchanges });
      return { queues, exchanges, declaredOnDestination };
    },

    // The shovels (on the source) or the upstream and policy (on the
    // destination). The URIs carry credentials: built and compared here, sent
    // only to the broker; the result names objects, never their values.
    async configureReplication(input: PairInput & { method: ReplicationMethod; targets: Pick<ReplicationTargets, 'queues' | 'exchanges'> }): Promise<AppliedReplication> {
      const out: AppliedReplication = { created: [], updated: [], unchanged: [] };
      if (input.method === 'shovel') {
        for (const q of input.targets.queues) {
          const name = shovelName(input.source, input.destination, q.name);
          const value = shovelValue(brokerUri(deps.config, input.source, q.vhost), brokerUri(deps.config, input.destination, q.vhost), q.name);
          await converge({ kind: 'shovel', cluster: input.source, vhost: q.vhost, name }, `/api/parameters/shovel/${enc(q.vhost)}/${enc(name)}`, { value }, out);
        }
        return out;
      }
      const byVhost = new Map<string, string[]>();
      for (const e of input.targets.exchanges) byVhost.set(e.vhost, [...(byVhost.get(e.vhost) ?? []), e.name]);
      const upstream = upstreamName(input.source, input.destination);
      const policy = federationPolicyName(input.source, input.destination);
      for (const [vhost, exchanges] of byVhost) {
        const value = upstreamValue(brokerUri(deps.config, input.source, vhost));
        await converge({ kind: 'federation-upstream', cluster: input.destination, vhost, name: upstream }, `/api/parameters/federation-upstream/${enc(vhost)}/${enc(upstream)}`, { value }, out);
        await converge({ kind: 'policy', cluster: input.destination, vhost, name: policy }, `/api/policies/${enc(vhost)}/${enc(policy)}`, federationPolicy(upstream, exchanges.sort()), out);
      }
      return out;
    },

    // Removes exactly what configureReplication created for this pair (found by
    // name): shovels on the source, federation policy then upstream on the
    // destination. With tolerateUnreachable (a failover whose source is gone),
    // a cluster that does not answer is reported in notRemoved instead.
    async removeReplication(input: PairInput & { tolerateUnreachable?: boolean }): Promise<{ removed: string[]; notRemoved: string[] }> {
      const prefix = pairPrefix(input.source, input.destination);
      const removed: string[] = [];
      const notRemoved: string[] = [];
      const source = deps.managementApi(input.source);
      const destination = deps.managementApi(input.destination);
      const on = async (cluster: string, work: () => Promise<void>) => {
        try {
          await work();
        } catch (error) {
          if (!input.tolerateUnreachable || !UNREACHABLE.includes((error as { type?: string }).type ?? '')) throw error;
          notRemoved.push(`${cluster} did not answer, so whatever rabbitvault created there is left (${(error as Error).message})`);
        }
      };
      await on(input.source, async () => {
        for (const p of ((await source.getJsonOrNull<Array<{ name: string; vhost: string }>>('/api/parameters/shovel')) ?? []).filter((x) => x.name.startsWith(prefix))) {
        if (await source.deleteIfPresent(`/api/parameters/shovel/${enc(p.vhost)}/${enc(p.name)}`)) removed.push(describeObject({ kind: 'shovel', cluster: input.source, vhost: p.vhost, name: p.name }));
        }
      });
      await on(input.destination, async () => {
        for (const p of (await destination.getJson<Array<{ name: string; vhost: string }>>('/api/policies')).filter((x) => x.name.startsWith(prefix))) {
        if (await destination.deleteIfPresent(`/api/policies/${enc(p.vhost)}/${enc(p.name)}`)) removed.push(describeObject({ kind: 'policy', cluster: input.destination, vhost: p.vhost, name: p.name }));
      }
      for (const p of ((await destination.getJsonOrNull<Array<{ name: string; vhost: string }>>('/api/parameters/federation-upstream')) ?? []).filter((x) => x.name.startsWith(prefix))) {
        if (await destination.deleteIfPresent(`/api/parameters/federation-upstream/${enc(p.vhost)}/${enc(p.name)}`)) removed.push(describeObject({ kind: 'federation-upstream', cluster: input.destination, vhost: p.vhost, name: p.name }));
        }
      });
      return { removed, notRemoved };
    },

    // The scheduled check's report, where the metrics and `status` read it (default storage).
    async storeReplicationStatus(input: { report: ReplicationStatusReport }): Promise<{ location: string }> {
      const { backend } = deps.openStorage(undefined);
      const key = replicationStatusKey(input.report.source, input.report.destination);
      await backend.put(key, Buffer.from(`${JSON.stringify(input.report, null, 1)}\n`), { contentType: 'application/json' });
      return { location: backend.locate(key) };
    },

    async readReplicationStatus(input: PairInput): Promise<ReplicationStatusReport> {
      const depths = new QueueDepths(deps.config, input.source);
      try {
        const report = await readReplicationStatus(deps.managementApi(input.source), deps.managementApi(input.destination), input, (vhost, queue) => depths.of(vhost, queue));
        // The previous recorded check tells whether messages moved since; an unreadable one (forged, damaged) tells nothing.
        const previous = await replicationReport(deps.openStorage(undefined).backend, input.source, input.destination).catch(() => undefined);
        return withLastTransfer(report, previous);
      } finally {
        await depths.close();
      }
    },

    // What the destination holds after a failover: each shovelled queue, and
    // each queue bound to a federated exchange, with its depth. A destination
    // that does not answer is said so (messages null), not waited on.
    async destinationQueues(input: PairInput & { links: LinkRef[] }): Promise<{ queues: QueueDepth[]; unreachable?: string }> {
      try {
        const depths = new QueueDepths(deps.config, input.destination);
        try {
          return { queues: await readDestinationQueues(deps.managementApi(input.destination), input.links, depths) };
        } finally {
          await depths.close();
        }
      } catch (error) {
        if (!UNREACHABLE.includes((error as { type?: string }).type ?? '')) throw error;
        return { queues: input.links.flatMap((l) => (l.queue ? [{ vhost: l.vhost, queue: l.queue, messages: null }] : [])), unreachable: (error as Error).message };
      }
    },
  };
}

interface LinkRef {
  vhost: string;
  queue?: string;
  exchange?: string;
}
type QueueDepth = { vhost: string; queue: string; messages: number | null };

async function readDestinationQueues(api: ManagementApi, links: LinkRef[], depths: QueueDepths): Promise<QueueDepth[]> {
  const names = new Map<string, { vhost: string; queue: string }>();
  for (const l of links) {
    if (l.queue) names.set(`${l.vhost}\u0000${l.queue}`, { vhost: l.vhost, queue: l.queue });
    if (l.exchange) {
      const bound = (await api.getJsonOrNull<Array<{ destination: string; destination_type: string }>>(`/api/exchanges/${enc(l.vhost)}/${enc(l.exchange)}/bindings/source`)) ?? [];
      for (const b of bound.filter((x) => x.destination_type === 'queue')) names.set(`${l.vhost}\u0000${b.destination}`, { vhost: l.vhost, queue: b.destination });
    }
  }
  const out: QueueDepth[] = [];
  for (const q of names.values()) {
    out.push({ ...q, messages: await depths.of(q.vhost, q.queue) });
  }
  return out;
}

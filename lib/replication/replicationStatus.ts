import { FailureType } from '../../common/failures';
import type { ManagementApi } from '../rabbitmq/managementApi';
import { pairPrefix, upstreamName } from './replicationObjects';
import { consumedCount } from './transfers';

// A cluster that does not answer (management API or AMQP): reported, not failed on.
const UNREACHABLE: string[] = [FailureType.ManagementApiUnreachable, FailureType.AmqpUnavailable];

export interface ReplicationLink {
  kind: 'shovel' | 'federation';
  vhost: string;
  name: string;
  // The queue a shovel moves, or the exchange a federation link feeds.
  queue?: string;
  exchange?: string;
  // running | starting | terminated | error | missing (configured, but the broker reports no such link).
  state: string;
  reason?: string;
  // Messages waiting on the source: the shovelled queue's depth, or the federation link's upstream queue.
  lagMessages?: number;
  // Messages the link's source queue has handed to its consumers so far (lib/replication/transfers.ts).
  transferred?: number;
  // The newest recorded check at which transferred had moved: the last transfer happened before it.
  lastTransferAt?: string;
}

export interface ReplicationStatusReport {
  source: string;
  destination: string;
  checkedAt: string;
  links: ReplicationLink[];
  // Every link running.
  up: boolean;
  // A cluster whose management API did not answer: its links are unknown, and up is false.
  unreachable: string[];
}

interface ShovelParameter {
  name: string;
  vhost: string;
  value: { 'src-queue'?: string };
}
interface ShovelState {
  name: string;
  vhost: string;
  state: string;
  reason?: unknown;
}
interface FederationLinkState {
  upstream: string;
  vhost: string;
  exchange?: string;
  status: string;
  error?: unknown;
}

const reasonText = (r: unknown) => (r === undefined || r === null ? undefined : (typeof r === 'string' ? r : JSON.stringify(r)).slice(0, 300));

// Read-only: what the brokers say of rabbitvault's shovels and federation
// links between a pair of clusters (found by their names), and the lag.
// depthOnSource: an exact depth (lib/replication/queueDepths.ts); without it, the management API's figure.
export async function readReplicationStatus(
  source: ManagementApi,
  destination: ManagementApi,
  names: { source: string; destination: string },
  depthOnSource?: (vhost: string, queue: string) => Promise<number | null>,
): Promise<ReplicationStatusReport> {
  const prefix = pairPrefix(names.source, names.destination);
  const links: ReplicationLink[] = [];
  const unreachable: string[] = [];
  // A stopped cluster is exactly what status (and a failover) must report, not fail on.
  const tolerate = async (cluster: string, read: () => Promise<void>) => {
    try {
      await read();
    } catch (error) {
      if (!UNREACHABLE.includes((error as { type?: string }).type ?? '')) throw error;
      if (!unreachable.some((u) => u.startsWith(`${cluster}: `))) unreachable.push(`${cluster}: ${(error as Error).message}`);
    }
  };

  await tolerate(names.source, async () => {
    const shovels = ((await source.getJsonOrNull<ShovelParameter[]>('/api/parameters/shovel')) ?? []).filter((p) => p.name.startsWith(prefix));
    const shovelStates = shovels.length ? ((await source.getJsonOrNull<ShovelState[]>('/api/shovels')) ?? []) : [];
    for (const p of shovels) {
      const s = shovelStates.find((x) => x.name === p.name && x.vhost === p.vhost);
      const queue = p.value['src-queue'];
      const stats = queue ? await source.getJsonOrNull<{ messages?: number; message_stats?: { ack?: unknown; deliver_get?: unknown } }>(`/api/queues/${encodeURIComponent(p.vhost)}/${encodeURIComponent(queue)}`) : null;
      const depth = !queue ? null : depthOnSource ? await depthOnSource(p.vhost, queue) : (stats?.messages ?? null);
      const transferred = consumedCount(stats?.message_stats);
      links.push({ kind: 'shovel', vhost: p.vhost, name: p.name, queue, state: s?.state ?? 'missing', reason: reasonText(s?.reason), lagMessages: depth ?? undefined, ...(transferred !== undefined ? { transferred } : {}) });
    }
  });

  const upstream = upstreamName(names.source, names.destination);
  let upstreams: Array<{ name: string; vhost: string }> = [];
  await tolerate(names.destination, async () => {
    upstreams = ((await destination.getJsonOrNull<Array<{ name: string; vhost: string }>>('/api/parameters/federation-upstream')) ?? []).filter((u) => u.name === upstream);
  });
  if (upstreams.length) {
    const states = (await destination.getJsonOrNull<FederationLinkState[]>('/api/federation-links')) ?? [];
    // The upstream side of an exchange link is a queue on the source named "federation: <exchange> -> <node> ...".
    type SourceQueue = { name: string; vhost: string; messages?: number; message_stats?: { ack?: unknown; deliver_get?: unknown } };
    let sourceQueues: SourceQueue[] = [];
    await tolerate(names.source, async () => {
      sourceQueues = await source.getJson<SourceQueue[]>('/api/queues?columns=name,vhost,messages,message_stats');
    });
    for (const u of upstreams) {
      const mine = states.filter((l) => l.upstream === upstream && l.vhost === u.vhost);
      if (!mine.length) links.push({ kind: 'federation', vhost: u.vhost, name: upstream, state: 'missing', reason: 'no exchange matches the federation policy yet' });
      for (const l of mine) {
        const q = sourceQueues.find((x) => x.vhost === u.vhost && x.name.startsWith(`federation: ${l.exchange ?? ''} -> `));
        const lag = q && depthOnSource ? await depthOnSource(u.vhost, q.name) : q?.messages;
        const transferred = consumedCount(q?.message_stats);
        links.push({ kind: 'federation', vhost: u.vhost, name: upstream, exchange: l.exchange, state: l.status, reason: reasonText(l.error), lagMessages: lag ?? undefined, ...(transferred !== undefined ? { transferred } : {}) });
      }
    }
  }
  const up = unreachable.length === 0 && links.length > 0 && links.every((l) => l.state === 'running');
  return { source: names.source, destination: names.destination, checkedAt: new Date().toISOString(), links, up, unreachable };
}

// Synthetic definitions shaped like a busy production broker: many vhosts,
// typed exchanges, classic queues with and without arguments, policies.
export interface DefinitionsShape {
  vhosts: number;
  queues: number;
  bindings: number;
  exchangesPerVhost: number;
  policiesPerVhost: number;
}

export const BENCH_SHAPE: DefinitionsShape = { vhosts: 50, queues: 10_000, bindings: 10_000, exchangesPerVhost: 4, policiesPerVhost: 2 };

type Entity = Record<string, unknown>;

export interface GeneratedDefinitions {
  vhosts: Entity[];
  permissions: Entity[];
  policies: Entity[];
  exchanges: Entity[];
  queues: Entity[];
  bindings: Entity[];
}

const EXCHANGE_TYPES = ['direct', 'topic', 'fanout', 'headers'] as const;

export function vhostName(i: number): string {
  return `bench-${String(i).padStart(2, '0')}`;
}

function exchangesOf(vhost: string, count: number): Entity[] {
  return Array.from({ length: count }, (_, e) => ({
    name: `ex.${EXCHANGE_TYPES[e % EXCHANGE_TYPES.length]}.${e}`,
    vhost,
    type: EXCHANGE_TYPES[e % EXCHANGE_TYPES.length],
    durable: true,
    auto_delete: false,
    internal: false,
    arguments: {},
  }));
}

function queueArguments(i: number): Record<string, unknown> {
  if (i % 10 === 0) return { 'x-max-length': 10_000 };
  if (i % 10 === 1) return { 'x-message-ttl': 3_600_000 };
  return {};
}

function policiesOf(vhost: string, count: number): Entity[] {
  const kinds = [
    { pattern: '^orders\\.', definition: { 'message-ttl': 86_400_000 } },
    { pattern: '^audit\\.', definition: { 'max-length': 100_000, overflow: 'reject-publish' } },
  ];
  return Array.from({ length: count }, (_, p) => ({
    vhost,
    name: `bench-policy-${p}`,
    'apply-to': 'queues',
    priority: p,
    ...kinds[p % kinds.length]!,
  }));
}

// Queues and bindings are dealt round-robin over vhosts; binding i routes an
// exchange of its vhost to a queue of the same vhost with its own routing key.
export function generateDefinitions(shape: DefinitionsShape = BENCH_SHAPE): GeneratedDefinitions {
  const names = Array.from({ length: shape.vhosts }, (_, v) => vhostName(v));
  const queuePrefixes = ['orders', 'audit', 'events', 'jobs'];
  const queues = Array.from({ length: shape.queues }, (_, i) => ({
    name: `${queuePrefixes[i % queuePrefixes.length]}.q${String(i).padStart(5, '0')}`,
    vhost: names[i % shape.vhosts]!,
    durable: true,
    auto_delete: false,
    arguments: queueArguments(i),
  }));
  const bindings = Array.from({ length: shape.bindings }, (_, b) => {
    const queue = queues[b % queues.length]!;
    const exchange = `ex.${EXCHANGE_TYPES[b % 2]}.${b % 2}`;
    return { source: exchange, vhost: queue.vhost, destination: queue.name, destination_type: 'queue', routing_key: `rk.${b}`, arguments: {} };
  });
  return {
    vhosts: names.map((name) => ({ name })),
    permissions: names.map((vhost) => ({ user: 'guest', vhost, configure: '.*', write: '.*', read: '.*' })),
    policies: names.flatMap((v) => policiesOf(v, shape.policiesPerVhost)),
    exchanges: names.flatMap((v) => exchangesOf(v, shape.exchangesPerVhost)),
    queues,
    bindings,
  };
}

// The same definitions cut into parts by vhost, so a long import can report progress.
export function splitByVhost(defs: GeneratedDefinitions, parts: number): GeneratedDefinitions[] {
  const per = Math.ceil(defs.vhosts.length / parts);
  return Array.from({ length: Math.ceil(defs.vhosts.length / per) }, (_, p) => {
    const names = new Set(defs.vhosts.slice(p * per, (p + 1) * per).map((v) => v.name));
    const mine = (e: Entity) => names.has((e.vhost ?? e.name) as string);
    return {
      vhosts: defs.vhosts.filter(mine),
      permissions: defs.permissions.filter(mine),
      policies: defs.policies.filter(mine),
      exchanges: defs.exchanges.filter(mine),
      queues: defs.queues.filter(mine),
      bindings: defs.bindings.filter(mine),
    };
  });
}

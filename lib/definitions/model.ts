import { z } from 'zod';

// The entity kinds of a definitions file, how each is identified, and whether
// POST /api/definitions overwrites an existing one (true) or silently keeps
// the target's (false: a difference there is a conflict we must report).
export const ENTITY_KINDS = {
  vhosts: { one: 'vhost', key: ['name'], importOverwrites: true },
  users: { one: 'user', key: ['name'], importOverwrites: true },
  permissions: { one: 'permission', key: ['user', 'vhost'], importOverwrites: true },
  topic_permissions: { one: 'topic permission', key: ['user', 'vhost', 'exchange'], importOverwrites: true },
  parameters: { one: 'parameter', key: ['vhost', 'component', 'name'], importOverwrites: true },
  global_parameters: { one: 'global parameter', key: ['name'], importOverwrites: true },
  policies: { one: 'policy', key: ['vhost', 'name'], importOverwrites: true },
  exchanges: { one: 'exchange', key: ['vhost', 'name'], importOverwrites: false },
  queues: { one: 'queue', key: ['vhost', 'name'], importOverwrites: false },
  bindings: { one: 'binding', key: ['vhost', 'source', 'destination', 'destination_type', 'routing_key', 'arguments'], importOverwrites: false },
} as const;
export type EntityKind = keyof typeof ENTITY_KINDS;
export const entityKinds = Object.keys(ENTITY_KINDS) as EntityKind[];

// The guide's "required keys" check, plus: every present kind is a list of objects.
export const REQUIRED_KEYS = ['users', 'vhosts', 'permissions', 'queues', 'exchanges', 'bindings'] as const;

// 10,000 queues export to about 5 MiB: 256 MiB is far beyond any real cluster.
export const MAX_DEFINITIONS_BYTES = 256 * 1024 * 1024;

export type Entity = Record<string, unknown>;
export type Definitions = Partial<Record<EntityKind, Entity[]>> & Record<string, unknown>;

const EntityList = z.array(z.record(z.string(), z.unknown()));

export function parseDefinitions(bytes: Buffer, source: string, requireAllKeys: boolean): Definitions {
  let json: unknown;
  try {
    json = JSON.parse(bytes.toString('utf8'));
  } catch (error) {
    throw new InvalidDefinitions(`${source}: not valid JSON (${(error as Error).message})`);
  }
  if (typeof json !== 'object' || json === null || Array.isArray(json)) {
    throw new InvalidDefinitions(`${source}: top level must be a JSON object`);
  }
  const proto = protoKeyPath(json);
  if (proto !== undefined) {
    throw new InvalidDefinitions(`${source}: a "__proto__" key${proto ? ` in ${proto}` : ' at the top level'} is refused (JavaScript gives that key a special meaning; a RabbitMQ export has one only if an argument or parameter was named so)`);
  }
  const defs = json as Record<string, unknown>;
  const missing = requireAllKeys ? REQUIRED_KEYS.filter((k) => !(k in defs)) : [];
  if (missing.length > 0) throw new InvalidDefinitions(`${source}: missing required keys ${missing.join(', ')}`);
  for (const kind of entityKinds) {
    if (kind in defs && !EntityList.safeParse(defs[kind]).success) {
      throw new InvalidDefinitions(`${source}: "${kind}" must be a list of objects`);
    }
  }
  return defs as Definitions;
}

export class InvalidDefinitions extends Error {}

// Where the first own "__proto__" key of parsed JSON is ("" the top level,
// "queues.0.arguments"), undefined if none. Iterative: nesting depth is the file's choice.
function protoKeyPath(json: unknown): string | undefined {
  const stack: Array<[unknown, string]> = [[json, '']];
  while (stack.length > 0) {
    const [value, at] = stack.pop()!;
    if (value === null || typeof value !== 'object') continue;
    if (!Array.isArray(value) && Object.prototype.hasOwnProperty.call(value, '__proto__')) return at;
    for (const [key, inner] of Object.entries(value as Record<string, unknown>)) {
      if (inner !== null && typeof inner === 'object') stack.push([inner, at ? `${at}.${key}` : key]);
    }
  }
  return undefined;
}

export type DefinitionsCounts = Record<EntityKind, number>;

export function countDefinitions(defs: Definitions): DefinitionsCounts {
  return Object.fromEntries(entityKinds.map((k) => [k, defs[k]?.length ?? 0])) as DefinitionsCounts;
}

export function entityKey(kind: EntityKind, entity: Entity): string {
  return ENTITY_KINDS[kind].key.map((field) => canonicalJson(entity[field] ?? null)).join('|');
}

// Human-readable identity for reports, e.g. queue "orders" in vhost "/".
export function describeEntity(kind: EntityKind, entity: Entity): string {
  const parts = ENTITY_KINDS[kind].key
    .filter((f) => f !== 'arguments' || Object.keys((entity[f] as object) ?? {}).length > 0)
    .map((f) => `${f}=${typeof entity[f] === 'string' ? entity[f] : canonicalJson(entity[f] ?? null)}`);
  return `${ENTITY_KINDS[kind].one} ${parts.join(' ')}`;
}

export function canonicalJson(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map(canonicalJson).join(',')}]`;
  if (value && typeof value === 'object') {
    const entries = Object.entries(value as Record<string, unknown>).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
    return `{${entries.map(([k, v]) => `${JSON.stringify(k)}:${canonicalJson(v)}`).join(',')}}`;
  }
  return JSON.stringify(value);
}

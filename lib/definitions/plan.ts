import {
  canonicalJson,
  describeEntity,
  ENTITY_KINDS,
  entityKey,
  entityKinds,
  type Definitions,
  type Entity,
  type EntityKind,
} from './model';
import type { CompatibilityReport } from './compatibility';

export type Verdict = 'create' | 'identical' | 'update' | 'conflict';

export interface EntityDifference {
  entity: string;
  fields: string[];
}

// What a restore would do to the target. Lists are capped so a plan for
// 10,000 queues stays small enough for workflow history; counts are exact.
export interface RestorePlan {
  counts: Record<EntityKind, Record<Verdict, number>>;
  totals: Record<Verdict, number>;
  create: string[];
  update: EntityDifference[];
  conflicts: EntityDifference[];
  truncated: boolean;
  // Against the target's RabbitMQ version, after the transformations (absent in plans made before issue 15).
  compatibility?: CompatibilityReport;
}

export const LIST_CAP = { create: 50, update: 200, conflicts: 1000 };

export function planRestore(backup: Definitions, target: Definitions): RestorePlan {
  const plan: RestorePlan = {
    counts: Object.fromEntries(entityKinds.map((k) => [k, { create: 0, identical: 0, update: 0, conflict: 0 }])) as RestorePlan['counts'],
    totals: { create: 0, identical: 0, update: 0, conflict: 0 },
    create: [],
    update: [],
    conflicts: [],
    truncated: false,
  };
  for (const kind of entityKinds) {
    const live = new Map((target[kind] ?? []).map((e) => [entityKey(kind, e), e]));
    for (const entity of backup[kind] ?? []) {
      const existing = live.get(entityKey(kind, entity));
      const fields = existing ? differingFields(kind, entity, existing) : [];
      // RabbitMQ sets a vhost's default queue type only when it creates the vhost.
      const fixed = kind === 'vhosts' && fields.includes('metadata.default_queue_type');
      const verdict: Verdict = !existing ? 'create' : fields.length === 0 ? 'identical' : ENTITY_KINDS[kind].importOverwrites && !fixed ? 'update' : 'conflict';
      plan.counts[kind][verdict] += 1;
      plan.totals[verdict] += 1;
      record(plan, verdict, describeEntity(kind, entity), fields);
    }
  }
  return plan;
}

function record(plan: RestorePlan, verdict: Verdict, entity: string, fields: string[]): void {
  const list = verdict === 'create' ? plan.create : verdict === 'update' ? plan.update : verdict === 'conflict' ? plan.conflicts : null;
  if (!list) return;
  const cap = verdict === 'create' ? LIST_CAP.create : verdict === 'update' ? LIST_CAP.update : LIST_CAP.conflicts;
  if (list.length >= cap) {
    plan.truncated = true;
    return;
  }
  if (verdict === 'create') plan.create.push(entity);
  else (list as EntityDifference[]).push({ entity, fields });
}

// Fields of the backed-up entity whose value the target does not have.
// Fields only the target has (newer RabbitMQ versions add some) are not differences.
export function differingFields(kind: EntityKind, backup: Entity, target: Entity): string[] {
  const identity = new Set<string>(ENTITY_KINDS[kind].key);
  // Vhost metadata field by field: description and tags update, the default queue type does not.
  if (kind === 'vhosts' && backup.metadata && typeof backup.metadata === 'object') {
    const mine = backup.metadata as Record<string, unknown>;
    const theirs = (target.metadata && typeof target.metadata === 'object' ? target.metadata : {}) as Record<string, unknown>;
    const rest = differingFields(kind, { ...backup, metadata: undefined }, { ...target, metadata: undefined });
    const meta = Object.keys(mine).filter((f) => canonicalJson(normalizeMetadata(f, mine[f])) !== canonicalJson(normalizeMetadata(f, theirs[f])));
    return [...rest, ...meta.map((f) => `metadata.${f}`)].sort();
  }
  return Object.keys(backup)
    .filter((field) => !identity.has(field))
    .filter((field) => canonicalJson(normalize(kind, field, backup[field])) !== canonicalJson(normalize(kind, field, target[field])))
    .sort();
}

// RabbitMQ writes some fields in more than one shape across versions:
// user tags as "a,b" or ["a","b"], empty limits as {} or [] or absent.
function normalize(kind: EntityKind, field: string, value: unknown): unknown {
  if (kind === 'users' && field === 'tags') {
    const tags = typeof value === 'string' ? value.split(',') : Array.isArray(value) ? value : [];
    return tags.map((t) => String(t).trim()).filter(Boolean).sort();
  }
  if (kind === 'vhosts' && field === 'metadata' && value && typeof value === 'object') {
    const m = value as Record<string, unknown>;
    return { ...m, tags: Array.isArray(m.tags) ? [...m.tags].sort() : m.tags };
  }
  if (field === 'limits' && isEmpty(value)) return null;
  if (value === undefined) return null;
  return value;
}

function normalizeMetadata(field: string, value: unknown): unknown {
  if (field === 'tags') return Array.isArray(value) ? value.map(String).sort() : [];
  if (field === 'description') return typeof value === 'string' ? value : '';
  return value ?? null;
}

function isEmpty(value: unknown): boolean {
  return value === undefined || value === null || (typeof value === 'object' && Object.keys(value).length === 0);
}

export function summarizePlan(plan: RestorePlan): string {
  const t = plan.totals;
  return `${t.create} to create, ${t.identical} identical, ${t.update} to update, ${t.conflict} conflicting`;
}

import { SET_DEFAULT_QUEUE_TYPE, TRANSFORM_NAMES, type TransformName } from '../../common/definitionsTransformNames';
import { CLASSIC_MIRRORING_POLICY_KEYS, POLICY_KEYS } from './compatibilityRules';
import { describeEntity, type Definitions, type Entity, type EntityKind } from './model';

// Named transformations of what a restore imports (never of the stored
// artifact), after rabbitmqadmin v2's `definitions transform`. Each returns a
// new document and one line per entity it changed.


export interface DefinitionsChange {
  transform: TransformName;
  entity: string;
  change: string;
}

type Apply = (defs: Definitions, changed: (kind: EntityKind, entity: Entity, change: string) => void) => Definitions;

const record = (value: unknown): Record<string, unknown> => (value && typeof value === 'object' && !Array.isArray(value) ? (value as Record<string, unknown>) : {});

function withoutKeys(object: Record<string, unknown>, drop: (key: string, value: unknown) => boolean): { kept: Record<string, unknown>; dropped: string[] } {
  const kept: Record<string, unknown> = {};
  const dropped: string[] = [];
  for (const [k, v] of Object.entries(object)) {
    if (drop(k, v)) dropped.push(k);
    else kept[k] = v;
  }
  return { kept, dropped };
}

// Removes keys from each policy's definition and each queue's arguments.
function stripKeys(policyKey: (k: string, v: unknown) => boolean, queueArgument: (k: string, v: unknown) => boolean): Apply {
  return (defs, changed) => ({
    ...defs,
    policies: defs.policies?.map((p) => {
      const { kept, dropped } = withoutKeys(record(p.definition), policyKey);
      if (dropped.length === 0) return p;
      changed('policies', p, `removed ${dropped.join(', ')} from its definition`);
      return { ...p, definition: kept };
    }),
    queues: defs.queues?.map((q) => {
      const { kept, dropped } = withoutKeys(record(q.arguments), queueArgument);
      if (dropped.length === 0) return q;
      changed('queues', q, `removed argument ${dropped.join(', ')}`);
      return { ...q, arguments: kept };
    }),
  });
}

const TRANSFORMS: Record<(typeof TRANSFORM_NAMES)[number], Apply> = {
  'strip-classic-mirroring': stripKeys(
    (k) => CLASSIC_MIRRORING_POLICY_KEYS.includes(k),
    (k) => k.startsWith('x-ha-'),
  ),
  'drop-queue-mode': stripKeys(
    (k) => k === POLICY_KEYS.queueMode,
    (k) => k === 'x-queue-mode',
  ),
  'drop-queue-version-1': stripKeys(
    (k, v) => k === POLICY_KEYS.queueVersion && Number(v) === 1,
    (k, v) => k === 'x-queue-version' && Number(v) === 1,
  ),
  'drop-empty-policies': (defs, changed) => ({
    ...defs,
    policies: defs.policies?.filter((p) => {
      const empty = Object.keys(record(p.definition)).length === 0;
      if (empty) changed('policies', p, 'dropped: its definition is empty');
      return !empty;
    }),
  }),
  'make-queues-durable': (defs, changed) => ({
    ...defs,
    queues: defs.queues?.map((q) => {
      if (q.durable !== false) return q;
      changed('queues', q, 'made durable (was transient and non-exclusive)');
      return { ...q, durable: true };
    }),
  }),
};

// Sets a default queue type on vhosts that have none (and only on those: a
// vhost's own choice is kept).
function setDefaultQueueType(type: string): Apply {
  return (defs, changed) => ({
    ...defs,
    vhosts: defs.vhosts?.map((v) => {
      const metadata = record(v.metadata);
      if (typeof metadata.default_queue_type === 'string') return v;
      changed('vhosts', v, `default queue type set to ${type}`);
      return { ...v, metadata: { description: '', tags: [], ...metadata, default_queue_type: type } };
    }),
  });
}

// Applies the transformations in a fixed order (strip keys, then drop the
// policies that left empty), whatever order the operator named them in.
export function applyTransforms(defs: Definitions, names: readonly TransformName[]): { defs: Definitions; changes: DefinitionsChange[] } {
  const changes: DefinitionsChange[] = [];
  let out = defs;
  const order = [...TRANSFORM_NAMES.filter((n) => n !== 'drop-empty-policies'), 'drop-empty-policies', ...names.filter((n) => n.startsWith(SET_DEFAULT_QUEUE_TYPE))];
  for (const name of order) {
    if (!names.includes(name)) continue;
    const apply = name.startsWith(SET_DEFAULT_QUEUE_TYPE) ? setDefaultQueueType(name.slice(SET_DEFAULT_QUEUE_TYPE.length)) : TRANSFORMS[name as keyof typeof TRANSFORMS];
    out = apply(out, (kind, entity, change) => changes.push({ transform: name, entity: describeEntity(kind, entity), change }));
  }
  return { defs: out, changes };
}

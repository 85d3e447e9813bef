import type { FixedTransformName } from '../../common/definitionsTransformNames';
import type { Entity, EntityKind } from './model';

// What a RabbitMQ target of a given version refuses in a definitions file
// written by an older one, as data: each rule names the first version that
// refuses, the release note it comes from, and the transformation
// (definitionsTransforms.ts) that makes the entity acceptable. The matchers
// look only at what the rule is about; docs/compatibility.md lists the rules.


export interface CompatibilityRule {
  id: string;
  // First RabbitMQ version that refuses (x.y.z).
  since: string;
  kinds: EntityKind[];
  what: string;
  source: string;
  fixedBy: FixedTransformName;
  // The part of the entity the rule objects to, or null when it does not apply.
  match: (kind: EntityKind, entity: Entity) => string | null;
}

export const CLASSIC_MIRRORING_POLICY_KEYS = ['ha-mode', 'ha-params', 'ha-sync-mode', 'ha-sync-batch-size', 'ha-promote-on-shutdown', 'ha-promote-on-failure'];
const QUEUE_MODE_POLICY_KEY = 'queue-mode';
const QUEUE_VERSION_POLICY_KEY = 'queue-version';

const record = (value: unknown): Record<string, unknown> => (value && typeof value === 'object' && !Array.isArray(value) ? (value as Record<string, unknown>) : {});
const listed = (keys: string[]) => (keys.length > 0 ? keys.join(', ') : null);

export const COMPATIBILITY_RULES: CompatibilityRule[] = [
  {
    id: 'classic-mirroring-policy-keys',
    since: '4.0.0',
    kinds: ['policies'],
    what: 'classic queue mirroring keys in a policy (classic mirrored queues were removed)',
    source: 'RabbitMQ 4.0.1 release notes, "Classic Queue Mirroring is Removed": https://github.com/rabbitmq/rabbitmq-server/releases/tag/v4.0.1',
    fixedBy: 'strip-classic-mirroring',
    match: (_kind, e) => listed(Object.keys(record(e.definition)).filter((k) => CLASSIC_MIRRORING_POLICY_KEYS.includes(k))),
  },
  {
    id: 'classic-mirroring-queue-arguments',
    since: '4.0.0',
    kinds: ['queues'],
    what: 'x-ha-* queue arguments (classic mirrored queues were removed)',
    source: 'RabbitMQ 4.0.1 release notes, "Classic Queue Mirroring is Removed": https://github.com/rabbitmq/rabbitmq-server/releases/tag/v4.0.1',
    fixedBy: 'strip-classic-mirroring',
    match: (_kind, e) => listed(Object.keys(record(e.arguments)).filter((k) => k.startsWith('x-ha-'))),
  },
  {
    id: 'empty-policy',
    since: '3.0.0',
    kinds: ['policies'],
    what: 'a policy with an empty definition (left so when its only keys were stripped)',
    source: 'RabbitMQ policy validation: a policy definition must not be empty (https://www.rabbitmq.com/docs/policies); rabbitmqadmin v2 `drop_empty_policies`',
    fixedBy: 'drop-empty-policies',
    match: (_kind, e) => (Object.keys(record(e.definition)).length === 0 ? 'definition {}' : null),
  },
  {
    id: 'queue-mode',
    since: '4.3.0',
    kinds: ['queues', 'policies'],
    what: 'lazy queue mode (x-queue-mode argument or queue-mode policy key), a no-op since 3.12',
    source: 'RabbitMQ 4.3.0 release notes, "Deprecated Features are Now Disabled by Default" and CQv1 removal: https://github.com/rabbitmq/rabbitmq-server/releases/tag/v4.3.0',
    fixedBy: 'drop-queue-mode',
    match: (kind, e) => (kind === 'queues' ? ('x-queue-mode' in record(e.arguments) ? 'x-queue-mode' : null) : QUEUE_MODE_POLICY_KEY in record(e.definition) ? QUEUE_MODE_POLICY_KEY : null),
  },
  {
    id: 'classic-queue-version-1',
    since: '4.3.0',
    kinds: ['queues', 'policies'],
    what: 'classic queue storage version 1 (x-queue-version: 1 or queue-version: 1)',
    source: 'RabbitMQ 4.3.0 release notes, "Classic Queues v1 Storage (CQv1) is Removed": https://github.com/rabbitmq/rabbitmq-server/releases/tag/v4.3.0',
    fixedBy: 'drop-queue-version-1',
    match: (kind, e) =>
      kind === 'queues'
        ? Number(record(e.arguments)['x-queue-version']) === 1
          ? 'x-queue-version: 1'
          : null
        : Number(record(e.definition)[QUEUE_VERSION_POLICY_KEY]) === 1
          ? 'queue-version: 1'
          : null,
  },
  {
    id: 'transient-non-exclusive-queue',
    since: '4.3.0',
    kinds: ['queues'],
    // Definitions never hold exclusive queues, so every non-durable one is non-exclusive.
    what: 'a non-durable (transient) non-exclusive queue, denied by default',
    source: 'RabbitMQ 4.3.0 release notes, "Deprecated Features are Now Disabled by Default" (deprecated_features.permit.transient_nonexcl_queues): https://github.com/rabbitmq/rabbitmq-server/releases/tag/v4.3.0',
    fixedBy: 'make-queues-durable',
    match: (_kind, e) => (e.durable === false ? 'durable: false' : null),
  },
];

export const POLICY_KEYS = { queueMode: QUEUE_MODE_POLICY_KEY, queueVersion: QUEUE_VERSION_POLICY_KEY };

// "4.1", "4.1.2" or "3.10.8-alpha.1" as [major, minor, patch].
export function versionParts(version: string): [number, number, number] | null {
  const m = /^(\d+)\.(\d+)(?:\.(\d+))?/.exec(version);
  return m ? [Number(m[1]), Number(m[2]), Number(m[3] ?? 0)] : null;
}

export function versionAtLeast(version: string, since: string): boolean {
  const v = versionParts(version);
  const s = versionParts(since)!;
  if (!v) return false;
  for (let i = 0; i < 3; i++) if (v[i] !== s[i]) return v[i]! > s[i]!;
  return true;
}

import { z } from 'zod';
import type { Definitions, Entity } from './model';

// Vhost metadata (description, tags, default queue type). RabbitMQ 3.x's
// GET /api/definitions leaves it out (3.10.8 exports vhosts as {"name"} only;
// fixed upstream in rabbitmq-server #10515), while GET /api/vhosts and
// `rabbitmqctl export_definitions` keep it. A backup stores it beside the
// byte-for-byte export as vhosts.json; whether it is needed is read off the
// export itself (its vhosts carry "metadata" or not), so the source's version
// decides without a version table.

const Name = z.string().min(1).max(255);
export const VhostMetadata = z
  .object({
    name: Name,
    description: z.string().max(4096).default(''),
    tags: z.array(z.string().max(255)).max(256).default([]),
    // Absent: the vhost has none (its queues default to classic).
    default_queue_type: z.string().max(64).optional(),
  })
  .strict();
export type VhostMetadata = z.infer<typeof VhostMetadata>;

// vhosts.json as read back from storage: untrusted, so bounded and strict.
export const StoredVhostMetadata = z.array(VhostMetadata).max(100_000);
export const MAX_VHOSTS_BYTES = 64 * 1024 * 1024;

export function exportLacksVhostMetadata(defs: Definitions): boolean {
  return (defs.vhosts ?? []).some((v) => v.metadata === undefined);
}

// RabbitMQ answers tags as a list (3.10+) or "a,b", and an unset default queue type as "undefined".
export function vhostMetadataFromApi(listed: unknown): VhostMetadata[] {
  const rows = z.array(z.looseObject({ name: Name, description: z.unknown().optional(), tags: z.unknown().optional(), default_queue_type: z.unknown().optional(), metadata: z.unknown().optional() })).parse(listed);
  return rows
    .map((v) => {
      const m = (v.metadata && typeof v.metadata === 'object' ? v.metadata : {}) as Record<string, unknown>;
      const tags = m.tags ?? v.tags;
      const type = m.default_queue_type ?? v.default_queue_type;
      return VhostMetadata.parse({
        name: v.name,
        description: typeof (m.description ?? v.description) === 'string' ? (m.description ?? v.description) : '',
        tags: Array.isArray(tags) ? tags.map(String) : typeof tags === 'string' ? tags.split(',').map((t) => t.trim()).filter(Boolean) : [],
        ...(typeof type === 'string' && type !== 'undefined' && type !== '' ? { default_queue_type: type } : {}),
      });
    })
    .sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
}

// The vhost entity as a complete export writes it: {"name", "metadata": {...}}.
export function metadataOf(v: VhostMetadata): Entity['metadata'] {
  return { description: v.description, tags: [...v.tags], ...(v.default_queue_type ? { default_queue_type: v.default_queue_type } : {}) };
}

// A copy of defs whose vhosts carry their metadata (from vhosts.json or GET /api/vhosts).
export function withVhostMetadata(defs: Definitions, metadata: VhostMetadata[]): Definitions {
  const byName = new Map(metadata.map((m) => [m.name, m]));
  return {
    ...defs,
    vhosts: (defs.vhosts ?? []).map((v) => {
      const m = byName.get(String(v.name));
      return m && v.metadata === undefined ? { ...v, metadata: metadataOf(m) } : v;
    }),
  };
}

// The metadata a (possibly transformed) definitions document holds for its vhosts.
export function vhostMetadataOf(defs: Definitions): VhostMetadata[] {
  return (defs.vhosts ?? []).flatMap((v) => {
    const m = v.metadata as Record<string, unknown> | undefined;
    if (!m || typeof m !== 'object') return [];
    const parsed = VhostMetadata.safeParse({
      name: v.name,
      description: typeof m.description === 'string' ? m.description : '',
      tags: Array.isArray(m.tags) ? m.tags.map(String) : [],
      ...(typeof m.default_queue_type === 'string' ? { default_queue_type: m.default_queue_type } : {}),
    });
    return parsed.success ? [parsed.data] : [];
  });
}

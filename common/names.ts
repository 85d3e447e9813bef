import { z } from 'zod';

// Cluster and storage names become path segments and workflow-id parts.
export const ResourceName = z
  .string()
  .regex(/^[a-z0-9]([a-z0-9._-]{0,62})$/i, 'must be 1-63 letters, digits, ".", "_" or "-", starting with a letter or digit');

// An Erlang node name as `rabbitmqctl status` reports it; also an artifact-name part (no slash).
export const NodeName = z.string().regex(/^[^@\s/]+@[^@\s/]+$/, 'must be an Erlang node name like rabbit@host');

export const Component = z.enum(['definitions', 'messages', 'configuration', 'data-directory', 'volume-snapshot']);
export type Component = z.infer<typeof Component>;

// <UTC timestamp>-<id>, e.g. 20261125T063000Z-3f9a1c2e: sorts by time as text.
export const SetId = z.string().regex(/^\d{8}T\d{6}Z-[0-9a-f]{8}$/, 'must look like 20261125T063000Z-3f9a1c2e');
export type SetId = z.infer<typeof SetId>;

export const SetRef = z.union([SetId, z.literal('latest')]);

export function compactUtc(date: Date): string {
  return date.toISOString().replace(/[-:]/g, '').replace(/\.\d{3}Z$/, 'Z');
}

export function newSetId(date: Date, randomHex: string): SetId {
  return `${compactUtc(date)}-${randomHex.replace(/-/g, '').slice(0, 8)}`;
}

import { z } from 'zod';
import { Component, ResourceName, SetId } from './names';

export const MANIFEST_SCHEMA_VERSION = 1;

export const Sha256 = z.string().regex(/^[0-9a-f]{64}$/, 'must be a lowercase hex SHA-256');

export const Artifact = z.object({
  // A name becomes a storage key under the set's prefix: no slashes, no "." or "..", no control characters.
  name: z
    .string()
    .min(1)
    .max(255)
    .regex(/^[^/\\\x00-\x1f\x7f]+$/, 'must be a file name without slashes or control characters')
    .refine((n) => n !== '.' && n !== '..', 'must be a file name, not "." or ".."'),
  size: z.number().int().nonnegative(),
  sha256: Sha256,
  contentType: z.string().optional(),
  // Encrypted sets: size and sha256 above are the plaintext's, these the bytes in storage.
  stored: z.object({ size: z.number().int().nonnegative(), sha256: Sha256 }).strict().optional(),
});
export type Artifact = z.infer<typeof Artifact>;

// Client-side encryption of a set's artifacts (lib/encryption/): the type and
// the keys it was sealed for (OpenPGP primary key fingerprints, or aes-gcm key IDs).
export const SetEncryption = z
  .object({
    type: z.enum(['openpgp', 'aes-gcm']),
    keys: z
      .array(z.string().regex(/^[0-9A-Fa-f]{16,64}$/, 'must be a hex fingerprint or key ID'))
      .min(1)
      .max(32),
  })
  .strict();
export type SetEncryption = z.infer<typeof SetEncryption>;

// manifest.json is written last: a set without one is incomplete and never restored.
export const Manifest = z.object({
  schemaVersion: z.literal(MANIFEST_SCHEMA_VERSION),
  cluster: ResourceName,
  component: Component,
  setId: SetId,
  rabbitmqVersion: z.string().nullable(),
  artifacts: z
    .array(Artifact)
    .min(1)
    .refine((list) => new Set(list.map((a) => a.name)).size === list.length, 'must not name an artifact twice'),
  workflow: z.object({ workflowId: z.string(), runId: z.string() }),
  startedAt: z.iso.datetime(),
  finishedAt: z.iso.datetime(),
  toolVersion: z.string(),
  details: z.record(z.string(), z.unknown()).default({}),
  encryption: SetEncryption.optional(),
});
export type Manifest = z.infer<typeof Manifest>;

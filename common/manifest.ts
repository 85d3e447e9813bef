import { z } from 'zod';
import { Component, ResourceName, SetId } from './names';

export const MANIFEST_FILE = 'manifest.json';
export const MANIFEST_SCHEMA_VERSION = 1;

export const Sha256 = z.string().regex(/^[0-9a-f]{64}$/, 'must be a lowercase hex SHA-256');

export const Artifact = z.object({
  name: z.string().min(1).regex(/^[^/\\]+$/, 'must be a file name without slashes'),
  size: z.number().int().nonnegative(),
  sha256: Sha256,
  contentType: z.string().optional(),
});
export type Artifact = z.infer<typeof Artifact>;

// manifest.json is written last: a set without one is incomplete and never restored.
export const Manifest = z.object({
  schemaVersion: z.literal(MANIFEST_SCHEMA_VERSION),
  cluster: ResourceName,
  component: Component,
  setId: SetId,
  rabbitmqVersion: z.string().nullable(),
  artifacts: z.array(Artifact).min(1),
  workflow: z.object({ workflowId: z.string(), runId: z.string() }),
  startedAt: z.iso.datetime(),
  finishedAt: z.iso.datetime(),
  toolVersion: z.string(),
  details: z.record(z.string(), z.unknown()).default({}),
});
export type Manifest = z.infer<typeof Manifest>;

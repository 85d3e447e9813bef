import { z } from 'zod';

// Names of the transformations a definitions restore may apply to what it
// imports (lib/definitions/definitionsTransforms.ts): part of restoreDefinitions' input.
export const TRANSFORM_NAMES = ['strip-classic-mirroring', 'drop-empty-policies', 'drop-queue-mode', 'drop-queue-version-1', 'make-queues-durable'] as const;
export type FixedTransformName = (typeof TRANSFORM_NAMES)[number];

export const QUEUE_TYPES = ['classic', 'quorum', 'stream'] as const;
export const SET_DEFAULT_QUEUE_TYPE = 'set-default-queue-type=';

export const TransformName = z.union([
  z.enum(TRANSFORM_NAMES),
  z.string().regex(/^set-default-queue-type=(classic|quorum|stream)$/, `must be one of ${TRANSFORM_NAMES.join(', ')} or ${SET_DEFAULT_QUEUE_TYPE}${QUEUE_TYPES.join('|')}`),
]);
export type TransformName = z.infer<typeof TransformName>;

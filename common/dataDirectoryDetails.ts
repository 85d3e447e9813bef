import { z } from 'zod';
import { Artifact, Sha256 } from './manifest';
import { DataDirectoryMethod } from './dataDirectoryMethod';
import { NodeName } from './names';

// What a data-directory set's manifest records (details), as read back from
// storage: untrusted, so every field a restore uses is checked here, in the
// workflow, before any node is inspected or stopped.
const count = z.number().int().nonnegative();
const absolutePath = z
  .string()
  .regex(/^\/[^\0]*$/, 'must be an absolute path')
  .refine((p) => !p.split('/').includes('..'), 'must not contain ".."');

export const RecordedQueue = z.object({ vhost: z.string(), name: z.string(), type: z.string(), messages: count });

export const DataDirectoryNodeRecord = z.looseObject({
  node: NodeName,
  artifact: Artifact,
  tarBytes: count,
  tarSha256: Sha256,
  facts: z.looseObject({
    nodeName: NodeName,
    dataDirectory: absolutePath,
    rabbitmqVersion: z.string().regex(/^\d+\.\d+/, 'must be a RabbitMQ version like 3.10.8'),
    featureFlags: z.array(z.string()),
    queues: z.array(RecordedQueue),
  }),
  verified: z.looseObject({ entries: count, files: count, directories: count, links: count, fileBytes: count }),
});
export type DataDirectoryNodeRecord = z.infer<typeof DataDirectoryNodeRecord>;

export const DataDirectoryDetails = z.looseObject({
  method: DataDirectoryMethod,
  nodes: z.array(DataDirectoryNodeRecord).min(1),
});
export type DataDirectoryDetails = z.infer<typeof DataDirectoryDetails>;

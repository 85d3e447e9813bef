import { once } from 'node:events';
import { createGzip, type Gzip } from 'node:zlib';
import { z } from 'zod';
import { segmentName } from '../../common/backupSetLayout';
import { Artifact } from '../../common/manifest';
import { storeArtifact } from '../backupSets/artifacts';
import type { StorageBackend } from '../storage/backend';
import { encodeRecordHeader, SEGMENT_CONTENT_TYPE, SEGMENT_MAGIC, type MessageRecord } from './segmentFormat';

// One stored segment as the queue index lists it.
export const StoredSegment = z.object({
  artifact: Artifact,
  messages: z.number().int().nonnegative(),
  bodyBytes: z.number().int().nonnegative(),
});
export type StoredSegment = z.infer<typeof StoredSegment>;

const BATCH_BYTES = 256 * 1024;

// One segment being streamed to storage: records go through gzip straight
// into the storage put, nothing is buffered beyond the streams' own buffers.
export class OpenSegment {
  readonly name: string;
  messages = 0;
  bodyBytes = 0;
  rawBytes = SEGMENT_MAGIC.length;
  private readonly gzip: Gzip;
  private readonly stored: Promise<Artifact>;
  private failure: Error | undefined;
  private batch: Buffer[] = [];
  private batchBytes = 0;

  constructor(backend: StorageBackend, prefix: string, queueIndex: number, segmentIndex: number) {
    this.name = segmentName(queueIndex, segmentIndex);
    this.gzip = createGzip({ level: 1, chunkSize: 64 * 1024 });
    this.stored = storeArtifact(backend, prefix, this.name, this.gzip, SEGMENT_CONTENT_TYPE);
    this.stored.catch((error: Error) => (this.failure = error));
    this.gzip.write(SEGMENT_MAGIC);
  }

  // false: the caller should await drained() before appending much more.
  append(record: MessageRecord): boolean {
    if (this.failure) throw this.failure;
    const head = encodeRecordHeader(record);
    this.batch.push(head, record.body);
    this.batchBytes += head.length + record.body.length;
    this.messages += 1;
    this.bodyBytes += record.body.length;
    this.rawBytes += head.length + record.body.length;
    return this.batchBytes >= BATCH_BYTES ? this.flush() : true;
  }

  // zlib works chunk by chunk on the thread pool: small records go in batches.
  private flush(): boolean {
    if (!this.batch.length) return true;
    const chunk = Buffer.concat(this.batch, this.batchBytes);
    this.batch = [];
    this.batchBytes = 0;
    return this.gzip.write(chunk);
  }

  async drained(): Promise<void> {
    if (this.failure) throw this.failure;
    if (this.gzip.writableNeedDrain) await Promise.race([once(this.gzip, 'drain'), this.stored]);
  }

  // Resolves once the storage put has completed: the segment is durable.
  async close(): Promise<StoredSegment> {
    this.flush();
    this.gzip.end();
    const artifact = await this.stored;
    return { artifact, messages: this.messages, bodyBytes: this.bodyBytes };
  }

  abort(): void {
    this.gzip.destroy(new Error('segment aborted'));
    this.stored.catch(() => undefined);
  }
}

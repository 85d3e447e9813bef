import { once } from 'node:events';
import { createGzip, type Gzip } from 'node:zlib';
import type { Artifact } from '../../common/manifest';
import { storeArtifact } from '../backupSets/artifacts';
import type { StorageBackend } from '../storage/backend';
import { encodeRecordHeader, SEGMENT_CONTENT_TYPE, SEGMENT_MAGIC, type MessageRecord } from './segmentFormat';

export interface StoredSegment {
  artifact: Artifact;
  messages: number;
  bodyBytes: number;
}

export function segmentName(queueIndex: number, segmentIndex: number): string {
  return `q${String(queueIndex).padStart(4, '0')}-${String(segmentIndex).padStart(6, '0')}.rvseg.gz`;
}

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

  constructor(backend: StorageBackend, prefix: string, queueIndex: number, segmentIndex: number) {
    this.name = segmentName(queueIndex, segmentIndex);
    this.gzip = createGzip({ level: 1 });
    this.stored = storeArtifact(backend, prefix, this.name, this.gzip, SEGMENT_CONTENT_TYPE);
    this.stored.catch((error: Error) => (this.failure = error));
    this.gzip.write(SEGMENT_MAGIC);
  }

  // false: the caller should await drained() before appending much more.
  append(record: MessageRecord): boolean {
    if (this.failure) throw this.failure;
    const head = encodeRecordHeader(record);
    this.gzip.write(head);
    const accepted = this.gzip.write(record.body);
    this.messages += 1;
    this.bodyBytes += record.body.length;
    this.rawBytes += head.length + record.body.length;
    return accepted;
  }

  async drained(): Promise<void> {
    if (this.failure) throw this.failure;
    if (this.gzip.writableNeedDrain) await Promise.race([once(this.gzip, 'drain'), this.stored]);
  }

  // Resolves once the storage put has completed: the segment is durable.
  async close(): Promise<StoredSegment> {
    this.gzip.end();
    const artifact = await this.stored;
    return { artifact, messages: this.messages, bodyBytes: this.bodyBytes };
  }

  abort(): void {
    this.gzip.destroy(new Error('segment aborted'));
    this.stored.catch(() => undefined);
  }
}

import { createHash } from 'node:crypto';
import { Transform, type TransformCallback } from 'node:stream';

// Counts (and optionally hashes) the bytes passing through, for heartbeats and checksums.
export class ByteCounter extends Transform {
  bytes = 0;
  private readonly hash = createHash('sha256');
  constructor(private readonly onBytes?: (bytes: number) => void) {
    super({ highWaterMark: 1024 * 1024 });
  }
  override _transform(chunk: Buffer, _encoding: BufferEncoding, done: TransformCallback): void {
    this.bytes += chunk.length;
    this.hash.update(chunk);
    this.onBytes?.(this.bytes);
    done(null, chunk);
  }
  sha256(): string {
    return this.hash.digest('hex');
  }
}

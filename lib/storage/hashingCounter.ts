import { createHash } from 'node:crypto';
import { Transform, type TransformCallback } from 'node:stream';

export interface HashingCounterOptions {
  // Called with the running total after every chunk (heartbeats).
  onBytes?: (bytes: number) => void;
  // The stream fails with tooLarge(maxBytes) at the first byte beyond maxBytes,
  // before that chunk is hashed or passed on: what storage holds is untrusted.
  maxBytes?: number;
  tooLarge?: (maxBytes: number) => Error;
  highWaterMark?: number;
}

// The SHA-256 of bytes already in memory, as manifests record it (lowercase hex).
export function sha256Of(bytes: Buffer): string {
  return createHash('sha256').update(bytes).digest('hex');
}

// Counts the bytes passing through and hashes them (SHA-256) in the same pass,
// nothing buffered: artifacts on their way to storage, and read back from it.
export class HashingCounter extends Transform {
  bytes = 0;
  private readonly hash = createHash('sha256');
  private digest: string | undefined;
  private readonly maxBytes: number;
  constructor(private readonly options: HashingCounterOptions = {}) {
    super({ highWaterMark: options.highWaterMark });
    this.maxBytes = options.maxBytes ?? Number.MAX_SAFE_INTEGER;
  }
  override _transform(chunk: Buffer, _encoding: BufferEncoding, done: TransformCallback): void {
    this.bytes += chunk.length;
    if (this.bytes > this.maxBytes) return done(this.options.tooLarge?.(this.maxBytes) ?? new Error(`more than ${this.maxBytes} bytes`));
    this.hash.update(chunk);
    this.options.onBytes?.(this.bytes);
    done(null, chunk);
  }
  // The SHA-256 of every byte seen, once the stream has ended (the same value on every call).
  sha256(): string {
    this.digest ??= this.hash.digest('hex');
    return this.digest;
  }
}

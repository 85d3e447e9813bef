import { createHash, randomBytes } from 'node:crypto';
import { Readable } from 'node:stream';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';

export interface StreamingRun {
  bytes: number;
  // The output's SHA-256 equals the input's.
  sameBytes: boolean;
  // Peak RSS growth while the output was read.
  rssGrowth: number;
  // Input bytes produced when the first output byte arrived.
  producedAtFirstOutput: number;
}

// Feeds `total` bytes of distinct 256 KiB pieces through `through` and reads
// what comes out, measuring RSS with a collection every 4 MiB (V8 frees
// external buffers lazily: without it RSS counts garbage, not what streams hold).
export async function streamingRun(total: number, through: (source: Readable) => Promise<AsyncIterable<unknown>>): Promise<StreamingRun> {
  setFlagsFromString('--expose-gc');
  const gc = runInNewContext('gc') as () => void;
  const piece = randomBytes(256 * 1024);
  const wrote = createHash('sha256');
  const read = createHash('sha256');
  let produced = 0;
  const source = Readable.from(
    (function* () {
      for (let at = 0; at < total; at += piece.length) {
        // Each piece differs, so a reordered or repeated piece changes the hash.
        piece.writeUInt32BE(at, 0);
        const copy = Buffer.from(piece);
        wrote.update(copy);
        produced += copy.length;
        yield copy;
      }
    })(),
  );
  gc();
  const before = process.memoryUsage.rss();
  let peak = before;
  let bytes = 0;
  let producedAtFirstOutput = -1;
  const step = 4 * 1024 * 1024;
  for await (const chunk of await through(source)) {
    const b = chunk as Buffer;
    if (producedAtFirstOutput < 0) producedAtFirstOutput = produced;
    read.update(b);
    if (Math.floor((bytes + b.length) / step) > Math.floor(bytes / step)) gc();
    bytes += b.length;
    peak = Math.max(peak, process.memoryUsage.rss());
  }
  return { bytes, sameBytes: read.digest('hex') === wrote.digest('hex'), rssGrowth: peak - before, producedAtFirstOutput };
}

import type { Duplex } from 'node:stream';
import { processDuplex } from './processStream';

// zstd: multi-threaded and several times faster than gzip at a similar ratio on
// RabbitMQ data (bench/dataDirectory.bench.ts has the figures). Level 1 keeps the
// node's stop window close to the cost of reading the data directory.
export const ARCHIVE_CONTENT_TYPE = 'application/zstd';

export function compressor(zstdBinary = 'zstd'): Duplex {
  return processDuplex(zstdBinary, ['-q', '-1', '-T0', '-c', '-']);
}

export function decompressor(zstdBinary = 'zstd'): Duplex {
  return processDuplex(zstdBinary, ['-q', '-d', '-c', '-']);
}

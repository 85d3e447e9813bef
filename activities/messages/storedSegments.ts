import { createHash } from 'node:crypto';
import { Transform } from 'node:stream';
import { createGunzip } from 'node:zlib';
import type { StorageBackend } from '../storage/backend';
import { fingerprint, readRecords } from './segmentFormat';
import type { StoredSegment } from './segmentWriter';

// Re-reads a stored segment: its size and SHA-256 as stored, its message
// count, and (for drain-mode dedupe) each message's fingerprint.
export async function scanSegment(backend: StorageBackend, prefix: string, name: string, withFingerprints: boolean): Promise<StoredSegment & { fingerprints: string[] }> {
  const hash = createHash('sha256');
  let size = 0;
  const tap = new Transform({
    transform(chunk: Buffer, _enc, done) {
      hash.update(chunk);
      size += chunk.length;
      done(null, chunk);
    },
  });
  const gunzip = (await backend.get(`${prefix}/${name}`)).pipe(tap).pipe(createGunzip());
  let messages = 0;
  let bodyBytes = 0;
  const fingerprints: string[] = [];
  for await (const record of readRecords(gunzip)) {
    messages += 1;
    bodyBytes += record.body.length;
    if (withFingerprints) fingerprints.push(fingerprint(record));
  }
  return { artifact: { name, size, sha256: hash.digest('hex'), contentType: 'application/vnd.rabbitvault.messages.v1+gzip' }, messages, bodyBytes, fingerprints };
}

export async function listQueueSegments(backend: StorageBackend, prefix: string, queueIndex: number): Promise<string[]> {
  const start = `${prefix}/q${String(queueIndex).padStart(4, '0')}-`;
  return (await backend.list(start)).map((o) => o.key.slice(prefix.length + 1)).filter((n) => n.endsWith('.rvseg.gz'));
}

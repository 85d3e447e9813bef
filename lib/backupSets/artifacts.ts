import { ApplicationFailure } from '@temporalio/common';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { artifactKey } from '../../common/backupSetLayout';
import { FailureType } from '../../common/failures';
import type { Artifact } from '../../common/manifest';
import type { StorageBackend } from '../storage/backend';
import { HashingCounter, sha256Of } from '../storage/hashingCounter';

export async function storeArtifact(
  backend: StorageBackend,
  prefix: string,
  name: string,
  body: Readable | Buffer,
  contentType?: string,
): Promise<Artifact> {
  const counter = new HashingCounter();
  const source = Buffer.isBuffer(body) ? Readable.from([body]) : body;
  source.on('error', (error) => counter.destroy(error));
  // The backend may check the key before it starts reading: an error meanwhile
  // (a producer aborting) must wait for its pipeline, not crash the worker.
  counter.on('error', () => undefined);
  const stored = await backend.put(artifactKey(prefix, name), source.pipe(counter), { contentType });
  return { name, size: counter.bytes, sha256: counter.sha256(), ...(contentType ? { contentType } : {}), ...(stored ? { stored } : {}) };
}

export async function hashStoredObject(backend: StorageBackend, key: string): Promise<{ size: number; sha256: string }> {
  const counter = new HashingCounter();
  await pipeline(await backend.get(key), counter, async function* (source) {
    for await (const _chunk of source) {
      // Drain: the counter has already seen the bytes.
    }
  });
  return { size: counter.bytes, sha256: counter.sha256() };
}

// A small artifact of a verified set, read again at the moment it is used: if
// its bytes changed in storage since the set was verified, it is refused.
export async function readVerifiedArtifact(backend: StorageBackend, prefix: string, artifact: { name: string; sha256: string }, limitBytes: number): Promise<Buffer> {
  const bytes = await readSmallObject(backend, artifactKey(prefix, artifact.name), limitBytes);
  if (sha256Of(bytes) !== artifact.sha256) {
    throw ApplicationFailure.create({ message: `${artifact.name} changed in storage since it was verified (SHA-256 differs)`, type: FailureType.ManifestChecksumMismatch, nonRetryable: true });
  }
  return bytes;
}

// The first maxBytes of an object, without reading the rest.
export async function readAtMost(backend: StorageBackend, key: string, maxBytes: number): Promise<Buffer> {
  const chunks: Buffer[] = [];
  let total = 0;
  const body = await backend.get(key);
  for await (const chunk of body) {
    chunks.push(chunk as Buffer);
    total += (chunk as Buffer).length;
    if (total >= maxBytes) break;
  }
  body.destroy();
  return Buffer.concat(chunks).subarray(0, maxBytes);
}

// A whole object in memory, read no further than limitBytes: what storage holds
// is untrusted, so an object past its limit is refused, not retried.
export async function readSmallObject(backend: StorageBackend, key: string, limitBytes = 512 * 1024 * 1024): Promise<Buffer> {
  const chunks: Buffer[] = [];
  let total = 0;
  const stream = await backend.get(key);
  for await (const chunk of stream) {
    total += (chunk as Buffer).length;
    if (total > limitBytes) {
      stream.destroy();
      throw ApplicationFailure.create({ message: `${backend.locate(key)} is larger than the ${limitBytes} bytes expected of it: refused`, type: FailureType.ManifestInvalid, nonRetryable: true });
    }
    chunks.push(chunk as Buffer);
  }
  return Buffer.concat(chunks);
}

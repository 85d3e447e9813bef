import { ApplicationFailure } from '@temporalio/common';
import { pipeline, Readable, type Transform } from 'node:stream';
import { isSealedArtifactKey } from '../../common/backupSetLayout';
import { FailureType } from '../../common/failures';
import type { ArtifactCipher } from '../encryption/artifactCipher';
import type { StorageBackend, StoredBytes, StoredObject } from './backend';
import { HashingCounter } from './hashingCounter';
import { resumedStream } from './resumedStream';

// A target with client-side encryption: a set's artifacts are sealed on their
// way in and opened on their way out, so every reader (restore, validation,
// drills) sees plaintext and checks it against the manifest as before. Keys
// outside a set's artifacts (manifests, reports) pass through unchanged.
export class SealedStorage implements StorageBackend {
  constructor(
    readonly raw: StorageBackend,
    readonly cipher: ArtifactCipher,
    readonly field: string,
    readonly allowPlaintextSets: boolean,
  ) {}

  locate(key: string): string {
    return this.raw.locate(key);
  }

  async put(key: string, body: Readable | Buffer, options?: { contentType?: string }): Promise<StoredBytes | void> {
    if (!isSealedArtifactKey(key)) return this.raw.put(key, body, options);
    const source = Buffer.isBuffer(body) ? Readable.from([body]) : body;
    const counter = new HashingCounter();
    let sealer: Transform;
    try {
      sealer = await this.cipher.seal(key);
    } catch (error) {
      // A key that cannot be loaded leaves no producer blocked on a stream nobody reads.
      source.destroy();
      throw error;
    }
    // Errors anywhere destroy the whole chain, so the backend's upload fails too.
    pipeline(source, sealer, counter, () => undefined);
    await this.raw.put(key, counter, { contentType: 'application/octet-stream' });
    return { size: counter.bytes, sha256: counter.sha256() };
  }

  async get(key: string): Promise<Readable> {
    return (await this.getCounted(key)).plaintext;
  }

  // The plaintext, with the stored bytes counted and hashed on the way (verification).
  async getCounted(key: string): Promise<{ plaintext: Readable; stored: HashingCounter }> {
    const stored = new HashingCounter();
    const raw = pipeline(await this.raw.get(key), stored, () => undefined);
    if (!isSealedArtifactKey(key)) return { plaintext: raw, stored };
    const { head, stream } = await peek(raw, 8);
    if (this.cipher.isSealed(head)) return { plaintext: await this.cipher.open(stream, key, this.locate(key)), stored };
    if (this.allowPlaintextSets) return { plaintext: stream, stored };
    stream.destroy();
    throw ApplicationFailure.create({
      message: `${this.locate(key)} is not encrypted (${this.cipher.type}) but ${this.field} requires it: refused (set allowPlaintextSets for sets written before encryption was turned on)`,
      type: FailureType.ManifestInvalid,
      nonRetryable: true,
    });
  }

  stat(key: string): Promise<StoredObject | null> {
    return this.raw.stat(key);
  }
  list(prefix: string): Promise<StoredObject[]> {
    return this.raw.list(prefix);
  }
  delete(key: string): Promise<void> {
    return this.raw.delete(key);
  }
  probe(): Promise<void> {
    return this.raw.probe();
  }
}

// The bytes storage keeps, whatever the target does on the way.
export function rawBackend(backend: StorageBackend): StorageBackend {
  return backend instanceof SealedStorage ? backend.raw : backend;
}

// The first bytes of a stream, and the stream again from its start.
async function peek(source: Readable, bytes: number): Promise<{ head: Buffer; stream: Readable }> {
  const chunks = source[Symbol.asyncIterator]() as AsyncIterator<Buffer>;
  const seen: Buffer[] = [];
  let length = 0;
  while (length < bytes) {
    const next = await chunks.next();
    if (next.done) break;
    seen.push(next.value);
    length += next.value.length;
  }
  const stream = resumedStream(seen, chunks);
  return { head: Buffer.concat(seen).subarray(0, bytes), stream };
}

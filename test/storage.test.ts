import { test, describe, before } from 'node:test';
import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, readdirSync, symlinkSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { PassThrough, Readable } from 'node:stream';
import { inspect } from 'node:util';
import { CreateBucketCommand, HeadObjectCommand, ListMultipartUploadsCommand, ListObjectsV2Command, S3Client } from '@aws-sdk/client-s3';
import type { ApplicationFailure } from '@temporalio/common';
import type { S3StorageTarget } from '../config/schema';
import { storeArtifact } from '../lib/backupSets/artifacts';
import { StorageObjectNotFound, type StorageBackend } from '../lib/storage/backend';
import { LocalDirectoryStorage } from '../lib/storage/local';
import { S3ObjectStorage } from '../lib/storage/s3';
import { MINIO_KMS_KEY_NAME } from '../scripts/devstack/minio';
import { traversalKeys } from './fixtures/hostile/configurationSets';
import { scratchDir, testStack } from './support/stack';

const MiB = 1024 * 1024;
// The producer's own error reaches the caller unchanged, as stream.pipeline would report it.
const sourceBroke = { message: 'source broke on purpose' };

// Random bytes in 64 KiB chunks, hashed as they are produced; fails after failAfter bytes if set.
function generatedStream(bytes: number, failAfter?: number): { stream: Readable; sha256: () => string } {
  const hash = createHash('sha256');
  let produced = 0;
  const stream = new Readable({
    read() {
      if (failAfter !== undefined && produced >= failAfter) {
        // A pause first, so an S3 multipart upload is already under way when the source dies.
        setTimeout(() => this.destroy(new Error('source broke on purpose')), 300);
        return;
      }
      if (produced >= bytes) {
        this.push(null);
        return;
      }
      const chunk = randomBytes(Math.min(64 * 1024, bytes - produced));
      produced += chunk.length;
      hash.update(chunk);
      this.push(chunk);
    },
  });
  return { stream, sha256: () => hash.digest('hex') };
}

async function sha256Of(stream: Readable): Promise<string> {
  const hash = createHash('sha256');
  for await (const chunk of stream) hash.update(chunk as Buffer);
  return hash.digest('hex');
}

async function text(stream: Readable): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const chunk of stream) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks).toString('utf8');
}

// The StorageBackend promises, checked identically for every backend.
function storageContract(open: () => StorageBackend): void {
  let storage: StorageBackend;
  before(() => {
    storage = open();
  });

  // A producer that gives up at once (an empty queue's segment is opened, then aborted)
  // errors before the backend reads: the put fails, the process does not crash.
  void test('a stream that errors before the backend starts reading fails storeArtifact, nothing uncaught', async () => {
    const backend = open();
    const uncaught: unknown[] = [];
    const onUncaught = (error: unknown) => uncaught.push(error);
    process.on('uncaughtException', onUncaught);
    try {
      const source = new PassThrough();
      const stored = storeArtifact(backend, `aborted-${randomBytes(4).toString('hex')}`, 'a.bin', source);
      source.destroy(new Error('producer aborted'));
      await assert.rejects(stored);
      await new Promise((r) => setTimeout(r, 200));
      assert.deepEqual(uncaught, []);
    } finally {
      process.off('uncaughtException', onUncaught);
    }
  });

  void test('probe succeeds on a usable target', async () => {
    await storage.probe();
  });

  void test('a Buffer round-trips and stat reports its size', async () => {
    await storage.put('round/trip.json', Buffer.from('{"hello":"rabbit"}'), { contentType: 'application/json' });
    assert.equal(await text(await storage.get('round/trip.json')), '{"hello":"rabbit"}');
    assert.deepEqual(await storage.stat('round/trip.json'), { key: 'round/trip.json', size: 18 });
  });

  void test('a stream larger than one part round-trips byte for byte', async () => {
    const { stream, sha256 } = generatedStream(12 * MiB);
    await storage.put('big/archive.tar', stream);
    assert.equal(await sha256Of(await storage.get('big/archive.tar')), sha256());
    assert.deepEqual(await storage.stat('big/archive.tar'), { key: 'big/archive.tar', size: 12 * MiB });
  });

  void test('stat of a missing key is null', async () => {
    assert.equal(await storage.stat('missing/nothing-here'), null);
  });

  void test('get of a missing key throws StorageObjectNotFound naming its location', async () => {
    await assert.rejects(storage.get('missing/nothing-here'), (error: unknown) => {
      assert.ok(error instanceof StorageObjectNotFound);
      assert.equal(error.location, storage.locate('missing/nothing-here'));
      return true;
    });
  });

  void test('list returns only keys under the prefix, in key order, with sizes', async () => {
    for (const [key, size] of [['set/b', 2], ['set/a', 1], ['set/sub/c', 3], ['setx/d', 4], ['other/e', 5]] as const) {
      await storage.put(key, Buffer.alloc(size, 7));
    }
    assert.deepEqual(await storage.list('set/'), [
      { key: 'set/a', size: 1 },
      { key: 'set/b', size: 2 },
      { key: 'set/sub/c', size: 3 },
    ]);
    assert.deepEqual(await storage.list('no-such-prefix/'), []);
  });

  void test('delete removes the object and is quiet about missing keys', async () => {
    await storage.put('doomed/object', Buffer.from('bye'));
    await storage.delete('doomed/object');
    assert.equal(await storage.stat('doomed/object'), null);
    await assert.rejects(storage.get('doomed/object'), StorageObjectNotFound);
    assert.deepEqual(await storage.list('doomed/'), []);
    await storage.delete('doomed/object');
  });

  void test('a key that could leave the root is refused on every operation, naming the key, non-retryably; valid neighbours still work', async () => {
    for (const { key, why } of traversalKeys()) {
      const refused = (error: ApplicationFailure) => {
        assert.equal(error.type, 'InvalidInput', key);
        assert.equal(error.nonRetryable, true);
        assert.ok(error.message.startsWith(`storage key ${JSON.stringify(key)} refused: `), error.message);
        assert.match(error.message, why);
        return true;
      };
      const body = Readable.from([Buffer.from('pwned')]);
      await assert.rejects(storage.put(key, body), refused);
      assert.equal(body.destroyed, true, 'the refused body is not left waiting');
      await assert.rejects(storage.get(key), refused);
      await assert.rejects(storage.stat(key), refused);
      await assert.rejects(storage.delete(key), refused);
    }
    await assert.rejects(storage.list('../'), /storage key "\.\.\/" refused: it has a "\." or "\.\." segment/);
    await assert.rejects(storage.list('/etc/'), /refused: it is absolute/);
    await storage.put('contained/dots..in..name', Buffer.from('ok'));
    assert.deepEqual(await storage.list('contained/'), [{ key: 'contained/dots..in..name', size: 2 }]);
  });

  void test('a source stream that fails leaves no object, and keeps an older one intact', async () => {
    await assert.rejects(storage.put('torn/new', generatedStream(20 * MiB, 11 * MiB).stream), sourceBroke);
    assert.equal(await storage.stat('torn/new'), null);

    await storage.put('torn/existing', Buffer.from('version 1'));
    await assert.rejects(storage.put('torn/existing', generatedStream(20 * MiB, 6 * MiB).stream), sourceBroke);
    assert.equal(await text(await storage.get('torn/existing')), 'version 1');
    assert.deepEqual(await storage.list('torn/'), [{ key: 'torn/existing', size: 9 }]);
  });
}

void describe('local directory storage', () => {
  storageContract(() => new LocalDirectoryStorage(scratchDir('storage-local')));

  void test('traversal keys create nothing outside the root, and a planted symlink does not lead out of it', async () => {
    const outer = scratchDir('storage-local-contained');
    const root = path.join(outer, 'root');
    const storage = new LocalDirectoryStorage(root);
    await storage.probe();
    for (const { key } of traversalKeys()) await assert.rejects(storage.put(key, Buffer.from('pwned')), /refused/);
    assert.deepEqual(readdirSync(outer), ['root']);
    assert.deepEqual(readdirSync(root), []);
    // Someone with write access to the directory links a set folder to /etc-like territory outside it.
    const outside = path.join(outer, 'outside');
    mkdirSync(outside);
    writeFileSync(path.join(outside, 'secret'), 'not yours');
    symlinkSync(outside, path.join(root, 'linked'));
    await assert.rejects(storage.get('linked/secret'), /storage key "linked\/secret" refused: .*leads outside .* through a symbolic link/);
    await assert.rejects(storage.stat('linked/secret'), /through a symbolic link/);
    await assert.rejects(storage.put('linked/new/file', Buffer.from('pwned')), /through a symbolic link/);
    await assert.rejects(storage.delete('linked/secret'), /through a symbolic link/);
    assert.deepEqual(readdirSync(outside), ['secret']);
    assert.equal(existsSync(path.join(outside, 'new')), false);
  });

  void test('a failed write leaves no partial file behind', async () => {
    const root = scratchDir('storage-local-partial');
    const storage = new LocalDirectoryStorage(root);
    await assert.rejects(storage.put('set/archive', generatedStream(4 * MiB, 1 * MiB).stream), sourceBroke);
    assert.deepEqual(readdirSync(path.join(root, 'set')), []);
  });
});

void describe('S3 storage (MinIO)', () => {
  const bucket = `rv-storage-${Date.now()}`;
  let client: S3Client;
  let target: S3StorageTarget;
  let credentials: { accessKeyId: string; secretAccessKey: string };

  before(async () => {
    const { minio } = testStack();
    credentials = { accessKeyId: minio.accessKeyId, secretAccessKey: minio.secretAccessKey };
    client = new S3Client({ region: 'us-east-1', endpoint: minio.endpoint, forcePathStyle: true, credentials });
    await client.send(new CreateBucketCommand({ Bucket: bucket }));
    target = { type: 's3', bucket, prefix: 'backups', region: 'us-east-1', endpoint: minio.endpoint, forcePathStyle: true, partSizeMiB: 5 };
  });
  const head = (key: string) => client.send(new HeadObjectCommand({ Bucket: bucket, Key: key }));

  void describe('contract', () => storageContract(() => new S3ObjectStorage(target, credentials)));

  void test('the target prefix gets a "/" and stays out of returned keys', async () => {
    const storage = new S3ObjectStorage(target, credentials);
    await storage.put('prefixed/one', Buffer.from('1'));
    assert.equal(storage.locate('prefixed/one'), `s3://${bucket}/backups/prefixed/one`);
    const raw = await client.send(new ListObjectsV2Command({ Bucket: bucket, Prefix: 'backups/prefixed/' }));
    assert.deepEqual(raw.Contents?.map((o) => o.Key), ['backups/prefixed/one']);
    assert.deepEqual(await storage.list('prefixed/'), [{ key: 'prefixed/one', size: 1 }]);
  });

  void test('a stream larger than one part is uploaded as a multipart object', async () => {
    const storage = new S3ObjectStorage(target, credentials);
    await storage.put('multipart/twelve', generatedStream(12 * MiB).stream, { contentType: 'application/x-tar' });
    const object = await head('backups/multipart/twelve');
    // Multipart ETags end in -<part count>: 12 MiB in 5 MiB parts is 3 parts.
    assert.match(object.ETag ?? '', /-3"$/);
    assert.equal(object.ContentType, 'application/x-tar');
  });

  void test('a failed multipart upload is aborted, not left behind', async () => {
    const storage = new S3ObjectStorage(target, credentials);
    await assert.rejects(storage.put('aborted/upload', generatedStream(20 * MiB, 11 * MiB).stream), sourceBroke);
    // MinIO lists pending uploads only for an exact key prefix.
    const pending = await client.send(new ListMultipartUploadsCommand({ Bucket: bucket, Prefix: 'backups/aborted/upload' }));
    assert.deepEqual(pending.Uploads ?? [], []);
  });

  void test('a rejected upload destroys its source so the producer does not hang', async () => {
    const storage = new S3ObjectStorage({ ...target, bucket: `${bucket}-missing` }, credentials);
    // Far more than the four parts in flight, so the source is still mid-stream when the upload fails.
    const { stream } = generatedStream(1024 * MiB);
    await assert.rejects(storage.put('nowhere/archive', stream), {
      message: `S3 PutObject s3://${bucket}-missing/backups/nowhere/archive failed: NoSuchBucket (HTTP 404)`,
    });
    assert.equal(stream.destroyed, true);
  });

  void test('SSE-S3 (AES256) encrypts uploaded objects', async () => {
    const storage = new S3ObjectStorage({ ...target, serverSideEncryption: 'AES256' }, credentials);
    await storage.put('encrypted/sse-s3', Buffer.from('secret messages'));
    await storage.put('encrypted/sse-s3-multipart', generatedStream(6 * MiB).stream);
    assert.equal((await head('backups/encrypted/sse-s3')).ServerSideEncryption, 'AES256');
    assert.equal((await head('backups/encrypted/sse-s3-multipart')).ServerSideEncryption, 'AES256');
    assert.equal(await text(await storage.get('encrypted/sse-s3')), 'secret messages');
  });

  void test('SSE-KMS uses the configured key', async () => {
    const storage = new S3ObjectStorage({ ...target, serverSideEncryption: 'aws:kms', kmsKeyId: MINIO_KMS_KEY_NAME }, credentials);
    await storage.put('encrypted/sse-kms', Buffer.from('more secrets'));
    const object = await head('backups/encrypted/sse-kms');
    assert.equal(object.ServerSideEncryption, 'aws:kms');
    assert.match(object.SSEKMSKeyId ?? '', new RegExp(`${MINIO_KMS_KEY_NAME}$`));
    // MinIO has one KMS key, which is also its default: an unknown key id proves the id is sent.
    const unknownKey = new S3ObjectStorage({ ...target, serverSideEncryption: 'aws:kms', kmsKeyId: 'no-such-key' }, credentials);
    await assert.rejects(unknownKey.put('encrypted/unknown-key', Buffer.from('x')), /failed: kms:KeyNotFound/);
  });

  void test('probe names a bucket that does not exist', async () => {
    const storage = new S3ObjectStorage({ ...target, bucket: `${bucket}-missing` }, credentials);
    await assert.rejects(storage.probe(), (error: Error) => {
      assert.match(error.message, new RegExp(`bucket "${bucket}-missing" does not exist at ${target.endpoint}`));
      return true;
    });
  });

  void test('a wrong secret is reported by access key id and never echoed', async () => {
    const wrongSecret = `wrong-${randomBytes(12).toString('hex')}`;
    const storage = new S3ObjectStorage(target, { accessKeyId: credentials.accessKeyId, secretAccessKey: wrongSecret });
    const failures: Error[] = [];
    await assert.rejects(storage.probe(), (error: Error) => {
      assert.match(error.message, new RegExp(`secret access key for access key id "${credentials.accessKeyId}" is wrong`));
      failures.push(error);
      return true;
    });
    await assert.rejects(storage.put('denied/object', Buffer.from('x')), (error: Error) => {
      assert.match(error.message, new RegExp(`^S3 PutObject s3://${bucket}/backups/denied/object failed: SignatureDoesNotMatch`));
      assert.ok(error.cause, 'the SDK error is kept as the cause');
      failures.push(error);
      return true;
    });
    for (const error of failures) assert.ok(!inspect(error, { depth: Infinity }).includes(wrongSecret), error.message);
  });

  void test('an unknown access key id is named as unknown', async () => {
    const storage = new S3ObjectStorage(target, { accessKeyId: 'nobody-here', secretAccessKey: 'irrelevant-secret' });
    await assert.rejects(storage.probe(), /access key id "nobody-here" is not known/);
  });
});

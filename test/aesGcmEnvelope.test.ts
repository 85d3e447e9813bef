import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { pipeline as pipelineStreams, Readable, type Transform } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { describe, test } from 'node:test';
import { ApplicationFailure } from '@temporalio/common';
import { FailureType } from '../common/failures';
import { streamingRun } from './support/streamingRun';
import { AES_GCM_MAGIC, aesGcmKeyId, isAesGcmSealed, openAesGcm, parseAesGcmKey, sealAesGcm } from '../lib/encryption/aesGcmEnvelope';

const CHUNK = 1024;
const HEADER = 60;
const SEALED = CHUNK + 16;
const MiB = 1024 * 1024;
const OBJECT = 'a/b';

const key = randomBytes(32);
const keys = new Map([[aesGcmKeyId(key), key]]);

// The bytes in pieces of `size` (the last shorter): writes that straddle chunk boundaries.
function pieces(bytes: Buffer, size: number): Readable {
  return Readable.from(
    (function* () {
      for (let at = 0; at < bytes.length; at += size) yield bytes.subarray(at, at + size);
    })(),
  );
}

// Runs the bytes through the transform; `seen` gets every output chunk, also when it fails.
async function through(bytes: Buffer, transform: Transform, size = 5000, seen: Buffer[] = []): Promise<Buffer> {
  await pipeline(pieces(bytes, size), transform, async (source: AsyncIterable<Buffer>) => {
    for await (const chunk of source) seen.push(chunk);
  });
  return Buffer.concat(seen);
}

const seal = (plaintext: Buffer, objectKey = OBJECT, size = 7) => through(plaintext, sealAesGcm(key, objectKey, CHUNK), size);
const open = (sealed: Buffer, objectKey = OBJECT, seen: Buffer[] = [], withKeys: Map<string, Buffer> = keys) =>
  through(sealed, openAesGcm(withKeys, objectKey, 'artifact x'), 5000, seen);

async function refused(sealed: Buffer, types: string[], objectKey = OBJECT): Promise<ApplicationFailure> {
  let caught: unknown;
  await open(sealed, objectKey).then(
    () => assert.fail('opened'),
    (error: unknown) => (caught = error),
  );
  assert.ok(caught instanceof ApplicationFailure, String(caught));
  assert.ok(types.includes(caught.type ?? ''), `${caught.type}: ${caught.message}`);
  assert.equal(caught.nonRetryable, true);
  assert.match(caught.message, /artifact x/);
  return caught;
}
const unauthentic = (sealed: Buffer, objectKey = OBJECT) => refused(sealed, [FailureType.ManifestChecksumMismatch], objectKey);
const flipped = (bytes: Buffer, at: number) => {
  const copy = Buffer.from(bytes);
  copy[at] = (copy[at] ?? 0) ^ 0x01;
  return copy;
};

describe('aes-gcm envelope', () => {
  for (const length of [0, 1, CHUNK - 1, CHUNK, CHUNK + 1, 3 * CHUNK]) {
    test(`round trip of ${length} bytes, written in odd pieces`, async () => {
      const plaintext = randomBytes(length);
      for (const size of [7, 5000]) {
        const sealed = await seal(plaintext, OBJECT, size);
        assert.ok(isAesGcmSealed(sealed));
        // Full chunks, then a last one strictly shorter (only a tag when the length is a multiple).
        const full = Math.floor(length / CHUNK);
        assert.equal(sealed.length, HEADER + full * SEALED + (length % CHUNK) + 16);
        assert.ok(!sealed.includes(plaintext.subarray(0, 64)) || length < 64);
        assert.deepEqual(await open(sealed), plaintext);
        assert.deepEqual(await through(sealed, openAesGcm(keys, OBJECT, 'x'), 7), plaintext);
      }
    });
  }

  test('the header: magic, key id, salt, chunk size', async () => {
    const sealed = await seal(randomBytes(10));
    assert.deepEqual(sealed.subarray(0, 8), AES_GCM_MAGIC);
    assert.equal(sealed.subarray(8, 24).toString('hex'), aesGcmKeyId(key));
    assert.equal(sealed.readUInt32BE(56), CHUNK);
    assert.equal(isAesGcmSealed(Buffer.from('RVAEAD1')), false);
    assert.equal(isAesGcmSealed(Buffer.from('{"json":true}')), false);
  });

  test('two seals of the same bytes differ (random salt)', async () => {
    const plaintext = randomBytes(2 * CHUNK + 5);
    const first = await seal(plaintext);
    const second = await seal(plaintext);
    assert.notDeepEqual(first.subarray(24, 56), second.subarray(24, 56));
    assert.notDeepEqual(first.subarray(HEADER), second.subarray(HEADER));
  });

  test('every altered header byte is refused', async () => {
    const sealed = await seal(randomBytes(CHUNK + 10));
    for (let at = 0; at < HEADER; at++) {
      // The key id bytes name another key: refused as a missing key, not opened.
      const types = at >= 8 && at < 24 ? [FailureType.EncryptionKeyMissing] : [FailureType.ManifestChecksumMismatch, FailureType.ManifestInvalid];
      await refused(flipped(sealed, at), types);
    }
  });

  test('an altered middle chunk fails, and no plaintext of it is released', async () => {
    const plaintext = randomBytes(3 * CHUNK + 100);
    const sealed = flipped(await seal(plaintext), HEADER + SEALED + 17);
    await unauthentic(sealed);
    // Written by hand so nothing released is lost to the pipeline's teardown.
    const opener = openAesGcm(keys, OBJECT, 'artifact x');
    const released: Buffer[] = [];
    opener.on('data', (chunk: Buffer) => released.push(chunk));
    const failed = new Promise((resolve) => opener.on('error', resolve));
    opener.write(sealed.subarray(0, HEADER + SEALED + 1));
    opener.write(sealed.subarray(HEADER + SEALED + 1));
    opener.end();
    assert.equal(((await failed) as ApplicationFailure).type, FailureType.ManifestChecksumMismatch);
    assert.deepEqual(Buffer.concat(released), plaintext.subarray(0, CHUNK));
  });

  test('an altered last tag fails', async () => {
    const sealed = await seal(randomBytes(2 * CHUNK + 100));
    await unauthentic(flipped(sealed, sealed.length - 1));
    const empty = await seal(randomBytes(2 * CHUNK));
    await unauthentic(flipped(empty, empty.length - 3));
  });

  test('truncation is refused: at a chunk boundary, inside a chunk, inside the header', async () => {
    const sealed = await seal(randomBytes(3 * CHUNK + 100));
    for (const chunks of [0, 1, 2, 3]) await unauthentic(sealed.subarray(0, HEADER + chunks * SEALED));
    // Without the empty last chunk of a multiple of the chunk size.
    const multiple = await seal(randomBytes(2 * CHUNK));
    await unauthentic(multiple.subarray(0, multiple.length - 16));
    await unauthentic(sealed.subarray(0, HEADER + SEALED + 10));
    await unauthentic(sealed.subarray(0, sealed.length - 1));
    await unauthentic(sealed.subarray(0, 30));
    await unauthentic(Buffer.alloc(0));
    await refused(Buffer.from('plain text'), [FailureType.ManifestInvalid]);
  });

  test('swapped chunks are refused', async () => {
    const sealed = await seal(randomBytes(3 * CHUNK + 100));
    const chunk = (n: number) => sealed.subarray(HEADER + n * SEALED, HEADER + (n + 1) * SEALED);
    const swapped = Buffer.concat([sealed.subarray(0, HEADER), chunk(1), chunk(0), sealed.subarray(HEADER + 2 * SEALED)]);
    await unauthentic(swapped);
    // A chunk from another artifact under the same key, at the same position.
    const other = await seal(randomBytes(3 * CHUNK + 100));
    await unauthentic(Buffer.concat([sealed.subarray(0, HEADER), other.subarray(HEADER, HEADER + SEALED), sealed.subarray(HEADER + SEALED)]));
  });

  test('sealed for one object key, it does not open as another', async () => {
    const plaintext = randomBytes(100);
    const sealed = await seal(plaintext, 'a/b');
    await unauthentic(sealed, 'a/c');
    assert.deepEqual(await open(sealed, 'a/b'), plaintext);
  });

  test('an unknown key fails with EncryptionKeyMissing, naming its id', async () => {
    const sealed = await seal(randomBytes(100));
    const other = randomBytes(32);
    for (const withKeys of [new Map([[aesGcmKeyId(other), other]]), new Map<string, Buffer>()]) {
      const error = await open(sealed, OBJECT, [], withKeys).then(
        () => assert.fail('opened'),
        (caught: unknown) => caught,
      );
      assert.ok(error instanceof ApplicationFailure);
      assert.equal(error.type, FailureType.EncryptionKeyMissing);
      assert.equal(error.nonRetryable, true);
      assert.ok(error.message.includes(aesGcmKeyId(key)), error.message);
      assert.ok(!error.message.includes(key.toString('hex')));
      assert.match(error.message, withKeys.size ? new RegExp(aesGcmKeyId(other)) : /no aes-gcm key/);
    }
    // With the previous key among others it opens.
    const both = new Map([...keys, [aesGcmKeyId(other), other]]);
    assert.equal((await open(sealed, OBJECT, [], both)).length, 100);
  });

  test('64 MiB seals and opens streaming, without buffering it', async () => {
    const total = 64 * MiB;
    const { bytes, sameBytes, rssGrowth, producedAtFirstOutput } = await streamingRun(total, async (source) => pipelineStreams(source, sealAesGcm(key, OBJECT), openAesGcm(keys, OBJECT, 'big'), () => undefined));
    assert.equal(bytes, total);
    assert.ok(sameBytes, 'the same bytes come out');
    assert.ok(rssGrowth < 48 * MiB, `RSS grew by ${(rssGrowth / MiB).toFixed(1)} MiB`);
    // Plaintext comes out while the source is still being read.
    assert.ok(producedAtFirstOutput < 16 * MiB, `first plaintext after ${producedAtFirstOutput} bytes read`);
  });

  test('the sealer refuses a chunk size the opener would refuse, and a key that is not 32 bytes', () => {
    assert.throws(() => sealAesGcm(key, OBJECT, 1023), RangeError);
    assert.throws(() => sealAesGcm(key, OBJECT, 16 * MiB + 1), RangeError);
    assert.throws(() => sealAesGcm(randomBytes(31), OBJECT), RangeError);
  });
});

describe('aes-gcm keys', () => {
  test('parseAesGcmKey accepts 64 hex digits and base64 of 32 bytes', () => {
    assert.deepEqual(parseAesGcmKey(key.toString('hex'), 'k'), key);
    assert.deepEqual(parseAesGcmKey(`  ${key.toString('hex').toUpperCase()}\n`, 'k'), key);
    assert.deepEqual(parseAesGcmKey(key.toString('base64'), 'k'), key);
    assert.deepEqual(parseAesGcmKey(`${key.toString('base64')}\n`, 'k'), key);
  });

  test('parseAesGcmKey refuses anything else without echoing it', () => {
    const short = randomBytes(31);
    for (const text of [short.toString('hex'), short.toString('base64'), randomBytes(33).toString('base64'), `${key.toString('hex')}0`, '', 'not a key at all!']) {
      assert.throws(
        () => parseAesGcmKey(text, 'targets.prod.encryption.key'),
        (error: unknown) => {
          assert.ok(error instanceof ApplicationFailure);
          assert.equal(error.type, FailureType.InvalidInput);
          assert.equal(error.nonRetryable, true);
          assert.equal(error.message, 'targets.prod.encryption.key: an aes-gcm key must be 32 bytes, as 64 hex digits or base64');
          if (text) assert.ok(!error.message.includes(text));
          return true;
        },
      );
    }
  });

  test('aesGcmKeyId is stable, 32 hex digits, and not the key', () => {
    const fixed = Buffer.alloc(32, 7);
    const expected = createHash('sha256').update('rabbitvault aes-gcm key id v1\0').update(fixed).digest().subarray(0, 16).toString('hex');
    assert.equal(aesGcmKeyId(fixed), expected);
    assert.equal(aesGcmKeyId(Buffer.from(fixed)), expected);
    assert.match(aesGcmKeyId(key), /^[0-9a-f]{32}$/);
    assert.notEqual(aesGcmKeyId(key), aesGcmKeyId(randomBytes(32)));
    assert.ok(!key.toString('hex').includes(aesGcmKeyId(key)));
  });
});

import { ApplicationFailure } from '@temporalio/common';
import { createCipheriv, createDecipheriv, createHash, hkdfSync, randomBytes } from 'node:crypto';
import { Transform, type TransformCallback } from 'node:stream';
import { FailureType } from '../../common/failures';

// A streaming AES-256-GCM envelope for backup artifacts: the STREAM construction
// (as in age). The plaintext is cut into chunks sealed one by one, each nonce
// carrying the chunk's position and whether it is the last, so chunks cannot be
// reordered, dropped or cut off without a tag failing. Layout:
//   header  magic(8) | key id(16) | salt(32) | chunk size u32 BE(4)   = 60 bytes
//   chunks  ciphertext | tag(16), every chunk exactly `chunk size` bytes of
//           plaintext except the last, which is always shorter (maybe empty).
// Every chunk authenticates the whole header (AAD), and the content key is
// derived from the object key, so an artifact copied to another key does not open.

export const AES_GCM_MAGIC = Buffer.from('RVAEAD1\n');

const KEY_BYTES = 32;
const KEY_ID_BYTES = 16;
const SALT_BYTES = 32;
const TAG_BYTES = 16;
const HEADER_BYTES = AES_GCM_MAGIC.length + KEY_ID_BYTES + SALT_BYTES + 4;
// The opener allocates a chunk from the header's size: bounded, as storage is untrusted.
const MIN_CHUNK = 1024;
const MAX_CHUNK = 16 * 1024 * 1024;
// node:crypto refuses a longer HKDF info.
const MAX_HKDF_INFO = 1024;

const KEY_ID_CONTEXT = Buffer.from('rabbitvault aes-gcm key id v1\0');
const CONTENT_KEY_CONTEXT = Buffer.from('rabbitvault artifact v1\0');

function keyIdBytes(masterKey: Buffer): Buffer {
  return createHash('sha256').update(KEY_ID_CONTEXT).update(masterKey).digest().subarray(0, KEY_ID_BYTES);
}

// The key's public fingerprint (manifests and messages name keys by it): a hash, never the key.
export function aesGcmKeyId(masterKey: Buffer): string {
  return keyIdBytes(masterKey).toString('hex');
}

// A key as configuration holds it. The message names the field only: the text is a secret.
export function parseAesGcmKey(text: string, field: string): Buffer {
  const trimmed = text.trim();
  let key: Buffer | undefined;
  if (/^[0-9a-fA-F]{64}$/.test(trimmed)) key = Buffer.from(trimmed, 'hex');
  else if (/^[A-Za-z0-9+/_-]+={0,2}$/.test(trimmed)) key = Buffer.from(trimmed, 'base64');
  if (key?.length !== KEY_BYTES) {
    throw ApplicationFailure.create({ message: `${field}: an aes-gcm key must be 32 bytes, as 64 hex digits or base64`, type: FailureType.InvalidInput, nonRetryable: true });
  }
  return key;
}

export function isAesGcmSealed(head: Buffer): boolean {
  return head.length >= AES_GCM_MAGIC.length && head.subarray(0, AES_GCM_MAGIC.length).equals(AES_GCM_MAGIC);
}

// One key per artifact (fresh salt, bound to the object key): nonces restart at 0
// in every artifact without ever repeating under one key.
function contentKey(masterKey: Buffer, salt: Buffer, objectKey: string): Buffer {
  const info = Buffer.concat([CONTENT_KEY_CONTEXT, Buffer.from(objectKey, 'utf8')]);
  if (info.length > MAX_HKDF_INFO) throw new RangeError(`object key too long for the aes-gcm envelope (${Buffer.byteLength(objectKey)} bytes)`);
  return Buffer.from(hkdfSync('sha256', masterKey, salt, info, KEY_BYTES));
}

function nonce(counter: number, last: boolean): Buffer {
  const bytes = Buffer.alloc(12);
  bytes.writeBigUInt64BE(BigInt(counter), 0);
  bytes[11] = last ? 1 : 0;
  return bytes;
}

class AesGcmSealer extends Transform {
  private readonly header: Buffer;
  private readonly key: Buffer;
  // Plaintext waiting for a full chunk: the only buffering, one chunk at most.
  private readonly block: Buffer;
  private filled = 0;
  private counter = 0;
  private started = false;

  constructor(masterKey: Buffer, objectKey: string, private readonly chunkSize: number) {
    super();
    if (masterKey.length !== KEY_BYTES) throw new RangeError(`an aes-gcm key must be ${KEY_BYTES} bytes`);
    if (!Number.isInteger(chunkSize) || chunkSize < MIN_CHUNK || chunkSize > MAX_CHUNK) {
      throw new RangeError(`aes-gcm chunk size ${chunkSize} is outside ${MIN_CHUNK}..${MAX_CHUNK}`);
    }
    const salt = randomBytes(SALT_BYTES);
    const size = Buffer.alloc(4);
    size.writeUInt32BE(chunkSize, 0);
    this.header = Buffer.concat([AES_GCM_MAGIC, keyIdBytes(masterKey), salt, size]);
    this.key = contentKey(masterKey, salt, objectKey);
    this.block = Buffer.allocUnsafe(chunkSize);
  }

  override _transform(data: Buffer, _encoding: BufferEncoding, done: TransformCallback): void {
    try {
      this.start();
      let offset = 0;
      while (offset < data.length) {
        // A full chunk is never the last one (the last is always shorter): seal it at once.
        if (this.filled === 0 && data.length - offset >= this.chunkSize) {
          this.seal(data.subarray(offset, offset + this.chunkSize), false);
          offset += this.chunkSize;
          continue;
        }
        const take = Math.min(this.chunkSize - this.filled, data.length - offset);
        data.copy(this.block, this.filled, offset, offset + take);
        this.filled += take;
        offset += take;
        if (this.filled === this.chunkSize) {
          this.seal(this.block, false);
          this.filled = 0;
        }
      }
      done();
    } catch (error) {
      done(error as Error);
    }
  }

  override _flush(done: TransformCallback): void {
    try {
      this.start();
      this.seal(this.block.subarray(0, this.filled), true);
      done();
    } catch (error) {
      done(error as Error);
    }
  }

  private start(): void {
    if (this.started) return;
    this.started = true;
    this.push(this.header);
  }

  private seal(plaintext: Buffer, last: boolean): void {
    const cipher = createCipheriv('aes-256-gcm', this.key, nonce(this.counter++, last), { authTagLength: TAG_BYTES });
    cipher.setAAD(this.header);
    const ciphertext = cipher.update(plaintext);
    cipher.final();
    if (ciphertext.length > 0) this.push(ciphertext);
    this.push(cipher.getAuthTag());
  }
}

// Encrypts a stream as the envelope above. chunkSize is the plaintext per chunk.
export function sealAesGcm(masterKey: Buffer, objectKey: string, chunkSize = 1024 * 1024): Transform {
  return new AesGcmSealer(masterKey, objectKey, chunkSize);
}

class AesGcmOpener extends Transform {
  private readonly header = Buffer.alloc(HEADER_BYTES);
  private headerFilled = 0;
  private key: Buffer | undefined;
  // One sealed chunk (ciphertext and tag); whether it is the last is known only
  // once another byte arrives or the stream ends, so it waits here until then.
  private block = Buffer.alloc(0);
  private filled = 0;
  private counter = 0;

  constructor(private readonly keys: Map<string, Buffer>, private readonly objectKey: string, private readonly describe: string) {
    super();
  }

  override _transform(data: Buffer, _encoding: BufferEncoding, done: TransformCallback): void {
    try {
      let offset = 0;
      if (this.key === undefined) {
        const take = Math.min(HEADER_BYTES - this.headerFilled, data.length);
        data.copy(this.header, this.headerFilled, 0, take);
        this.headerFilled += take;
        offset = take;
        if (this.headerFilled < HEADER_BYTES) return done();
        this.readHeader();
      }
      const sealed = this.block.length;
      while (offset < data.length) {
        // More bytes follow the chunk held: it is not the last.
        if (this.filled === sealed) {
          this.open(this.block, false);
          this.filled = 0;
        }
        if (this.filled === 0 && data.length - offset > sealed) {
          this.open(data.subarray(offset, offset + sealed), false);
          offset += sealed;
          continue;
        }
        const take = Math.min(sealed - this.filled, data.length - offset);
        data.copy(this.block, this.filled, offset, offset + take);
        this.filled += take;
        offset += take;
      }
      done();
    } catch (error) {
      done(error as Error);
    }
  }

  override _flush(done: TransformCallback): void {
    try {
      if (this.key === undefined) {
        const seen = Math.min(this.headerFilled, AES_GCM_MAGIC.length);
        if (!this.header.subarray(0, seen).equals(AES_GCM_MAGIC.subarray(0, seen))) throw this.invalid('is not an aes-gcm sealed artifact');
        throw this.unauthentic();
      }
      // The last chunk holds less than a full chunk of plaintext: a full one here
      // means the stream was cut at a chunk boundary.
      if (this.filled < TAG_BYTES || this.filled === this.block.length) throw this.unauthentic();
      this.open(this.block.subarray(0, this.filled), true);
      done();
    } catch (error) {
      done(error as Error);
    }
  }

  private readHeader(): void {
    if (!isAesGcmSealed(this.header)) throw this.invalid('is not an aes-gcm sealed artifact');
    const chunkSize = this.header.readUInt32BE(HEADER_BYTES - 4);
    if (chunkSize < MIN_CHUNK || chunkSize > MAX_CHUNK) throw this.invalid(`has an aes-gcm chunk size of ${chunkSize}, outside ${MIN_CHUNK}..${MAX_CHUNK}`);
    const keyIdStart = AES_GCM_MAGIC.length;
    const keyId = this.header.subarray(keyIdStart, keyIdStart + KEY_ID_BYTES).toString('hex');
    const masterKey = this.keys.get(keyId);
    if (masterKey === undefined) {
      throw ApplicationFailure.create({
        message: `${this.describe} is encrypted with the aes-gcm key ${keyId}; this worker holds ${[...this.keys.keys()].join(', ') || 'no aes-gcm key'}: add that key to the target's encryption.previousKeys`,
        type: FailureType.EncryptionKeyMissing,
        nonRetryable: true,
      });
    }
    const salt = this.header.subarray(keyIdStart + KEY_ID_BYTES, keyIdStart + KEY_ID_BYTES + SALT_BYTES);
    this.key = contentKey(masterKey, salt, this.objectKey);
    this.block = Buffer.allocUnsafe(chunkSize + TAG_BYTES);
  }

  // Plaintext leaves only after its tag verified: nothing unauthenticated reaches a restore.
  private open(sealed: Buffer, last: boolean): void {
    const key = this.key as Buffer;
    const decipher = createDecipheriv('aes-256-gcm', key, nonce(this.counter++, last), { authTagLength: TAG_BYTES });
    decipher.setAAD(this.header);
    decipher.setAuthTag(sealed.subarray(sealed.length - TAG_BYTES));
    const plaintext = decipher.update(sealed.subarray(0, sealed.length - TAG_BYTES));
    try {
      decipher.final();
    } catch {
      throw this.unauthentic();
    }
    if (plaintext.length > 0) this.push(plaintext);
  }

  private invalid(what: string): ApplicationFailure {
    return ApplicationFailure.create({ message: `${this.describe} ${what}`, type: FailureType.ManifestInvalid, nonRetryable: true });
  }

  private unauthentic(): ApplicationFailure {
    return ApplicationFailure.create({
      message: `${this.describe} failed authentication (aes-gcm): it was altered, truncated or sealed for another object`,
      type: FailureType.ManifestChecksumMismatch,
      nonRetryable: true,
    });
  }
}

// Decrypts an envelope. keys maps key id (aesGcmKeyId) to master key: the current
// key and the previous ones, so artifacts sealed before a rotation still open.
// `describe` names the artifact in failures.
export function openAesGcm(keys: Map<string, Buffer>, objectKey: string, describe: string): Transform {
  return new AesGcmOpener(keys, objectKey, describe);
}

import { ApplicationFailure } from '@temporalio/common';
import { createHash, randomBytes } from 'node:crypto';
import { pipeline, type Readable } from 'node:stream';
import { FailureType } from '../../common/failures';
import type { SetEncryption } from '../../common/manifest';
import type { ArtifactEncryption } from '../../config/schema';
import { resolveSecret } from '../secrets/resolveSecret';
import { resumedStream } from '../storage/resumedStream';
import { keyMissing, once, type ArtifactCipher } from './artifactCipher';
import { openSessionKey, readDecryptionKey, readRecipient, readSigningKey, sessionKeyPackets, sessionKeyRecipients, signDetached, verifyDetached } from './openpgpKeys';
import { openSeipd, readPacketHeader, sealSeipd } from './openpgpStream';

type OpenpgpConfig = Extract<ArtifactEncryption, { type: 'openpgp' }>;

// Session key packets are a few hundred bytes per recipient: more than this
// before the encrypted data starts is not a message rabbitvault wrote.
const MAX_SESSION_KEY_BYTES = 64 * 1024;
const MAX_CACHED_SESSION_KEYS = 4096;
const PKESK = 1;
const SEIPD = 18;

// Every artifact becomes an OpenPGP message for the recipients' public keys,
// which `gpg --decrypt` opens; the worker opens it with decryptionKeys (the
// current private key and those of rotated-out recipients).
export function createOpenpgpCipher(field: string, config: OpenpgpConfig): ArtifactCipher {
  const recipients = once(() => Promise.all(config.recipients.map((ref, i) => readRecipient(resolveSecret(ref, `${field}.recipients[${i}]`), `${field}.recipients[${i}]`))));
  const decryptionKeys = once(() =>
    Promise.all(
      config.decryptionKeys.map((entry, i) => {
        const where = `${field}.decryptionKeys[${i}]`;
        return readDecryptionKey(resolveSecret(entry.key, `${where}.key`), entry.passphrase ? resolveSecret(entry.passphrase, `${where}.passphrase`) : undefined, where);
      }),
    ),
  );
  const signer = once(async () => {
    const entry = config.signingKey;
    if (!entry) return undefined;
    const where = `${field}.signingKey`;
    return readSigningKey(resolveSecret(entry.key, `${where}.key`), entry.passphrase ? resolveSecret(entry.passphrase, `${where}.passphrase`) : undefined, where);
  });
  // The signing key's public half and the rotated-out signing keys.
  const trustedSigners = once(async () => {
    const own = await signer();
    const others = await Promise.all(config.verificationKeys.map((ref, i) => readRecipient(resolveSecret(ref, `${field}.verificationKeys[${i}]`), `${field}.verificationKeys[${i}]`, 'sign')));
    return [...(own ? [{ fingerprint: own.fingerprint, key: own.key.toPublic() }] : []), ...others];
  });
  // A private-key operation takes tens to hundreds of milliseconds in
  // openpgp.js; a restore opens each artifact twice (verify, then restore),
  // so session keys are kept per session key packets, in this worker's memory only.
  const sessionKeys = new Map<string, Buffer>();
  const cacheKeyOf = (packets: Buffer) => createHash('sha256').update(packets).digest('hex');
  const remember = (packets: Buffer, sessionKey: Buffer) => {
    if (sessionKeys.size >= MAX_CACHED_SESSION_KEYS) sessionKeys.delete(sessionKeys.keys().next().value!);
    sessionKeys.set(cacheKeyOf(packets), sessionKey);
  };
  const hint = `add its private key to ${field}.decryptionKeys`;
  // The session key behind a message's session key packets, from the cache or a configured private key.
  const sessionKeyOf = async (packets: Buffer, where: string): Promise<Buffer> => {
    const cached = sessionKeys.get(cacheKeyOf(packets));
    if (cached) return cached;
    const { message, keyIds } = await sessionKeyRecipients(packets);
    const keys = await decryptionKeys();
    const usable = keys.filter((k) => k.keyIds.some((id) => keyIds.includes(id)));
    if (usable.length === 0) {
      throw ApplicationFailure.create({
        message: `${where} is encrypted (openpgp) for key ID ${keyIds.join(', ')}; this worker holds ${keys.map((k) => k.fingerprint).join(', ') || 'no private key'}: ${hint}`,
        type: FailureType.EncryptionKeyMissing,
        nonRetryable: true,
      });
    }
    const sessionKey = await openSessionKey(message, usable, where);
    remember(packets, sessionKey);
    return sessionKey;
  };
  return {
    type: 'openpgp',
    async sealedFor(): Promise<SetEncryption> {
      return { type: 'openpgp', keys: (await recipients()).map((r) => r.fingerprint) };
    },
    async seal(objectKey) {
      const sessionKey = randomBytes(32);
      const packets = await sessionKeyPackets(sessionKey, await recipients());
      // The backup reads its artifact back to verify it: no private-key operation for that.
      remember(packets, sessionKey);
      return sealSeipd(sessionKey, objectKey.slice(objectKey.lastIndexOf('/') + 1), packets);
    },
    isSealed(head) {
      const first = head[0];
      if (first === undefined) return false;
      // A public-key encrypted session key packet, new or old format.
      return (first & 0xc0) === 0xc0 ? (first & 0x3f) === PKESK : (first & 0xc0) === 0x80 && ((first >> 2) & 0x0f) === PKESK;
    },
    async open(stored, _objectKey, where) {
      const { head, rest } = await readSessionKeyPackets(stored, where).catch((error: unknown) => {
        stored.destroy();
        throw error;
      });
      try {
        return pipeline(rest, openSeipd(await sessionKeyOf(head.packets, where), head.seipd, where), () => undefined);
      } catch (error) {
        rest.destroy();
        throw error;
      }
    },
    requiresSignature: config.signingKey !== undefined || config.verificationKeys.length > 0,
    async signManifest(bytes) {
      const key = await signer();
      return key ? signDetached(bytes, key) : undefined;
    },
    async checkManifestSignature(bytes, signature, where) {
      const trusted = await trustedSigners();
      if (!signature) {
        throw ApplicationFailure.create({
          message: `${where} has no manifest signature, but ${field} trusts only sets signed by ${trusted.map((k) => k.fingerprint).join(', ')}: refused`,
          type: FailureType.ManifestInvalid,
          nonRetryable: true,
        });
      }
      return verifyDetached(bytes, signature, trusted, where);
    },
    async checkCanOpen(encryption, where) {
      const keys = await decryptionKeys();
      if (encryption.type !== 'openpgp' || !encryption.keys.some((fpr) => keys.some((k) => k.fingerprint === fpr))) {
        throw keyMissing(where, encryption, keys.map((k) => `openpgp ${k.fingerprint}`), hint);
      }
    },
  };
}

// Reads the session key packets and the encrypted data packet's header; the
// rest of the stream (the encrypted body) is handed on unread.
async function readSessionKeyPackets(stored: Readable, where: string) {
  const chunks = stored[Symbol.asyncIterator]() as AsyncIterator<Buffer>;
  let buf = Buffer.alloc(0);
  let at = 0;
  for (;;) {
    const header = readPacketHeader(buf.subarray(at), where);
    if (header && header.tag === SEIPD) {
      const packets = buf.subarray(0, at);
      if (packets.length === 0) throw refuse(where, 'no session key packet precedes the encrypted data');
      const body = buf.subarray(at + header.headerLength);
      const rest = resumedStream([body], chunks);
      return { head: { packets, seipd: header }, rest };
    }
    if (header) {
      if (header.tag !== PKESK || header.partial || header.length === null) throw refuse(where, `packet ${header.tag} where session keys belong`);
      if (buf.length - at >= header.headerLength + header.length) {
        at += header.headerLength + header.length;
        continue;
      }
    }
    if (buf.length > MAX_SESSION_KEY_BYTES) throw refuse(where, `more than ${MAX_SESSION_KEY_BYTES} bytes of session key packets`);
    const next = await chunks.next();
    if (next.done) throw refuse(where, 'it ends before its encrypted data');
    buf = Buffer.concat([buf, next.value]);
  }
}

function refuse(where: string, why: string): ApplicationFailure {
  return ApplicationFailure.create({ message: `${where} is not an OpenPGP message rabbitvault can open: ${why}`, type: FailureType.ManifestInvalid, nonRetryable: true });
}

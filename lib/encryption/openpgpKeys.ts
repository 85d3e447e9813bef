import { ApplicationFailure } from '@temporalio/common';
import type * as OpenPGP from 'openpgp' with { 'resolution-mode': 'import' };
import { FailureType } from '../../common/failures';

// openpgp ships a CommonJS build beside its ES module: the worker loads that one.
// eslint-disable-next-line @typescript-eslint/no-require-imports
const openpgp = require('openpgp') as typeof OpenPGP;

// Keys and session keys through openpgp.js (RSA, Curve25519, P-256 and the
// rest, as gpg makes them); the bulk data never goes through it
// (lib/encryption/openpgpStream.ts).

export interface Recipient {
  // The primary key's fingerprint, upper-case hex as `gpg --list-keys` prints it.
  fingerprint: string;
  key: OpenPGP.Key;
}

export interface DecryptionKey {
  fingerprint: string;
  // Key IDs (hex) of the primary key and every subkey: session key packets name one of them.
  keyIds: string[];
  key: OpenPGP.PrivateKey;
}

function invalidKey(field: string, why: string): ApplicationFailure {
  return ApplicationFailure.create({ message: `${field}: ${why}`, type: FailureType.InvalidInput, nonRetryable: true });
}

// purpose 'encrypt': a recipient of new sets; 'sign': a key whose signatures are trusted.
export async function readRecipient(armored: string, field: string, purpose: 'encrypt' | 'sign' = 'encrypt'): Promise<Recipient> {
  let key: OpenPGP.Key;
  try {
    key = await openpgp.readKey({ armoredKey: armored });
  } catch (error) {
    throw invalidKey(field, `not an armored OpenPGP public key (${(error as Error).message.split('\n')[0]})`);
  }
  try {
    await (purpose === 'encrypt' ? key.getEncryptionKey() : key.getSigningKey());
  } catch (error) {
    throw invalidKey(field, `key ${fingerprintOf(key)} has no usable ${purpose === 'encrypt' ? 'encryption' : 'signing'} key (${(error as Error).message.split('\n')[0]})`);
  }
  return { fingerprint: fingerprintOf(key), key: key.isPrivate() ? key.toPublic() : key };
}

export async function readDecryptionKey(armored: string, passphrase: string | undefined, field: string): Promise<DecryptionKey> {
  let key: OpenPGP.PrivateKey;
  try {
    key = await openpgp.readPrivateKey({ armoredKey: armored });
  } catch (error) {
    throw invalidKey(field, `not an armored OpenPGP private key (${(error as Error).message.split('\n')[0]})`);
  }
  if (!key.isDecrypted()) {
    if (passphrase === undefined) throw invalidKey(field, `key ${fingerprintOf(key)} is protected by a passphrase: add its passphrase reference`);
    try {
      key = await openpgp.decryptKey({ privateKey: key, passphrase });
    } catch {
      throw invalidKey(field, `the passphrase does not unlock key ${fingerprintOf(key)}`);
    }
  }
  return { fingerprint: fingerprintOf(key), keyIds: key.getKeyIDs().map((id) => id.toHex()), key };
}

export function fingerprintOf(key: OpenPGP.Key): string {
  return key.getFingerprint().toUpperCase();
}

// The session key packets (one per recipient) that open an AES-256 session key.
export async function sessionKeyPackets(sessionKey: Buffer, recipients: Recipient[]): Promise<Buffer> {
  const packets = await openpgp.encryptSessionKey({
    data: new Uint8Array(sessionKey),
    algorithm: 'aes256',
    encryptionKeys: recipients.map((r) => r.key),
    format: 'binary',
  });
  return Buffer.from(packets);
}

// The key IDs the session key packets are addressed to (untrusted bytes: parsed by openpgp.js).
export async function sessionKeyRecipients(packets: Buffer): Promise<{ message: OpenPGP.Message<Uint8Array>; keyIds: string[] }> {
  const message = await openpgp.readMessage({ binaryMessage: new Uint8Array(packets) });
  return { message, keyIds: message.getEncryptionKeyIDs().map((id) => id.toHex()) };
}

export async function openSessionKey(message: OpenPGP.Message<Uint8Array>, keys: DecryptionKey[], where: string): Promise<Buffer> {
  let opened: Awaited<ReturnType<typeof openpgp.decryptSessionKeys>>;
  try {
    opened = await openpgp.decryptSessionKeys({ message, decryptionKeys: keys.map((k) => k.key) });
  } catch (error) {
    throw ApplicationFailure.create({
      message: `${where}: no configured key opens its session key (${(error as Error).message.split('\n')[0]})`,
      type: FailureType.EncryptionKeyMissing,
      nonRetryable: true,
    });
  }
  const first = opened[0];
  if (!first || first.algorithm !== 'aes256' || first.data.length !== 32) {
    throw ApplicationFailure.create({ message: `${where}: its session key is not AES-256 (rabbitvault writes AES-256)`, type: FailureType.ManifestInvalid, nonRetryable: true });
  }
  return Buffer.from(first.data);
}

export async function readSigningKey(armored: string, passphrase: string | undefined, field: string): Promise<DecryptionKey> {
  const key = await readDecryptionKey(armored, passphrase, field);
  try {
    await key.key.getSigningKey();
  } catch (error) {
    throw invalidKey(field, `key ${key.fingerprint} cannot sign (${(error as Error).message.split('\n')[0]})`);
  }
  return key;
}

// A detached binary signature, as `gpg --detach-sign` makes and `gpg --verify SIG FILE` checks.
export async function signDetached(bytes: Buffer, signer: DecryptionKey): Promise<Buffer> {
  const message = await openpgp.createMessage({ binary: new Uint8Array(bytes) });
  return Buffer.from(await openpgp.sign({ message, signingKeys: signer.key, detached: true, format: 'binary' }));
}

// The fingerprint of the key that signed bytes; fails (non-retryable) when no trusted key did.
export async function verifyDetached(bytes: Buffer, signature: Buffer, trusted: Recipient[], where: string): Promise<string> {
  const refuse = (why: string) =>
    ApplicationFailure.create({ message: `${where}: ${why}; trusted signing keys: ${trusted.map((k) => k.fingerprint).join(', ')}`, type: FailureType.ManifestInvalid, nonRetryable: true });
  let verified: Awaited<ReturnType<typeof openpgp.verify>>;
  try {
    const message = await openpgp.createMessage({ binary: new Uint8Array(bytes) });
    verified = await openpgp.verify({ message, signature: await openpgp.readSignature({ binarySignature: new Uint8Array(signature) }), verificationKeys: trusted.map((k) => k.key), expectSigned: true, format: 'binary' });
  } catch (error) {
    throw refuse(`the manifest signature does not verify (${(error as Error).message.split('\n')[0]})`);
  }
  const keyId = verified.signatures[0]?.keyID.toHex();
  const signer = trusted.find((k) => k.key.getKeyIDs().some((id) => id.toHex() === keyId));
  if (!signer) throw refuse('the manifest is signed by an unknown key');
  return signer.fingerprint;
}

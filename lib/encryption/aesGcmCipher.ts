import type { Readable } from 'node:stream';
import { pipeline } from 'node:stream';
import type { SetEncryption } from '../../common/manifest';
import type { ArtifactEncryption } from '../../config/schema';
import { resolveSecret } from '../secrets/resolveSecret';
import { aesGcmKeyId, isAesGcmSealed, openAesGcm, parseAesGcmKey, sealAesGcm } from './aesGcmEnvelope';
import { keyMissing, once, type ArtifactCipher } from './artifactCipher';

type AesGcmConfig = Extract<ArtifactEncryption, { type: 'aes-gcm' }>;

// An AES-256-GCM envelope (lib/encryption/aesGcmEnvelope.ts) under one key from
// a secret reference; previousKeys still open sets sealed before a rotation.
export function createAesGcmCipher(field: string, config: AesGcmConfig): ArtifactCipher {
  const keys = once(async () => {
    const current = parseAesGcmKey(resolveSecret(config.key, `${field}.key`), `${field}.key`);
    const all = new Map<string, Buffer>([[aesGcmKeyId(current), current]]);
    config.previousKeys.forEach((ref, i) => {
      const key = parseAesGcmKey(resolveSecret(ref, `${field}.previousKeys[${i}]`), `${field}.previousKeys[${i}]`);
      all.set(aesGcmKeyId(key), key);
    });
    return { current, currentId: aesGcmKeyId(current), all };
  });
  return {
    type: 'aes-gcm',
    async sealedFor(): Promise<SetEncryption> {
      return { type: 'aes-gcm', keys: [(await keys()).currentId] };
    },
    async seal(objectKey) {
      return sealAesGcm((await keys()).current, objectKey);
    },
    isSealed: isAesGcmSealed,
    async open(stored: Readable, objectKey, where) {
      const opener = openAesGcm((await keys()).all, objectKey, where);
      return pipeline(stored, opener, () => undefined);
    },
    // The key authenticates every chunk: a forger without it cannot make a set that opens.
    requiresSignature: false,
    async signManifest() {
      return undefined;
    },
    async checkManifestSignature(_bytes, _signature, where) {
      throw new Error(`${where}: aes-gcm targets do not sign manifests`);
    },
    async checkCanOpen(encryption, where) {
      const { all } = await keys();
      if (encryption.type !== 'aes-gcm' || !encryption.keys.some((k) => all.has(k))) {
        throw keyMissing(where, encryption, [...all.keys()].map((k) => `aes-gcm ${k}`), `add the key to ${field}.previousKeys`);
      }
    },
  };
}

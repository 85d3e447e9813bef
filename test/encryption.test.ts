// Client-side encryption (issue 14, Best Practice 3 of the guide) against a
// real gpg (Debian's GnuPG), real RabbitMQ nodes, MinIO and Temporal.
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Readable } from 'node:stream';
import { after, before, describe, test } from 'node:test';
import type { ChannelModel } from 'amqplib';
import type { BackupDefinitionsResult } from '../contracts/definitions';
import type { BackupMessagesResult, RestoreMessagesResult } from '../contracts/messages';
import type { RestoreDrillResult } from '../contracts/drills';
import type { CopyBackupOffsiteResult as OffsiteCopyResult } from '../contracts/offsite';
import type { PruneBackupsResult } from '../contracts/retention';
import type { ValidationReport } from '../contracts/validation';
import type { VerificationReport } from '../lib/backupSets/verify';
import { createOpenpgpCipher } from '../lib/encryption/openpgpCipher';
import { openAmqp, peekAll, publishAll, numbered } from '../bench/messages/amqpFixtures';
import { RabbitvaultConfig, type ArtifactEncryption } from '../config/schema';
import { clusterEntry, failureOf, startHarness, testConfig, workflowId, type Harness } from './support/harness';
import { declareQueue, liveDefinitions } from './support/rabbitHttp';
import { ensureTestBucket } from './support/minioBucket';
import { streamingRun } from './support/streamingRun';
import { testNode } from './support/stack';

const nodeA = testNode(0);
const nodeB = testNode(1);
const sha256 = (b: Buffer) => createHash('sha256').update(b).digest('hex');

// A throwaway GnuPG home with two keys: an RSA key (gpg's default) and a
// passphrase-protected Curve25519 key (the rotation's new key).
const gnupg = mkdtempSync(path.join(os.tmpdir(), 'rabbitvault-gnupg-'));
function gpg(args: string[], input?: Buffer): Buffer {
  return execFileSync('gpg', ['--homedir', gnupg, '--batch', '--quiet', '--pinentry-mode', 'loopback', ...args], { input, maxBuffer: 1 << 28, stdio: ['pipe', 'pipe', 'pipe'] });
}
interface TestKey {
  fingerprint: string;
  publicFile: string;
  secretFile: string;
  passphraseFile?: string;
}
function makeKey(email: string, algo: string, passphrase = ''): TestKey {
  gpg(['--passphrase', passphrase, '--quick-gen-key', email, algo, 'default', 'never']);
  const fingerprint = /^fpr:+([0-9A-F]{40}):/m.exec(gpg(['--with-colons', '--fingerprint', email]).toString())![1]!;
  const publicFile = path.join(gnupg, `${email}.pub.asc`);
  const secretFile = path.join(gnupg, `${email}.sec.asc`);
  writeFileSync(publicFile, gpg(['--armor', '--export', email]));
  writeFileSync(secretFile, gpg(['--passphrase', passphrase, '--armor', '--export-secret-keys', email]));
  if (!passphrase) return { fingerprint, publicFile, secretFile };
  const passphraseFile = path.join(gnupg, `${email}.passphrase`);
  writeFileSync(passphraseFile, passphrase);
  return { fingerprint, publicFile, secretFile, passphraseFile };
}
const decryptionKey = (k: TestKey) => ({ key: `file:${k.secretFile}`, ...(k.passphraseFile ? { passphrase: `file:${k.passphraseFile}` } : {}) });
type OpenpgpEncryption = Extract<ArtifactEncryption, { type: 'openpgp' }>;
const openpgpFor = (recipient: TestKey, opens: TestKey[]): OpenpgpEncryption => ({
  type: 'openpgp',
  recipients: [`file:${recipient.publicFile}`],
  decryptionKeys: opens.map(decryptionKey),
  allowPlaintextSets: false,
  verificationKeys: [],
});
const gpgDecrypt = (file: string, passphrase = '') => gpg(['--passphrase', passphrase, '--decrypt', file]);

let rsa: TestKey;
let cv25519: TestKey;
after(() => rmSync(gnupg, { recursive: true, force: true }));

async function sealWith(encryption: ArtifactEncryption, data: Buffer): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const c of Readable.from([data]).pipe(await createOpenpgpCipher('t', encryption as never).seal('c/definitions/x/a.bin'))) chunks.push(c as Buffer);
  return Buffer.concat(chunks);
}
async function openWith(encryption: ArtifactEncryption, stored: Buffer): Promise<Buffer> {
  const chunks: Buffer[] = [];
  const pieces = [stored.subarray(0, 700), stored.subarray(700, 70_000), stored.subarray(70_000)].filter((p) => p.length);
  for await (const c of await createOpenpgpCipher('t', encryption as never).open(Readable.from(pieces), 'k', 'the artifact')) chunks.push(c as Buffer);
  return Buffer.concat(chunks);
}
async function openFailure(encryption: ArtifactEncryption, stored: Buffer): Promise<{ type?: string; message: string }> {
  try {
    await openWith(encryption, stored);
  } catch (error) {
    return { type: (error as { type?: string }).type, message: (error as Error).message };
  }
  throw new Error('expected the artifact to be refused');
}

describe('OpenPGP artifacts and a real gpg', () => {
  before(() => {
    rsa = makeKey('rsa@rabbitvault.test', 'default');
    cv25519 = makeKey('cv25519@rabbitvault.test', 'future-default', 'correct horse');
  });

  test('gpg --decrypt opens what rabbitvault seals, byte for byte, and rabbitvault opens what gpg encrypts', async () => {
    for (const [key, passphrase] of [
      [rsa, ''],
      [cv25519, 'correct horse'],
    ] as const) {
      const encryption = openpgpFor(key, [key]);
      // Empty, one partial chunk less and more than 64 KiB, and several chunks.
      for (const size of [0, 65_535, 65_537, 3 * 1024 * 1024 + 5]) {
        const data = randomBytes(size);
        const sealed = await sealWith(encryption, data);
        const file = path.join(gnupg, 'artifact.gpg');
        writeFileSync(file, sealed);
        assert.ok(gpgDecrypt(file, passphrase).equals(data), `gpg opens ${size} bytes sealed for ${key.fingerprint}`);
        assert.ok((await openWith(encryption, sealed)).equals(data), `rabbitvault opens ${size} bytes`);
      }
      const plain = path.join(gnupg, 'plain');
      const data = randomBytes(200_000);
      writeFileSync(plain, data);
      const byGpg = gpg(['--trust-model', 'always', '--compress-algo', 'none', '--cipher-algo', 'AES256', '-r', key.fingerprint, '--encrypt', '-o', '-', plain]);
      assert.ok((await openWith(encryption, byGpg)).equals(data), 'a message gpg encrypted opens too');
    }
  });

  test('64 MiB seals and opens as a stream, never held whole', async () => {
    const cipher = createOpenpgpCipher('t', openpgpFor(rsa, [rsa]));
    const total = 64 * 1024 * 1024;
    const { bytes, sameBytes, rssGrowth, producedAtFirstOutput } = await streamingRun(total, async (source) => cipher.open(source.pipe(await cipher.seal('c/data-directory/x/big')), 'k', 'big'));
    assert.equal(bytes, total);
    assert.ok(sameBytes, 'the same bytes come out');
    assert.ok(rssGrowth < 48 * 1024 * 1024, `RSS grew by ${(rssGrowth / 1024 / 1024).toFixed(1)} MiB`);
    assert.ok(producedAtFirstOutput < 16 * 1024 * 1024, `first plaintext after ${producedAtFirstOutput} bytes read`);
  });

  test('an altered, truncated or extended artifact is refused; a key the worker lacks is named', async () => {
    const encryption = openpgpFor(rsa, [rsa]);
    const sealed = await sealWith(encryption, randomBytes(300_000));
    const flipped = Buffer.from(sealed);
    flipped[150_000]! ^= 0x01;
    for (const [what, bytes] of [
      ['a flipped byte', flipped],
      ['a truncation', sealed.subarray(0, sealed.length - 7)],
      ['an appended byte', Buffer.concat([sealed, Buffer.from([0])])],
    ] as const) {
      const failure = await openFailure(encryption, bytes);
      assert.ok(failure.type === 'ManifestChecksumMismatch' || failure.type === 'ManifestInvalid', `${what}: ${failure.type} ${failure.message}`);
    }
    const wrong = await openFailure(openpgpFor(rsa, [cv25519]), sealed);
    assert.equal(wrong.type, 'EncryptionKeyMissing');
    assert.match(wrong.message, /encrypted \(openpgp\) for key ID [0-9a-f]{16}/);
    assert.match(wrong.message, new RegExp(`holds ${cv25519.fingerprint}`));
    const noPassphrase = await openFailure({ ...openpgpFor(cv25519, []), decryptionKeys: [{ key: `file:${cv25519.secretFile}` }] }, await sealWith(openpgpFor(cv25519, []), Buffer.from('x')));
    assert.equal(noPassphrase.type, 'InvalidInput');
    assert.match(noPassphrase.message, /protected by a passphrase/);
  });
});

describe('encrypted backup sets end to end', () => {
  let h: Harness;
  let localPath: string;
  const minioPrefix = `encrypted-${randomBytes(4).toString('hex')}`;
  const run = <T>(type: string, input: unknown) =>
    h.client.workflow.execute(type, { taskQueue: h.config.temporal.taskQueue, workflowId: workflowId(type), args: [input] }) as Promise<T>;

  // The same clusters and storage with the given encryption on the local target.
  function configWith(local: ArtifactEncryption, minio?: ArtifactEncryption, retention?: unknown): RabbitvaultConfig {
    const base = testConfig({ a: clusterEntry(nodeA), b: clusterEntry(nodeB) });
    localPath ??= (base.storage.targets.local as { path: string }).path;
    const targets = { ...base.storage.targets, local: { type: 'local' as const, path: localPath, encryption: local } };
    if (minio) Object.assign(targets, { minio: { ...base.storage.targets.minio, prefix: minioPrefix, encryption: minio } });
    return RabbitvaultConfig.parse({ ...base, storage: { ...base.storage, targets }, ...(retention ? { retention } : {}) });
  }
  async function restart(config: RabbitvaultConfig): Promise<void> {
    await h?.stop();
    h = await startHarness(config);
  }

  let firstSet: BackupDefinitionsResult;

  before(async () => {
    await Promise.all([nodeA.reset(), nodeB.reset()]);
    await declareQueue(nodeA, '/', 'sealed.orders');
    await declareQueue(nodeA, '/', 'sealed.invoices', { 'x-queue-type': 'quorum' });
    await restart(configWith(openpgpFor(rsa, [rsa])));
  });
  after(() => h.stop());

  test('a definitions set is stored as OpenPGP that gpg opens, verified by decryption, and restored', async () => {
    firstSet = await run<BackupDefinitionsResult>('backupDefinitions', { cluster: 'a' });
    const manifest = JSON.parse(readFileSync(path.join(firstSet.location, 'manifest.json'), 'utf8'));
    assert.deepEqual(manifest.encryption, { type: 'openpgp', keys: [rsa.fingerprint] });
    const file = path.join(firstSet.location, 'definitions.json');
    const stored = readFileSync(file);
    const artifact = manifest.artifacts.find((a: { name: string }) => a.name === 'definitions.json');
    assert.deepEqual(artifact.stored, { size: stored.length, sha256: sha256(stored) }, 'the manifest records the stored bytes');
    assert.throws(() => JSON.parse(stored.toString('utf8')), 'the stored artifact is not the plaintext');
    const plain = gpgDecrypt(file);
    assert.equal(sha256(plain), artifact.sha256, 'gpg --decrypt gives the plaintext the manifest records');
    assert.equal(JSON.parse(plain.toString('utf8')).queues.length, 2);

    const report = await run<VerificationReport>('verifyBackup', { cluster: 'a', component: 'definitions', set: firstSet.setId });
    assert.deepEqual([report.ok, report.decrypted], [true, true]);

    await run('restoreDefinitions', { cluster: 'b', sourceCluster: 'a', from: firstSet.setId });
    const names = ((await liveDefinitions(nodeB)).queues as { name: string }[]).map((q) => q.name).sort();
    assert.deepEqual(names, ['sealed.invoices', 'sealed.orders']);
  });

  test('key rotation: new sets use the new key; an old set fails at once naming its key until that key is held again', async () => {
    await restart(configWith(openpgpFor(cv25519, [cv25519])));
    const newer = await run<BackupDefinitionsResult>('backupDefinitions', { cluster: 'a' });
    assert.deepEqual(JSON.parse(readFileSync(path.join(newer.location, 'manifest.json'), 'utf8')).encryption.keys, [cv25519.fingerprint]);

    await declareQueue(nodeB, '/', 'only.on.b');
    const before = await liveDefinitions(nodeB);
    const failure = await failureOf(run('restoreDefinitions', { cluster: 'b', sourceCluster: 'a', from: firstSet.setId }));
    assert.equal(failure.type, 'EncryptionKeyMissing');
    assert.ok(failure.message.includes(rsa.fingerprint), failure.message);
    assert.ok(failure.message.includes(cv25519.fingerprint), 'it says which key the worker holds');
    assert.deepEqual(await liveDefinitions(nodeB), before, 'nothing changed on the target');

    await restart(configWith(openpgpFor(cv25519, [cv25519, rsa])));
    const old = await run<VerificationReport>('verifyBackup', { cluster: 'a', component: 'definitions', set: firstSet.setId });
    assert.equal(old.ok, true, 'the old key opens the old set again');
    const fresh = await run<VerificationReport>('verifyBackup', { cluster: 'a', component: 'definitions', set: newer.setId });
    assert.equal(fresh.ok, true);
  });

  test('validation and a restore drill open the newest encrypted set', async () => {
    const validation = await run<ValidationReport>('validateBackups', { clusters: ['a'], components: ['definitions'], restoreInto: 'b' });
    const definitions = validation.results.find((r) => r.component === 'definitions')!;
    assert.equal(definitions.status, 'ok', JSON.stringify(definitions.checks));
    assert.ok(definitions.checks.some((c) => c.check.includes('restore') && c.ok), `a test restore ran: ${JSON.stringify(definitions.checks)}`);
    const drill = await run<RestoreDrillResult>('restoreDrill', { cluster: 'a', target: 'b', components: ['definitions'] });
    assert.deepEqual(drill.components.map((c) => [c.component, c.status]), [['definitions', 'restored']]);
  });

  test('a tampered artifact is refused even with a rewritten manifest, and so is a set put back in plaintext', async () => {
    const set = await run<BackupDefinitionsResult>('backupDefinitions', { cluster: 'a' });
    const manifestFile = path.join(set.location, 'manifest.json');
    const file = path.join(set.location, 'definitions.json');
    const original = { manifest: readFileSync(manifestFile, 'utf8'), artifact: readFileSync(file) };
    const before = await liveDefinitions(nodeB);

    // Someone who can write the bucket flips a byte and fixes the recorded checksum.
    const altered = Buffer.from(original.artifact);
    altered[altered.length - 40]! ^= 0x20;
    writeFileSync(file, altered);
    const forged = JSON.parse(original.manifest);
    forged.artifacts[0].stored = { size: altered.length, sha256: sha256(altered) };
    writeFileSync(manifestFile, JSON.stringify(forged));
    const tampered = await failureOf(run('restoreDefinitions', { cluster: 'b', sourceCluster: 'a', from: set.setId }));
    assert.equal(tampered.type, 'ManifestChecksumMismatch', tampered.message);
    assert.match(tampered.message, /failed authentication/);

    // Or replaces it with plaintext of their own, and drops the encryption from the manifest.
    const plaintext = Buffer.from(JSON.stringify({ queues: [{ name: 'planted', vhost: '/', durable: true, auto_delete: false, arguments: {} }] }));
    writeFileSync(file, plaintext);
    delete forged.encryption;
    forged.artifacts[0] = { ...forged.artifacts[0], size: plaintext.length, sha256: sha256(plaintext) };
    delete forged.artifacts[0].stored;
    writeFileSync(manifestFile, JSON.stringify(forged));
    const downgraded = await failureOf(run('restoreDefinitions', { cluster: 'b', sourceCluster: 'a', from: set.setId }));
    assert.equal(downgraded.type, 'ManifestInvalid', downgraded.message);
    assert.match(downgraded.message, /not encrypted but storage\.targets\.local\.encryption requires/);
    assert.deepEqual(await liveDefinitions(nodeB), before, 'nothing changed on the target');
  });

  test('a signing key: gpg --verify checks each manifest, and a set forged with the public key alone is refused', async () => {
    await restart(configWith({ ...openpgpFor(cv25519, [cv25519]), signingKey: { key: `file:${rsa.secretFile}` } }));
    const set = await run<BackupDefinitionsResult>('backupDefinitions', { cluster: 'a' });
    const manifestFile = path.join(set.location, 'manifest.json');
    const signatureFile = path.join(set.location, 'manifest.json.sig');
    gpg(['--verify', signatureFile, manifestFile]);
    const report = await run<VerificationReport>('verifyBackup', { cluster: 'a', component: 'definitions', set: set.setId });
    assert.deepEqual([report.ok, report.signedBy], [true, rsa.fingerprint]);

    // Whoever can write the bucket and has the recipient's public key makes a whole set that decrypts.
    const planted = Buffer.from(JSON.stringify({ rabbit_version: '3.10.8', queues: [{ name: 'planted', vhost: '/', durable: true, auto_delete: false, arguments: {} }] }));
    const plain = path.join(gnupg, 'planted.json');
    writeFileSync(plain, planted);
    const sealed = gpg(['--trust-model', 'always', '--compress-algo', 'none', '--cipher-algo', 'AES256', '-r', cv25519.fingerprint, '--encrypt', '-o', '-', plain]);
    writeFileSync(path.join(set.location, 'definitions.json'), sealed);
    const forged = JSON.parse(readFileSync(manifestFile, 'utf8'));
    forged.artifacts = [{ name: 'definitions.json', size: planted.length, sha256: sha256(planted), contentType: 'application/json', stored: { size: sealed.length, sha256: sha256(sealed) } }];
    writeFileSync(manifestFile, JSON.stringify(forged));
    const before = await liveDefinitions(nodeB);
    const badSignature = await failureOf(run('restoreDefinitions', { cluster: 'b', sourceCluster: 'a', from: set.setId }));
    assert.equal(badSignature.type, 'ManifestInvalid', badSignature.message);
    assert.match(badSignature.message, /signature does not verify/);
    rmSync(signatureFile);
    const unsigned = await failureOf(run('restoreDefinitions', { cluster: 'b', sourceCluster: 'a', from: set.setId }));
    assert.equal(unsigned.type, 'ManifestInvalid', unsigned.message);
    assert.match(unsigned.message, new RegExp(`no manifest signature.*${rsa.fingerprint}`));
    assert.deepEqual(await liveDefinitions(nodeB), before, 'nothing changed on the target');
  });

  test('aes-gcm on MinIO: messages back up and restore, the off-site copy keeps the sealed bytes and opens with the same key, retention keeps the newest', async () => {
    const aesKey = randomBytes(32).toString('hex');
    const aes: ArtifactEncryption = { type: 'aes-gcm', key: `value:${aesKey}`, previousKeys: [], allowPlaintextSets: false };
    await ensureTestBucket();
    await restart(configWith(aes, aes));
    let ca: ChannelModel | undefined;
    let cb: ChannelModel | undefined;
    try {
      [ca, cb] = await Promise.all([openAmqp(nodeA.amqpUrl), openAmqp(nodeB.amqpUrl)]);
      await declareQueue(nodeA, '/', 'sealed.messages');
      await publishAll(ca, 'sealed.messages', numbered(500, 300));
      const backup = await run<BackupMessagesResult>('backupMessages', { cluster: 'a', storage: 'minio', queues: ['sealed.messages'], segmentMiB: 0.05 });
      assert.equal(backup.totals.messages, 500);
      assert.ok(backup.queues[0]!.segments >= 2, 'several sealed segments');

      const restored = await run<RestoreMessagesResult>('restoreMessages', { cluster: 'b', sourceCluster: 'a', storage: 'minio', from: backup.setId, toQueue: 'sealed.copy' });
      assert.equal(restored.totals.confirmed, 500);
      const [original, copy] = await Promise.all([peekAll(ca, 'sealed.messages'), peekAll(cb, 'sealed.copy')]);
      assert.deepEqual(copy.map((m) => sha256(m.body)), original.map((m) => sha256(m.body)), 'every body, in order');

      const offsite = await run<OffsiteCopyResult>('copyBackupOffsite', { cluster: 'a', component: 'messages', set: backup.setId, from: 'minio', to: 'local' });
      assert.equal(offsite.verification.ok, true);
      const copied = JSON.parse(readFileSync(path.join(localPath, 'a', 'messages', backup.setId, 'manifest.json'), 'utf8'));
      assert.equal(copied.encryption.type, 'aes-gcm');
      for (const artifact of copied.artifacts) {
        const stored = readFileSync(path.join(localPath, 'a', 'messages', backup.setId, artifact.name));
        assert.equal(stored.subarray(0, 8).toString('latin1'), 'RVAEAD1\n', `${artifact.name} is sealed on the off-site target`);
        assert.equal(sha256(stored), artifact.stored.sha256);
      }
      const verified = await run<VerificationReport>('verifyBackup', { cluster: 'a', component: 'messages', set: backup.setId, storage: 'local' });
      assert.deepEqual([verified.ok, verified.decrypted], [true, true], 'the copy opens with the same key');

      // Retention on encrypted sets: the older one goes, the newest restorable one stays.
      const second = await run<BackupMessagesResult>('backupMessages', { cluster: 'a', storage: 'minio', queues: ['sealed.messages'], segmentMiB: 0.05 });
      await restart(configWith(aes, aes, { components: { messages: { keepLast: 1 } } }));
      const pruned = await run<PruneBackupsResult>('pruneBackups', { storages: ['minio'], clusters: ['a'], components: ['messages'], dryRun: false });
      assert.deepEqual(pruned.storages[0]!.deleted.map((d) => d.setId), [backup.setId]);
      assert.deepEqual(pruned.storages[0]!.kept.map((d) => d.setId), [second.setId]);

      // A worker with another key: the set's key ID is named, before anything runs.
      await restart(configWith(aes, { ...aes, key: `value:${randomBytes(32).toString('hex')}` }));
      const failure = await failureOf(run('restoreMessages', { cluster: 'b', sourceCluster: 'a', storage: 'minio', from: second.setId, toQueue: 'sealed.never' }));
      assert.equal(failure.type, 'EncryptionKeyMissing');
      assert.ok(failure.message.includes(copied.encryption.keys[0]), failure.message);
      assert.doesNotMatch(failure.message, new RegExp(aesKey), 'the key itself is never in an error');
    } finally {
      await Promise.all([ca?.close(), cb?.close()]);
    }
  });
});

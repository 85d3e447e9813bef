// Client-side encryption's cost (issue 14, goal: encrypted / unencrypted total
// <= 1.15): the same >= 1 GiB node backed up by backupDataDirectory to three
// targets in one run, rounds interleaved: plain, OpenPGP (a gpg RSA-3072 key),
// AES-256-GCM. Then each set is verified (the encrypted ones decrypted), and
// gpg decrypts the OpenPGP archive to the plaintext the manifest records.
import { execFileSync } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { createReadStream, mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { Writable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import os from 'node:os';
import path from 'node:path';
import { Client, Connection } from '@temporalio/client';
import { NativeConnection } from '@temporalio/worker';
import { readManifest } from '../lib/backupSets/catalog';
import { createArtifactCipher } from '../lib/encryption/artifactCipher';
import { LocalDirectoryStorage } from '../lib/storage/local';
import { RabbitvaultConfig } from '../config/schema';
import { step } from '../scripts/devstack/progress';
import { createWorker } from '../workers/createWorker';
import type { BackupDataDirectoryResult } from '../contracts/dataDirectory';
import type { VerificationReport } from '../lib/backupSets/verify';
import { fillPersistent } from './dataDirectory/fill';
import { activitySeconds } from './support/activitySeconds';
import { sourceVersion } from './support/sourceVersion';
import { quietTemporalRuntime } from './support/inProcessWorker';
import { startBenchStack } from './support/stack';

const GiB = 1024 ** 3;
const TARGET_BYTES = Number(process.env.BENCH_DATA_BYTES ?? 1.05 * GiB);
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 5);
const TARGETS = ['plain', 'openpgp', 'aesgcm'] as const;

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;

async function main(): Promise<void> {
  quietTemporalRuntime();
  const stack = await startBenchStack();
  const gnupg = mkdtempSync(path.join(os.tmpdir(), 'rabbitvault-bench-gnupg-'));
  const gpg = (args: string[]) => execFileSync('gpg', ['--homedir', gnupg, '--batch', '--quiet', '--pinentry-mode', 'loopback', '--passphrase', '', ...args], { maxBuffer: 1 << 26 });
  try {
    gpg(['--quick-gen-key', 'bench@rabbitvault.test', 'default', 'default', 'never']);
    writeFileSync(path.join(gnupg, 'pub.asc'), gpg(['--armor', '--export', 'bench@rabbitvault.test']));
    writeFileSync(path.join(gnupg, 'sec.asc'), gpg(['--armor', '--export-secret-keys', 'bench@rabbitvault.test']));

    const node = stack.source;
    const dataDir = path.join(node.dir, 'mnesia', node.nodeName);
    step(`bench: filling ${node.nodeName} with ${(TARGET_BYTES / GiB).toFixed(2)} GiB of persistent messages`);
    const messages = await fillPersistent(node.amqpUrl, TARGET_BYTES);
    const dataBytes = Number(execFileSync('du', ['-sb', dataDir]).toString().split('\t')[0]);
    step(`bench: data directory ${(dataBytes / GiB).toFixed(2)} GiB (${messages} messages)`);

    const env = Object.fromEntries(Object.entries(node.env).filter(([k]) => k === 'HOME' || k.startsWith('RABBITMQ_'))) as Record<string, string>;
    const dirs = Object.fromEntries(TARGETS.map((t) => [t, path.join(stack.runDir, `backups-${t}`)])) as Record<(typeof TARGETS)[number], string>;
    const config = RabbitvaultConfig.parse({
      temporal: { address: stack.temporalAddress, taskQueue: 'bench-encryption' },
      storage: {
        default: 'plain',
        targets: {
          plain: { type: 'local', path: dirs.plain },
          openpgp: { type: 'local', path: dirs.openpgp, encryption: { type: 'openpgp', recipients: [`file:${gnupg}/pub.asc`], decryptionKeys: [{ key: `file:${gnupg}/sec.asc` }] } },
          aesgcm: { type: 'local', path: dirs.aesgcm, encryption: { type: 'aes-gcm', key: `value:${randomBytes(32).toString('hex')}` } },
        },
      },
      clusters: {
        bench: {
          management: { url: node.managementUrl, username: 'guest', password: 'value:guest' },
          nodes: [{ name: node.nodeName, access: { type: 'local', taskQueue: 'bench-encryption-node', env } }],
        },
      },
    });
    const native = await NativeConnection.connect({ address: stack.temporalAddress });
    const workers = await Promise.all([createWorker({ config, connection: native }), createWorker({ config, connection: native, taskQueue: 'bench-encryption-node' })]);
    const running = workers.map((w) => w.run());
    const connection = await Connection.connect({ address: stack.temporalAddress });
    const client = new Client({ connection });
    const run = async <T>(type: string, input: Record<string, unknown>) => {
      const t = Date.now();
      const handle = await client.workflow.start(type, { taskQueue: 'bench-encryption', workflowId: `bench-${type}-${Date.now()}`, args: [input] });
      const result = (await handle.result()) as T;
      const seconds = (Date.now() - t) / 1000;
      return { result, seconds, steps: activitySeconds((await handle.fetchHistory()).events ?? []) };
    };
    try {
      const totals: Record<string, number[]> = { plain: [], openpgp: [], aesgcm: [] };
      const steps: Record<string, Array<Record<string, number>>> = { plain: [], openpgp: [], aesgcm: [] };
      const sets: Record<string, string> = {};
      for (let round = 1; round <= ROUNDS; round += 1) {
        for (const target of TARGETS) {
          step(`bench: round ${round}/${ROUNDS}: backupDataDirectory to ${target}`);
          // The previous run's writes flushed first, so no run pays for another's writeback.
          execFileSync('sync');
          const { result, seconds, steps: took } = await run<BackupDataDirectoryResult>('backupDataDirectory', { cluster: 'bench', storage: target });
          totals[target]!.push(seconds);
          steps[target]!.push(took);
          sets[target] = result.setId;
        }
      }
      const verify: Record<string, { seconds: number; ok: boolean; decrypted: boolean }> = {};
      for (const target of TARGETS) {
        step(`bench: verifyBackup on ${target}`);
        const { result, seconds } = await run<VerificationReport>('verifyBackup', { cluster: 'bench', component: 'data-directory', set: sets[target], storage: target });
        verify[target] = { seconds, ok: result.ok, decrypted: result.decrypted === true };
      }
      step('bench: gpg --decrypt of the OpenPGP archive, hashed');
      const prefix = `bench/data-directory/${sets.openpgp}`;
      const manifest = await readManifest(new LocalDirectoryStorage(dirs.openpgp), prefix);
      const archive = manifest.artifacts.find((a) => a.contentType !== 'application/json') ?? manifest.artifacts[0]!;
      const t = Date.now();
      const gpgSha = execFileSync('bash', ['-c', `gpg --homedir '${gnupg}' --batch --quiet --decrypt '${path.join(dirs.openpgp, prefix, archive.name)}' | sha256sum`]).toString().split(' ')[0];
      const gpgSeconds = (Date.now() - t) / 1000;
      const storedSha = await new Promise<string>((resolve, reject) => {
        const h = createHash('sha256');
        createReadStream(path.join(dirs.openpgp, prefix, archive.name)).on('data', (c) => h.update(c)).on('end', () => resolve(h.digest('hex'))).on('error', reject);
      });

      // The bare tools on the very archive (the plain set's, already compressed):
      // how fast the guide's `gpg --encrypt` and our two seals go, beside a plain read.
      step('bench: the bare tools on the same archive: cat, gpg --encrypt, our openpgp and aes-gcm seals');
      const plainManifest = await readManifest(new LocalDirectoryStorage(dirs.plain), `bench/data-directory/${sets.plain}`);
      const plainArchive = plainManifest.artifacts.find((a) => a.contentType !== 'application/json') ?? plainManifest.artifacts[0]!;
      const archiveFile = path.join(dirs.plain, 'bench', 'data-directory', sets.plain!, plainArchive.name);
      const timed = async (what: () => Promise<unknown> | unknown) => {
        const started = process.hrtime.bigint();
        await what();
        return Number(process.hrtime.bigint() - started) / 1e9;
      };
      const sealOnly = async (storage: 'openpgp' | 'aesgcm') => {
        const target = config.storage.targets[storage]!;
        const cipher = createArtifactCipher('bench', target.encryption!);
        await pipeline(createReadStream(archiveFile), await cipher.seal('bench/data-directory/x/archive'), new Writable({ write: (_c, _e, done) => done() }));
      };
      const bare = {
        archiveBytes: plainArchive.size,
        catSeconds: await timed(() => execFileSync('bash', ['-c', `cat '${archiveFile}' > /dev/null`])),
        gpgEncryptSeconds: await timed(() => execFileSync('bash', ['-c', `gpg --homedir '${gnupg}' --batch --quiet --trust-model always --compress-algo none --cipher-algo AES256 -r bench@rabbitvault.test --encrypt -o - '${archiveFile}' > /dev/null`])),
        oursOpenpgpSealSeconds: await timed(() => sealOnly('openpgp')),
        oursAesGcmSealSeconds: await timed(() => sealOnly('aesgcm')),
      };

      const med = Object.fromEntries(TARGETS.map((k) => [k, median(totals[k]!)])) as Record<(typeof TARGETS)[number], number>;
      const results = {
        date: new Date().toISOString(),
        source: sourceVersion(),
        host: { cpus: os.cpus().length, loadAverage: os.loadavg() },
        dataDirectoryBytes: dataBytes,
        messages,
        rounds: ROUNDS,
        archiveBytes: { plaintext: archive.size, openpgpStored: archive.stored?.size },
        totalSeconds: totals,
        stepSeconds: steps,
        medianSeconds: med,
        ratios: { openpgpOverPlain: med.openpgp / med.plain, aesGcmOverPlain: med.aesgcm / med.plain },
        goals: { openpgpWithin1_15: med.openpgp / med.plain <= 1.15, aesGcmWithin1_15: med.aesgcm / med.plain <= 1.15 },
        verify,
        bareTools: { ...bare, gpgMBps: bare.archiveBytes / 1e6 / bare.gpgEncryptSeconds, oursOpenpgpMBps: bare.archiveBytes / 1e6 / bare.oursOpenpgpSealSeconds, oursAesGcmMBps: bare.archiveBytes / 1e6 / bare.oursAesGcmSealSeconds },
        gpg: { decryptSeconds: gpgSeconds, plaintextMatchesManifest: gpgSha === archive.sha256, storedMatchesManifest: storedSha === archive.stored?.sha256 },
        workerMaxRssMiB: Math.round(process.resourceUsage().maxRSS / 1024),
      };
      mkdirSync(path.join(__dirname, 'results'), { recursive: true });
      const file = path.join(__dirname, 'results', `encryption-${results.date.slice(0, 10)}.json`);
      writeFileSync(file, `${JSON.stringify(results, null, 2)}\n`);
      const f = (x: number) => x.toFixed(2);
      process.stdout.write(
        [
          JSON.stringify(results, null, 2),
          '',
          `data directory ${(dataBytes / GiB).toFixed(2)} GiB, archive ${(archive.size / GiB).toFixed(2)} GiB; ${ROUNDS} rounds, medians:`,
          `plain ${f(med.plain)} s, openpgp ${f(med.openpgp)} s (${f(results.ratios.openpgpOverPlain)}x), aes-gcm ${f(med.aesgcm)} s (${f(results.ratios.aesGcmOverPlain)}x); goal <= 1.15: ${results.goals.openpgpWithin1_15 && results.goals.aesGcmWithin1_15 ? 'met' : 'NOT met'}`,
          `verify: ${TARGETS.map((k) => `${k} ${f(verify[k]!.seconds)} s`).join(', ')}; gpg --decrypt ${f(gpgSeconds)} s, plaintext matches the manifest: ${results.gpg.plaintextMatchesManifest}`,
          `same archive, bare: cat ${f(bare.catSeconds)} s; gpg --encrypt ${f(bare.gpgEncryptSeconds)} s (${results.bareTools.gpgMBps.toFixed(0)} MB/s); ours openpgp ${f(bare.oursOpenpgpSealSeconds)} s (${results.bareTools.oursOpenpgpMBps.toFixed(0)} MB/s); ours aes-gcm ${f(bare.oursAesGcmSealSeconds)} s (${results.bareTools.oursAesGcmMBps.toFixed(0)} MB/s)`,
          `worker process max RSS ${results.workerMaxRssMiB} MiB`,
          `written to ${file}`,
          '',
        ].join('\n'),
      );
    } finally {
      workers.forEach((w) => w.shutdown());
      await Promise.all(running);
      await native.close();
      await connection.close();
    }
  } finally {
    await stack.stop();
    execFileSync('rm', ['-rf', gnupg]);
  }
}

main().catch((error: unknown) => {
  process.stderr.write(`bench failed: ${String((error as Error).stack ?? error)}\n`);
  process.exit(1);
});

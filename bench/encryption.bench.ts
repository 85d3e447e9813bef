// Client-side encryption's cost (issue 14, goal: encrypted / unencrypted total
// <= 1.15): the same >= 1 GiB node backed up by backupDataDirectory to three
// targets in one run, rounds interleaved: plain, OpenPGP (a gpg RSA-3072 key),
// AES-256-GCM. Then each set is verified (the encrypted ones decrypted), and
// gpg decrypts the OpenPGP archive to the plaintext the manifest records.
import { execFileSync } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { createReadStream, mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Client, Connection } from '@temporalio/client';
import { NativeConnection } from '@temporalio/worker';
import { readManifest } from '../lib/backupSets/catalog';
import { LocalDirectoryStorage } from '../lib/storage/local';
import { RabbitvaultConfig } from '../config/schema';
import { step } from '../scripts/devstack/progress';
import { createWorker } from '../workers/createWorker';
import type { BackupDataDirectoryResult } from '../contracts/dataDirectory';
import type { VerificationReport } from '../lib/backupSets/verify';
import { fillPersistent } from './dataDirectory/fill';
import { sourceVersion } from './support/sourceVersion';
import { quietTemporalRuntime } from './support/inProcessWorker';
import { startBenchStack } from './support/stack';

const GiB = 1024 ** 3;
const TARGET_BYTES = Number(process.env.BENCH_DATA_BYTES ?? 1.05 * GiB);
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 3);
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
      const result = (await client.workflow.execute(type, { taskQueue: 'bench-encryption', workflowId: `bench-${type}-${Date.now()}`, args: [input] })) as T;
      return { result, seconds: (Date.now() - t) / 1000 };
    };
    try {
      const totals: Record<string, number[]> = { plain: [], openpgp: [], aesgcm: [] };
      const sets: Record<string, string> = {};
      for (let round = 1; round <= ROUNDS; round += 1) {
        for (const target of TARGETS) {
          step(`bench: round ${round}/${ROUNDS}: backupDataDirectory to ${target}`);
          const { result, seconds } = await run<BackupDataDirectoryResult>('backupDataDirectory', { cluster: 'bench', storage: target });
          totals[target]!.push(seconds);
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
        medianSeconds: med,
        ratios: { openpgpOverPlain: med.openpgp / med.plain, aesGcmOverPlain: med.aesgcm / med.plain },
        goals: { openpgpWithin1_15: med.openpgp / med.plain <= 1.15, aesGcmWithin1_15: med.aesgcm / med.plain <= 1.15 },
        verify,
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

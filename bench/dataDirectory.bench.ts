// Data-directory backup on >= 1 GiB of persistent messages: our saga beside the
// guide's procedure and the floor, in one run; then restic incrementality.
import { execFileSync } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Client, Connection } from '@temporalio/client';
import { NativeConnection } from '@temporalio/worker';
import { readManifest } from '../lib/backupSets/catalog';
import { LocalDirectoryStorage } from '../lib/storage/local';
import { RabbitvaultConfig } from '../config/schema';
import { step } from '../scripts/devstack/progress';
import { createWorker } from '../workers/createWorker';
import type { NodeBackupRecord } from '../workflows/backupDataDirectory';
import type { BackupDataDirectoryResult } from '../contracts/dataDirectory';
import { fillPersistent } from './dataDirectory/fill';
import { bareStopStart, floorSeconds, guideProcedure } from './dataDirectory/reference';
import { activitySeconds as stepSeconds } from './support/activitySeconds';
import { sourceVersion } from './support/sourceVersion';
import { quietTemporalRuntime } from './support/inProcessWorker';
import { startBenchStack } from './support/stack';

const GiB = 1024 ** 3;
const TARGET_BYTES = Number(process.env.BENCH_DATA_BYTES ?? 1.05 * GiB);

async function main(): Promise<void> {
  quietTemporalRuntime();
  const stack = await startBenchStack();
  try {
    const node = stack.source;
    const dataDir = path.join(node.dir, 'mnesia', node.nodeName);
    step(`bench: filling ${node.nodeName} with ${(TARGET_BYTES / GiB).toFixed(2)} GiB of persistent messages`);
    const messages = await fillPersistent(node.amqpUrl, TARGET_BYTES);
    const dataBytes = Number(execFileSync('du', ['-sb', dataDir]).toString().split('\t')[0]);
    step(`bench: data directory ${(dataBytes / GiB).toFixed(2)} GiB (${messages} messages)`);

    const env = Object.fromEntries(Object.entries(node.env).filter(([k]) => k === 'HOME' || k.startsWith('RABBITMQ_'))) as Record<string, string>;
    const backups = path.join(stack.runDir, 'backups');
    const config = RabbitvaultConfig.parse({
      temporal: { address: stack.temporalAddress, taskQueue: 'bench-data' },
      storage: { default: 'local', targets: { local: { type: 'local', path: backups, resticPassword: 'value:bench' } } },
      clusters: {
        bench: {
          management: { url: node.managementUrl, username: 'guest', password: 'value:guest' },
          nodes: [{ name: node.nodeName, access: { type: 'local', taskQueue: 'bench-node', env } }],
        },
      },
    });
    const native = await NativeConnection.connect({ address: stack.temporalAddress });
    const workers = await Promise.all([createWorker({ config, connection: native }), createWorker({ config, connection: native, taskQueue: 'bench-node' })]);
    const running = workers.map((w) => w.run());
    const connection = await Connection.connect({ address: stack.temporalAddress });
    const client = new Client({ connection });
    const ours = async (input: Record<string, unknown>) => {
      const t = Date.now();
      const handle = await client.workflow.start('backupDataDirectory', { taskQueue: 'bench-data', workflowId: `bench-${Date.now()}`, args: [{ cluster: 'bench', ...input }] });
      const r = (await handle.result()) as BackupDataDirectoryResult;
      const steps = stepSeconds((await handle.fetchHistory()).events ?? []);
      const record = (await readManifest(new LocalDirectoryStorage(backups), `bench/data-directory/${r.setId}`)).details as { nodes: NodeBackupRecord[] };
      return { result: r, totalSeconds: (Date.now() - t) / 1000, record: record.nodes[0]!, steps };
    };
    try {
      step('bench: floors (app stopped; tar | compressor > /dev/null)');
      await node.ctl(['stop_app']);
      const floors = { zstd1: floorSeconds(dataDir, 'zstd -q -1 -T0 -c'), gzip6: floorSeconds(dataDir, 'gzip -c') , gzip1: floorSeconds(dataDir, 'gzip -1 -c') };
      const zstdBytes = Number(execFileSync('bash', ['-c', `tar -C '${dataDir}' -cf - . | zstd -q -1 -T0 -c | wc -c`]).toString());
      await node.ctl(['start_app']);
      await node.ctl(['await_startup']);

      step('bench: RabbitMQ alone: stop_app; start_app; await_startup, nothing in between');
      const bare = await bareStopStart(node);
      step('bench: the guide\'s procedure (stop_app; tar czf temp; copy; start_app)');
      const guide = await guideProcedure(node, dataDir, path.join(stack.runDir, 'guide'));
      step('bench: ours (backupDataDirectory, archive, copy: pre-copy)');
      const archive = await ours({});
      step('bench: ours (backupDataDirectory, archive, copy: while-stopped)');
      const whileStopped = await ours({ copy: 'while-stopped' });
      step('bench: ours, restic: first and second backup of the unchanged directory');
      const r1 = await ours({ method: 'restic' });
      const r2 = await ours({ method: 'restic' });

      const n = archive.result.nodes[0]!;
      if (n.copy !== 'pre-copy') throw new Error(`ours did not pre-copy: ${n.copyNote ?? n.copy}`);
      const stopWindow = n.stopWindow.seconds;
      const results = {
        date: new Date().toISOString(),
        source: sourceVersion(),
        host: { cpus: os.cpus().length, loadAverage: os.loadavg() },
        dataDirectoryBytes: dataBytes,
        messages,
        floorSeconds: floors,
        compressedBytes: { zstd1: zstdBytes, guideGzip: guide.bytes, ours: n.bytes },
        bareStopStart: bare,
        guide,
        ours: {
          copy: n.copy,
          stopWindowSeconds: stopWindow,
          totalSeconds: archive.totalSeconds,
          preCopy: n.preCopy,
          delta: n.delta,
          stepSeconds: archive.steps,
        },
        oursWhileStopped: { stopWindowSeconds: whileStopped.result.nodes[0]!.stopWindow.seconds, totalSeconds: whileStopped.totalSeconds, stepSeconds: whileStopped.steps },
        ratios: {
          stopWindowOverFloor: stopWindow / floors.zstd1,
          // What ours adds to RabbitMQ's own stop_app/start_app, against the floor.
          stopWindowMinusBareOverFloor: (stopWindow - bare.totalSeconds) / floors.zstd1,
          deltaBytesOverData: n.delta!.bytesCopied / dataBytes,
          guideTotalOverOursTotal: guide.totalSeconds / archive.totalSeconds,
          guideStopOverOursStop: guide.stopWindowSeconds / stopWindow,
          whileStoppedStopOverPreCopyStop: whileStopped.result.nodes[0]!.stopWindow.seconds / stopWindow,
        },
        goals: {
          stopWindowWithin1_2xFloor: stopWindow <= 1.2 * floors.zstd1,
          bareStopStartAloneWithin1_2xFloor: bare.totalSeconds <= 1.2 * floors.zstd1,
          totalAtLeast2xFasterThanGuide: guide.totalSeconds >= 2 * archive.totalSeconds,
        },
        restic: {
          firstDataAdded: r1.record.restic!.dataAdded,
          secondDataAdded: r2.record.restic!.dataAdded,
          secondOverFirst: r2.record.restic!.dataAdded / r1.record.restic!.dataAdded,
          goalUnder5Percent: r2.record.restic!.dataAdded < 0.05 * r1.record.restic!.dataAdded,
          stopWindowSeconds: [r1.result.nodes[0]!.stopWindow.seconds, r2.result.nodes[0]!.stopWindow.seconds],
          totalSeconds: [r1.totalSeconds, r2.totalSeconds],
        },
      };
      mkdirSync(path.join(__dirname, 'results'), { recursive: true });
      const file = path.join(__dirname, 'results', `data-directory-${results.date.slice(0, 10)}.json`);
      writeFileSync(file, `${JSON.stringify(results, null, 2)}\n`);
      const f = (x: number) => x.toFixed(2);
      process.stdout.write(
        [
          JSON.stringify(results, null, 2),
          '',
          `data directory ${(dataBytes / GiB).toFixed(2)} GiB; floor (tar | zstd -1 -T0 > /dev/null) ${f(floors.zstd1)} s`,
          `RabbitMQ alone: stop_app ${f(bare.stopAppSeconds)} s + start_app ${f(bare.startAppSeconds)} s + await_startup ${f(bare.awaitStartupSeconds)} s = ${f(bare.totalSeconds)} s`,
          `ours (pre-copy): stop window ${f(stopWindow)} s, total ${f(archive.totalSeconds)} s; pre-copy ${f(n.preCopy!.seconds)} s (${(n.preCopy!.bytes / GiB).toFixed(2)} GiB); ` +
            `delta ${n.delta!.filesCopied} files, ${(n.delta!.bytesCopied / 1024 ** 2).toFixed(1)} MiB in ${f(n.delta!.seconds)} s`,
          `ours (while-stopped): stop window ${f(results.oursWhileStopped.stopWindowSeconds)} s, total ${f(whileStopped.totalSeconds)} s`,
          `guide: stop window ${f(guide.stopWindowSeconds)} s, total ${f(guide.totalSeconds)} s`,
          `stop window / floor ${f(results.ratios.stopWindowOverFloor)} (goal <= 1.2: ${results.goals.stopWindowWithin1_2xFloor ? 'met' : 'NOT met'}); ` +
            `(stop window - RabbitMQ alone) / floor ${f(results.ratios.stopWindowMinusBareOverFloor)}; RabbitMQ alone / floor ${f(bare.totalSeconds / floors.zstd1)}`,
          `guide total / ours total ${f(results.ratios.guideTotalOverOursTotal)} (goal >= 2: ${results.goals.totalAtLeast2xFasterThanGuide ? 'met' : 'NOT met'})`,
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
  }
}

main().catch((error: unknown) => {
  process.stderr.write(`bench failed: ${String((error as Error).stack ?? error)}\n`);
  process.exit(1);
});

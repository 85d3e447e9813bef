// Whole-cluster data-directory restore of a real three-node cluster (about
// 1 GiB per node) beside RabbitMQ's own stop and start of the same three
// nodes, in one run; the ratio is printed and kept in bench/results/.
import { execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Client, Connection } from '@temporalio/client';
import { NativeConnection } from '@temporalio/worker';
import { RabbitvaultConfig } from '../config/schema';
import type { BackupDataDirectoryResult, RestoreDataDirectoryResult } from '../contracts/dataDirectory';
import { freePort } from '../scripts/devstack/ports';
import { step } from '../scripts/devstack/progress';
import { IsolatedRabbitCluster } from '../scripts/devstack/rabbitmqCluster';
import { startTemporalDevServer } from '../scripts/devstack/temporal';
import { createWorker } from '../workers/createWorker';
import { fillPersistent } from './dataDirectory/fill';
import { bareStopStart } from './dataDirectory/reference';
import { activitySeconds } from './support/activitySeconds';
import { quietTemporalRuntime } from './support/inProcessWorker';
import { sourceVersion } from './support/sourceVersion';

const GiB = 1024 ** 3;
const PER_NODE_BYTES = Number(process.env.BENCH_DATA_BYTES ?? 1.0 * GiB);
const seconds = (t: bigint) => Number(process.hrtime.bigint() - t) / 1e9;
const f = (n: number) => n.toFixed(1);

async function main(): Promise<void> {
  quietTemporalRuntime();
  const runDir = mkdtempSync(path.join(os.tmpdir(), 'rabbitvault-bench-cluster-'));
  const temporal = await startTemporalDevServer({ port: await freePort(), logFile: path.join(runDir, 'temporal.log') });
  const cluster = await IsolatedRabbitCluster.create({ name: `rv-bench-cl-${process.pid}`, baseDir: path.join(runDir, 'rabbitmq') });
  const interrupted = () => void cluster.destroy().finally(() => process.exit(130));
  process.once('SIGINT', interrupted);
  try {
    await cluster.start();
    // One classic queue of PER_NODE_BYTES homed on each node (declared through it).
    for (const [i, node] of cluster.nodes.entries()) {
      step(`bench: filling ${node.nodeName} with ${(PER_NODE_BYTES / GiB).toFixed(2)} GiB of persistent messages`);
      await fillPersistent(node.amqpUrl, PER_NODE_BYTES, 64 * 1024, `bench-node-${i + 1}`);
    }
    const dataBytes = cluster.nodes.map((n) => Number(execFileSync('du', ['-sb', path.join(n.dir, 'mnesia', n.nodeName)]).toString().split('\t')[0]));
    step(`bench: data directories ${dataBytes.map((b) => (b / GiB).toFixed(2)).join(' + ')} GiB`);

    const backups = path.join(runDir, 'backups');
    const env = (n: (typeof cluster.nodes)[number]) => Object.fromEntries(Object.entries(n.env).filter(([k]) => k === 'HOME' || k.startsWith('RABBITMQ_'))) as Record<string, string>;
    const config = RabbitvaultConfig.parse({
      temporal: { address: temporal.address, taskQueue: 'bench-cluster' },
      storage: { default: 'local', targets: { local: { type: 'local', path: backups } } },
      clusters: {
        bench: {
          management: { url: cluster.nodes.map((n) => n.managementUrl), username: 'guest', password: 'value:guest' },
          nodes: cluster.nodes.map((n, i) => ({ name: n.nodeName, access: { type: 'local', taskQueue: `bench-node-${i}`, env: env(n) } })),
        },
      },
    });
    const native = await NativeConnection.connect({ address: temporal.address });
    const workers = await Promise.all([createWorker({ config, connection: native }), ...cluster.nodes.map((_, i) => createWorker({ config, connection: native, taskQueue: `bench-node-${i}` }))]);
    const running = workers.map((w) => w.run());
    const connection = await Connection.connect({ address: temporal.address });
    const client = new Client({ connection });
    const timed = async <T>(type: string, input: Record<string, unknown>) => {
      const t = process.hrtime.bigint();
      const handle = await client.workflow.start(type, { taskQueue: 'bench-cluster', workflowId: `bench-${type}-${Date.now()}`, args: [{ cluster: 'bench', ...input }] });
      const result = (await handle.result()) as T;
      return { result, totalSeconds: seconds(t), steps: activitySeconds((await handle.fetchHistory()).events ?? []) };
    };
    try {
      step('bench: RabbitMQ alone, each node in turn: stop_app; start_app; await_startup');
      const bare = [];
      for (const node of cluster.nodes) bare.push(await bareStopStart(node));
      const bareSum = bare.reduce((n, b) => n + b.totalSeconds, 0);

      step('bench: RabbitMQ alone, the whole cluster: stop_app on each, then start_app on all at once');
      const t = process.hrtime.bigint();
      for (const node of cluster.nodes) await node.ctl(['stop_app'], 300_000);
      await Promise.all(cluster.nodes.map((n) => n.ctl(['start_app'], 300_000)));
      await Promise.all(cluster.nodes.map((n) => n.ctl(['await_startup'], 300_000)));
      const bareTogether = seconds(t);

      step('bench: ours, backupDataDirectory (all-together, while-stopped)');
      const backup = await timed<BackupDataDirectoryResult>('backupDataDirectory', { mode: 'all-together', copy: 'while-stopped' });
      step('bench: ours, restoreDataDirectory (the whole cluster, started together)');
      const restore = await timed<RestoreDataDirectoryResult>('restoreDataDirectory', { from: backup.result.setId });
      const stopWindow = restore.result.nodes[0]!.stopWindow.seconds;

      const results = {
        date: new Date().toISOString(),
        source: sourceVersion(),
        machine: { cpus: os.cpus().length, memoryGiB: Math.round(os.totalmem() / GiB) },
        rabbitmqVersion: (await cluster.seed.ctl(['version'])).trim(),
        nodes: cluster.nodes.length,
        dataGiB: dataBytes.map((b) => Number((b / GiB).toFixed(3))),
        reference: { stopStartEachSeconds: bare.map((b) => Number(b.totalSeconds.toFixed(2))), stopStartSumSeconds: Number(bareSum.toFixed(2)), wholeClusterStopStartSeconds: Number(bareTogether.toFixed(2)) },
        ours: {
          backupSeconds: Number(backup.totalSeconds.toFixed(2)),
          restoreSeconds: Number(restore.totalSeconds.toFixed(2)),
          restoreStopWindowSeconds: Number(stopWindow.toFixed(2)),
          restoreSteps: Object.fromEntries(Object.entries(restore.steps).map(([k, v]) => [k, Number(v.toFixed(2))])),
          quorumReplicasOnline: restore.result.wholeCluster?.replicasOnline ?? null,
        },
        ratios: {
          restoreOverStopStartSum: Number((restore.totalSeconds / bareSum).toFixed(2)),
          stopWindowOverStopStartSum: Number((stopWindow / bareSum).toFixed(2)),
          stopWindowOverWholeClusterStopStart: Number((stopWindow / bareTogether).toFixed(2)),
        },
      };
      mkdirSync(path.join(__dirname, 'results'), { recursive: true });
      const file = path.join(__dirname, 'results', `cluster-restore-${results.date.slice(0, 10)}.json`);
      writeFileSync(file, `${JSON.stringify(results, null, 2)}\n`);
      process.stdout.write(
        [
          JSON.stringify(results, null, 2),
          '',
          `RabbitMQ alone: stop/start of each node in turn, summed ${f(bareSum)} s; whole cluster stopped then started together ${f(bareTogether)} s`,
          `ours: whole-cluster restore ${f(restore.totalSeconds)} s (stop window ${f(stopWindow)} s; checksums and archive checks before any stop)`,
          `ratio restore / sum of RabbitMQ's own stop+start: ${f(results.ratios.restoreOverStopStartSum)}; stop window / the same: ${f(results.ratios.stopWindowOverStopStartSum)}`,
          `written to ${path.relative(process.cwd(), file)}`,
          '',
        ].join('\n'),
      );
    } finally {
      for (const w of workers) w.shutdown();
      await Promise.all(running);
      await native.close();
      await connection.close();
    }
  } finally {
    process.off('SIGINT', interrupted);
    step('bench: tearing the cluster down');
    await cluster.destroy().catch(() => undefined);
    await temporal.stop();
    rmSync(runDir, { recursive: true, force: true });
  }
}

main().catch((error: unknown) => {
  process.stderr.write(`bench failed: ${String((error as Error)?.stack ?? error)}\n`);
  process.exit(1);
});

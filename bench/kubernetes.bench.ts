// A RabbitMQ node in a pod (real kube-apiserver, kwok as the kubelet whose
// exec runs on this host), side by side with the same node over local access,
// in one run:
//   1. data-directory backup throughput over pod exec / over local access
//      (issue 12: >= 0.8);
//   2. the stop window of a consistent volume-snapshot backup / RabbitMQ's bare
//      stop_app + start_app + await_startup over the same exec (issue 12: <= 1.2).
// Figures go to bench/results/kubernetes-<date>.json.
import { execFileSync, spawn } from 'node:child_process';
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Client, Connection } from '@temporalio/client';
import { NativeConnection } from '@temporalio/worker';
import { RabbitvaultConfig } from '../config/schema';
import type { BackupDataDirectoryResult } from '../contracts/dataDirectory';
import type { BackupVolumeSnapshotResult } from '../contracts/volumeSnapshot';
import { clientNode } from '../lib/kubernetes/client';
import { hostFor } from '../lib/nodeAccess/hosts';
import { startKubernetesApiServer } from '../scripts/devstack/kubernetes';
import { KWOK_NODE, startKwok } from '../scripts/devstack/kwok';
import { freePort } from '../scripts/devstack/ports';
import { step } from '../scripts/devstack/progress';
import { IsolatedRabbitNode } from '../scripts/devstack/rabbitmqNode';
import { startTemporalDevServer } from '../scripts/devstack/temporal';
import { installVolumeSnapshotCrds } from '../scripts/devstack/volumeSnapshotCrds';
import { playSnapshotController, snapshotApi } from '../test/support/snapshotController';
import { createWorker } from '../workers/createWorker';
import { fillPersistent } from './dataDirectory/fill';
import { activitySeconds } from './support/activitySeconds';
import { quietTemporalRuntime } from './support/inProcessWorker';
import { sourceVersion } from './support/sourceVersion';

const GiB = 1024 ** 3;
const DATA_BYTES = Number(process.env.BENCH_DATA_BYTES ?? 1.0 * GiB);
const REPEATS = Number(process.env.BENCH_REPEATS ?? 3);
const seconds = (t: bigint) => Number(process.hrtime.bigint() - t) / 1e9;
const f = (n: number, d = 2) => Number(n.toFixed(d));
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
const NS = 'bench';

// CPU seconds (user + system) of the processes whose command line names dir.
function cpuSecondsOf(dir: string): number {
  let ticks = 0;
  for (const pid of readdirSync('/proc').filter((p) => /^\d+$/.test(p))) {
    try {
      if (!readFileSync(`/proc/${pid}/cmdline`, 'utf8').includes(dir)) continue;
      const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]!.split(' ');
      ticks += Number(fields[11]) + Number(fields[12]);
    } catch {
      // gone meanwhile
    }
  }
  return ticks / 100;
}

async function main(): Promise<void> {
  quietTemporalRuntime();
  const runDir = mkdtempSync(path.join(os.tmpdir(), 'rabbitvault-bench-k8s-'));
  const stops: Array<() => Promise<void>> = [];
  try {
    const temporal = await startTemporalDevServer({ port: await freePort(), logFile: path.join(runDir, 'temporal.log') });
    stops.push(temporal.stop);
    const kube = await startKubernetesApiServer({ dir: path.join(runDir, 'kubernetes'), etcdPort: await freePort(), etcdPeerPort: await freePort(), apiPort: await freePort() });
    stops.push(kube.stop);
    const kwok = await startKwok({ dir: path.join(runDir, 'kubernetes'), kubeconfig: kube.kubeconfig, port: await freePort(), certFile: kube.certFile, keyFile: kube.keyFile });
    stops.push(kwok.stop);
    await installVolumeSnapshotCrds(kube.kubeconfig);
    const node = new IsolatedRabbitNode({ name: `rv-bench-k8s-${process.pid}`, baseDir: path.join(runDir, 'rabbitmq'), amqpPort: await freePort(), managementPort: await freePort(), distPort: await freePort() });
    stops.push(() => node.stop());
    await node.start();
    step(`bench: filling ${node.nodeName} with ${(DATA_BYTES / GiB).toFixed(2)} GiB of persistent messages`);
    await fillPersistent(node.amqpUrl, DATA_BYTES, 64 * 1024, 'bench-k8s');
    const dataBytes = Number(execFileSync('du', ['-sb', path.join(node.dir, 'mnesia', node.nodeName)]).toString().split('\t')[0]);

    // The operator's layout: StatefulSet mq-server, pod mq-server-0 on kwok's node, PVC persistence-mq-server-0.
    const k8s = await clientNode();
    const kc = new k8s.KubeConfig();
    kc.loadFromFile(kube.kubeconfig);
    const core = kc.makeApiClient(k8s.CoreV1Api);
    const apps = kc.makeApiClient(k8s.AppsV1Api);
    await core.createNamespace({ body: { metadata: { name: NS } } });
    await core.createNamespacedServiceAccount({ namespace: NS, body: { metadata: { name: 'default' } } });
    await core.createNamespacedPersistentVolumeClaim({ namespace: NS, body: { metadata: { name: 'persistence-mq-server-0' }, spec: { accessModes: ['ReadWriteOnce'], storageClassName: 'csi-hostpath', resources: { requests: { storage: '8Gi' } } } } });
    await apps.createNamespacedStatefulSet({
      namespace: NS,
      body: {
        metadata: { name: 'mq-server' },
        spec: {
          replicas: 1,
          serviceName: 'mq-nodes',
          selector: { matchLabels: { app: 'mq' } },
          template: { metadata: { labels: { app: 'mq' } }, spec: { containers: [{ name: 'rabbitmq', image: 'rabbitmq:3.10' }] } },
          volumeClaimTemplates: [{ metadata: { name: 'persistence' }, spec: { accessModes: ['ReadWriteOnce'], resources: { requests: { storage: '8Gi' } } } }],
        },
      },
    });
    await core.createNamespacedPod({ namespace: NS, body: { metadata: { name: 'mq-server-0', labels: { app: 'mq' } }, spec: { nodeName: KWOK_NODE, automountServiceAccountToken: false, containers: [{ name: 'rabbitmq', image: 'rabbitmq:3.10' }] } } });
    await (await snapshotApi(kube.kubeconfig)).createClusterCustomObject({ group: 'snapshot.storage.k8s.io', version: 'v1', plural: 'volumesnapshotclasses', body: { apiVersion: 'snapshot.storage.k8s.io/v1', kind: 'VolumeSnapshotClass', metadata: { name: 'csi-snapclass' }, driver: 'hostpath.csi.k8s.io', deletionPolicy: 'Delete' } });
    const controller = await playSnapshotController(NS, '8Gi', kube.kubeconfig);
    stops.push(() => controller.stop());

    const env = Object.fromEntries(Object.entries(node.env).filter(([k]) => k === 'HOME' || k.startsWith('RABBITMQ_'))) as Record<string, string>;
    const cluster = (access: Record<string, unknown>) => ({
      management: { url: node.managementUrl, username: 'guest', password: 'value:guest' },
      nodes: [{ name: node.nodeName, access: { ...access, rabbitmqctl: '/usr/lib/rabbitmq/bin/rabbitmqctl', rabbitmqServer: '/usr/lib/rabbitmq/bin/rabbitmq-server', env } }],
    });
    const config = RabbitvaultConfig.parse({
      temporal: { address: temporal.address, taskQueue: 'bench-k8s' },
      storage: { default: 'local', targets: { local: { type: 'local', path: path.join(runDir, 'backups') } } },
      clusters: {
        host: cluster({ type: 'local', taskQueue: 'bench-k8s-node' }),
        pod: { ...cluster({ type: 'kubernetes', statefulSet: 'mq-server', ordinal: 0 }), kubernetes: { kubeconfig: kube.kubeconfig, namespace: NS, release: 'mq', volumeSnapshotClass: 'csi-snapclass' } },
      },
    });
    const native = await NativeConnection.connect({ address: temporal.address });
    const workers = await Promise.all([createWorker({ config, connection: native }), createWorker({ config, connection: native, taskQueue: 'bench-k8s-node' })]);
    const running = workers.map((w) => w.run());
    const connection = await Connection.connect({ address: temporal.address });
    const client = new Client({ connection });
    const timed = async <T>(type: string, input: Record<string, unknown>) => {
      const t = process.hrtime.bigint();
      const handle = await client.workflow.start(type, { taskQueue: 'bench-k8s', workflowId: `bench-${type}-${Date.now()}`, args: [input] });
      const result = (await handle.result()) as T;
      return { result, totalSeconds: seconds(t), steps: activitySeconds((await handle.fetchHistory()).events ?? []) };
    };
    try {
      // Each side REPEATS times, interleaved, so both see the same machine.
      const local: number[] = [];
      const pod: number[] = [];
      for (let i = 0; i < REPEATS; i++) {
        for (const [name, out] of [['host', local], ['pod', pod]] as const) {
          step(`bench: backupDataDirectory of ${name === 'host' ? 'the node over local access' : 'the pod over exec'} (${i + 1}/${REPEATS})`);
          const r = await timed<BackupDataDirectoryResult>('backupDataDirectory', { cluster: name, copy: 'while-stopped' });
          out.push(r.steps.streamDataDirectory ?? NaN);
        }
      }
      const host = hostFor(config, 'pod', node.nodeName);
      // The transport's own ceiling on this machine: the same tar to
      // /dev/null through exec and locally, with the CPU seconds the API
      // server, etcd and kwok spent meanwhile (on a real cluster they run on
      // other machines; here they share the worker's two cores).
      const dataDir = path.join(node.dir, 'mnesia', node.nodeName);
      const drain = async (stream: NodeJS.ReadableStream) => {
        for await (const _ of stream) void _;
      };
      const rawLocal: number[] = [];
      const rawExec: number[] = [];
      const kubeCpu: number[] = [];
      for (let i = 0; i < REPEATS; i++) {
        step(`bench: transport ceiling, tar to /dev/null locally and over exec (${i + 1}/${REPEATS})`);
        let t = process.hrtime.bigint();
        await drain(spawn('tar', ['-C', dataDir, '-cf', '-', '.'], { stdio: ['ignore', 'pipe', 'ignore'] }).stdout!);
        rawLocal.push(seconds(t));
        const cpu0 = cpuSecondsOf(runDir);
        t = process.hrtime.bigint();
        await drain(host.streamOut(['tar', '-C', dataDir, '-cf', '-', '.']));
        rawExec.push(seconds(t));
        kubeCpu.push(cpuSecondsOf(runDir) - cpu0);
      }
      const ctl = async (args: string[]) => host.run([host.rabbitmqctl, '-n', node.nodeName, ...args], { timeoutMs: 300_000 });
      const bare: number[] = [];
      const bareChecked: number[] = [];
      const ours: number[] = [];
      const oursSteps: Array<Record<string, number>> = [];
      for (let i = 0; i < REPEATS; i++) {
        step(`bench: RabbitMQ's own stop_app; start_app; await_startup over exec (${i + 1}/${REPEATS})`);
        const t = process.hrtime.bigint();
        await ctl(['stop_app']);
        await ctl(['start_app']);
        await ctl(['await_startup']);
        bare.push(seconds(t));
        // The same plus the check ours makes before it calls the node back (every listener accepts connections).
        step(`bench: the same plus check_port_connectivity (${i + 1}/${REPEATS})`);
        const c = process.hrtime.bigint();
        await ctl(['stop_app']);
        await ctl(['start_app']);
        await ctl(['await_startup']);
        await host.run([host.rabbitmqDiagnostics, '-n', node.nodeName, 'check_port_connectivity'], { timeoutMs: 300_000 });
        bareChecked.push(seconds(c));
        step(`bench: ours, backupVolumeSnapshot --consistent (${i + 1}/${REPEATS})`);
        const r = await timed<BackupVolumeSnapshotResult>('backupVolumeSnapshot', { cluster: 'pod', consistent: true, pollIntervalSeconds: 0.2 });
        ours.push(r.result.stopWindow?.seconds ?? NaN);
        oursSteps.push(r.steps);
      }
      const mibps = (s: number) => dataBytes / 2 ** 20 / s;
      const results = {
        date: new Date().toISOString(),
        source: sourceVersion(),
        machine: { cpus: os.cpus().length, memoryGiB: Math.round(os.totalmem() / GiB), loadAverage: os.loadavg().map((l) => f(l)) },
        rabbitmqVersion: (await node.ctl(['version'])).trim(),
        dataGiB: f(dataBytes / GiB, 3),
        repeats: REPEATS,
        throughput: {
          localSeconds: local.map((s) => f(s)),
          execSeconds: pod.map((s) => f(s)),
          localMiBps: f(mibps(median(local)), 1),
          execMiBps: f(mibps(median(pod)), 1),
          ratioExecOverLocal: f(mibps(median(pod)) / mibps(median(local))),
        },
        transportCeiling: {
          tarToDevNullLocalSeconds: rawLocal.map((s) => f(s)),
          tarToDevNullOverExecSeconds: rawExec.map((s) => f(s)),
          localMiBps: f(mibps(median(rawLocal)), 1),
          execMiBps: f(mibps(median(rawExec)), 1),
          apiServerEtcdKwokAndIdleNodeCpuSecondsPerRun: kubeCpu.map((s) => f(s)),
          ratioExecOverLocal: f(median(rawLocal) / median(rawExec)),
        },
        stopWindow: {
          bareStopStartOverExecSeconds: bare.map((s) => f(s)),
          bareWithConnectivityCheckSeconds: bareChecked.map((s) => f(s)),
          consistentSnapshotSeconds: ours.map((s) => f(s)),
          // Per step of our runs (scheduled to closed, medians): where the window goes.
          consistentSnapshotSteps: Object.fromEntries(Object.keys(oursSteps[0] ?? {}).map((k) => [k, f(median(oursSteps.map((o) => o[k] ?? 0)))])),
          ratioOursOverBare: f(median(ours) / median(bare)),
          ratioOursOverBareWithCheck: f(median(ours) / median(bareChecked)),
        },
      };
      mkdirSync(path.join(__dirname, 'results'), { recursive: true });
      const file = path.join(__dirname, 'results', `kubernetes-${results.date.slice(0, 10)}.json`);
      writeFileSync(file, `${JSON.stringify(results, null, 2)}\n`);
      process.stdout.write(
        [
          JSON.stringify(results, null, 2),
          '',
          `data-directory backup, streaming step (median of ${REPEATS}): local ${results.throughput.localMiBps} MiB/s, pod exec ${results.throughput.execMiBps} MiB/s; ratio exec/local ${results.throughput.ratioExecOverLocal} (goal >= 0.8)`,
          `transport ceiling (tar to /dev/null, median): local ${results.transportCeiling.localMiBps} MiB/s, over exec ${results.transportCeiling.execMiBps} MiB/s (API server + etcd + kwok, and the idle node, used ${f(median(kubeCpu))} CPU s per run on the same 2 cores)`,
          `stop window (median): consistent snapshot ${f(median(ours))} s vs RabbitMQ's bare stop_app+start_app+await_startup over exec ${f(median(bare))} s; ratio ${results.stopWindow.ratioOursOverBare} (goal <= 1.2); with RabbitMQ's own check_port_connectivity added ${f(median(bareChecked))} s, ratio ${results.stopWindow.ratioOursOverBareWithCheck}`,
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
    step('bench: tearing down');
    for (const stop of stops.reverse()) await stop().catch(() => undefined);
    rmSync(runDir, { recursive: true, force: true });
  }
}

main().catch((error: unknown) => {
  process.stderr.write(`bench failed: ${String((error as Error)?.stack ?? error)}\n`);
  process.exit(1);
});

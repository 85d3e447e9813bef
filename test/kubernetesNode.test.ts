// A RabbitMQ node in a pod, reached through the real kube-apiserver's exec
// (WebSocket v5.channel.k8s.io) and kwok, the stack's kubelet, which runs the
// exec'd command on this host: the pod's "container" is isolated node b.
import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { createReadStream, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import https from 'node:https';
import net from 'node:net';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { execFileSync } from 'node:child_process';
import { parse, stringify } from 'yaml';
import { RabbitvaultConfig } from '../config/schema';
import type { BackupConfigurationResult, RestoreConfigurationResult } from '../contracts/configuration';
import type { BackupDataDirectoryResult, RestoreDataDirectoryResult } from '../contracts/dataDirectory';
import { HostCommandFailed } from '../lib/nodeAccess/access';
import { hostFor } from '../lib/nodeAccess/hosts';
import { appRunning, dataConfig, fillQueues, nodeEnv, queueCounts, waitForCounts } from './dataDirectory.support';
import { apis, type TestKubernetes } from './support/kubernetesFixtures';
import { failureOf, startHarness, workflowId, type Harness } from './support/harness';
import { scratchDir, testNode, testStack } from './support/stack';
import { killHard, spawnWorker, writeConfigFile } from './support/workerProcess';

const b = testNode(1);
const namespace = `rv-pods-${process.pid}`;
const POD = 'rabbit-0';
const quick = { heartbeatTimeoutSeconds: 10, retry: { initialIntervalSeconds: 0.5, maximumAttempts: 4 } };

// Cluster "c" whose one node is pod rabbit-0: no node task queue, no host worker.
function podConfig(kubeconfig = testStack().kubernetes.kubeconfig): RabbitvaultConfig {
  const base = dataConfig([b]);
  const node = {
    name: b.nodeName,
    access: { type: 'kubernetes', pod: POD, namespace, kubeconfig, rabbitmqctl: '/usr/lib/rabbitmq/bin/rabbitmqctl', rabbitmqServer: '/usr/lib/rabbitmq/bin/rabbitmq-server', env: nodeEnv(b) },
  };
  return RabbitvaultConfig.parse({ ...base, clusters: { c: { ...base.clusters.c, nodes: [node] } } });
}

async function createPod(k: TestKubernetes, name: string): Promise<void> {
  await k.core.createNamespacedPod({
    namespace,
    body: { metadata: { name, labels: { app: 'rabbitmq' } }, spec: { nodeName: testStack().kubernetes.node, automountServiceAccountToken: false, containers: [{ name: 'rabbitmq', image: 'rabbitmq:3.10-management' }] } },
  });
  for (let i = 0; ; i++) {
    const pod = await k.core.readNamespacedPod({ namespace, name });
    if (pod.status?.conditions?.some((c) => c.type === 'Ready' && c.status === 'True')) return;
    assert.ok(i < 120, `pod ${name} became Ready (kwok)`);
    await new Promise((r) => setTimeout(r, 250));
  }
}

// A TCP proxy in front of the API server whose connections the test can cut
// (TLS passes through: the certificate is for 127.0.0.1, any port).
async function cuttableApiServer(): Promise<{ kubeconfig: string; cutAfterBytes(n: number): void; close(): Promise<void> }> {
  const upstream = Number(new URL(testStack().kubernetes.server).port);
  const sockets = new Set<net.Socket>();
  let cutAfter = Infinity;
  const server = net.createServer((client) => {
    const up = net.connect(upstream, '127.0.0.1');
    sockets.add(client).add(up);
    let down = 0;
    client.pipe(up);
    up.on('data', (chunk: Buffer) => {
      down += chunk.length;
      if (down > cutAfter) {
        client.destroy();
        up.destroy();
        cutAfter = Infinity; // one cut; the retry goes through
        return;
      }
      client.write(chunk);
    });
    up.on('end', () => client.end());
    const close = () => (client.destroy(), up.destroy());
    client.on('error', close);
    up.on('error', close);
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const port = (server.address() as net.AddressInfo).port;
  const kc = parse(readFileSync(testStack().kubernetes.kubeconfig, 'utf8')) as { clusters: Array<{ cluster: { server: string } }> };
  kc.clusters[0]!.cluster.server = `https://127.0.0.1:${port}`;
  const kubeconfig = path.join(scratchDir('kubeconfig'), 'cut.yaml');
  writeFileSync(kubeconfig, stringify(kc), { mode: 0o600 });
  return {
    kubeconfig,
    cutAfterBytes: (n) => (cutAfter = n),
    close: () => new Promise<void>((r) => (sockets.forEach((s) => s.destroy()), server.close(() => r()))),
  };
}

// The API server's gauge of exec connections in flight (its /metrics).
async function execsInFlight(): Promise<number> {
  const kc = parse(readFileSync(testStack().kubernetes.kubeconfig, 'utf8')) as { clusters: Array<{ cluster: { server: string; 'certificate-authority': string } }>; users: Array<{ user: { token: string } }> };
  const { server, 'certificate-authority': ca } = kc.clusters[0]!.cluster;
  const body = await new Promise<string>((resolve, reject) => {
    https
      .get(`${server}/metrics`, { ca: readFileSync(ca), headers: { authorization: `Bearer ${kc.users[0]!.user.token}` } }, (res) => {
        let text = '';
        res.setEncoding('utf8');
        res.on('data', (c: string) => (text += c));
        res.on('end', () => resolve(text));
      })
      .on('error', reject);
  });
  const line = body.split('\n').find((l) => l.startsWith('apiserver_longrunning_requests{') && l.includes('subresource="exec"'));
  return line ? Number(line.split(' ').pop()) : 0;
}

describe('a node in a pod, over the API server exec', () => {
  let k: TestKubernetes;
  let h: Harness;
  const run = <T>(type: string, input: unknown) =>
    (h.client.workflow.execute(type, { taskQueue: h.config.temporal.taskQueue, workflowId: workflowId(type), args: [input] }) as Promise<T>).catch(async (error: unknown) => {
      throw new Error(`${type} failed: ${(await failureOf(Promise.reject(error))).message}`);
    });

  before(async () => {
    k = await apis();
    await k.core.createNamespace({ body: { metadata: { name: namespace } } });
    // No controller manager runs: the namespace's default ServiceAccount is made here, as it would make it.
    await k.core.createNamespacedServiceAccount({ namespace, body: { metadata: { name: 'default' } } });
    await Promise.all([createPod(k, POD), b.reset()]);
    // One worker on the main task queue serves the node's steps: nothing runs on the node's host.
    h = await startHarness(podConfig());
  });
  after(async () => {
    await h?.stop();
    await k?.core.deleteNamespace({ name: namespace }).catch(() => undefined);
    await b.reset();
  });

  test('exec: output, exit status with stderr, bulk data out and in with the bytes intact', async (t) => {
    const host = hostFor(podConfig(), 'c', b.nodeName);
    assert.equal(host.describe(), `pod ${namespace}/${POD} (container rabbitmq) of ${b.nodeName}`);
    assert.match(await host.run([host.rabbitmqctl, '-n', b.nodeName, 'eval', 'node().']), new RegExp(b.nodeName));
    const failed = await host.run(['sh', '-c', 'echo "no such queue" >&2; exit 3']).then(() => undefined, (e: unknown) => e);
    assert.ok(failed instanceof HostCommandFailed, `a failed command is a HostCommandFailed: ${String(failed)}`);
    assert.equal(failed.exitCode, 3, failed.message);
    assert.match(failed.message, /no such queue/);

    // 48 MiB out of the pod (more than any socket buffer: flow control is exercised).
    const dir = scratchDir('exec');
    const big = path.join(dir, 'big.bin');
    writeFileSync(big, randomBytes(48 * 1024 * 1024));
    const expected = createHash('sha256').update(readFileSync(big)).digest('hex');
    const out = createHash('sha256');
    let bytes = 0;
    for await (const chunk of host.streamOut(['cat', big])) {
      out.update(chunk as Buffer);
      bytes += (chunk as Buffer).length;
      if (bytes < 8 * 1024 * 1024) await new Promise((r) => setTimeout(r, 1)); // a slow consumer at first
    }
    assert.equal(bytes, 48 * 1024 * 1024);
    assert.equal(out.digest('hex'), expected);

    // A consumer that gives up ends the exec at the API server (its in-flight
    // exec count drops back), nothing waits for a drain. (kwok itself keeps
    // the command: it never closes the command's stdout pipe.)
    const before = await execsInFlight();
    const partial = host.streamOut(['cat', big]);
    for await (const _ of partial) break;
    const gaveUp = Date.now();
    for (let i = 0; (await execsInFlight()) > before; i++) {
      assert.ok(i < 100, `the exec ended at the API server when its reader gave up (still in flight after ${((Date.now() - gaveUp) / 1000).toFixed(1)} s)`);
      await new Promise((r) => setTimeout(r, 100));
    }
    t.diagnostic(`the exec ended at the API server ${Date.now() - gaveUp} ms after its reader gave up`);

    // A tar of it into the pod, as a restore sends a data directory.
    const tar = path.join(dir, 'big.tar');
    execFileSync('tar', ['-C', dir, '-cf', tar, 'big.bin']);
    const into = path.join(dir, 'into');
    mkdirSync(into);
    await host.streamIn(['tar', '-C', into, '-xf', '-'], createReadStream(tar));
    assert.equal(createHash('sha256').update(readFileSync(path.join(into, 'big.bin'))).digest('hex'), expected);

    // A missing pod is named.
    const gone = hostFor(RabbitvaultConfig.parse({ ...podConfig(), clusters: { c: { ...podConfig().clusters.c, nodes: [{ ...podConfig().clusters.c!.nodes[0]!, access: { ...podConfig().clusters.c!.nodes[0]!.access, pod: 'rabbit-9' } }] } } }), 'c', b.nodeName);
    await assert.rejects(gone.run(['true']), /pod rv-pods-\d+\/rabbit-9 not found/);
  });

  test('data-directory backup and restore of the pod round-trip its queues and counts; the steps ran on the main task queue', async () => {
    await fillQueues(b, { classic: 30, quorum: 20, size: 4096, prefix: 'pod' });
    assert.deepEqual(await waitForCounts(b, { 'pod-classic': 30, 'pod-quorum': 20 }), { 'pod-classic': 30, 'pod-quorum': 20 });
    const backup = await run<BackupDataDirectoryResult>('backupDataDirectory', { cluster: 'c', ...quick });
    assert.ok(await appRunning(b), 'the node runs after the backup');
    assert.equal(backup.nodes.length, 1);
    // Something to undo: the restore brings the counts of the set back.
    execFileSync('/usr/lib/rabbitmq/bin/rabbitmqctl', ['-n', b.nodeName, 'purge_queue', 'pod-classic'], { env: { ...process.env, ...nodeEnv(b) } });
    const restore = await run<RestoreDataDirectoryResult>('restoreDataDirectory', { cluster: 'c', from: 'latest', ...quick });
    assert.equal(restore.nodes.length, 1);
    assert.deepEqual(await waitForCounts(b, { 'pod-classic': 30, 'pod-quorum': 20 }), { 'pod-classic': 30, 'pod-quorum': 20 });
  });

  test('restic (Option C) of the pod over exec: tar in the pod, restic in the worker; restore from the snapshot', async () => {
    const backup = await run<BackupDataDirectoryResult>('backupDataDirectory', { cluster: 'c', method: 'restic', storage: 'minio', ...quick });
    assert.ok(backup.nodes[0]!.resticSnapshotId, 'a restic snapshot');
    execFileSync('/usr/lib/rabbitmq/bin/rabbitmqctl', ['-n', b.nodeName, 'purge_queue', 'pod-quorum'], { env: { ...process.env, ...nodeEnv(b) } });
    await run<RestoreDataDirectoryResult>('restoreDataDirectory', { cluster: 'c', from: backup.setId, storage: 'minio', method: 'restic', ...quick });
    assert.deepEqual(await waitForCounts(b, { 'pod-classic': 30, 'pod-quorum': 20 }), { 'pod-classic': 30, 'pod-quorum': 20 });
  });

  test('the node-name rule holds in pods: a set of one node is refused for a pod whose node has another name, nothing changed', async () => {
    const a = testNode(0);
    const base = h.config; // the storage holding the set of the test above
    const other = { ...base.clusters.c!, nodes: [{ ...base.clusters.c!.nodes[0]!, name: a.nodeName, access: { ...base.clusters.c!.nodes[0]!.access, env: nodeEnv(a) } }] };
    const ho = await startHarness(RabbitvaultConfig.parse({ ...base, temporal: { ...base.temporal, taskQueue: `${base.temporal.taskQueue}-other` }, clusters: { c: base.clusters.c, other } }));
    try {
      const before = await queueCounts(a);
      const failure = await failureOf(ho.client.workflow.execute('restoreDataDirectory', { taskQueue: ho.config.temporal.taskQueue, workflowId: workflowId('rename'), args: [{ cluster: 'other', sourceCluster: 'c', from: 'latest', ...quick }] }));
      assert.match(failure.message, /refused|not in the set|nothing (was )?changed/i, failure.message);
      assert.match(failure.message, new RegExp(b.nodeName.replace(/[.@-]/g, '.')), 'names the set\'s node');
      assert.ok(await appRunning(a), 'node a was not stopped');
      assert.deepEqual(await queueCounts(a), before, 'node a unchanged');
    } finally {
      await ho.stop();
    }
  });

  test('a container without tar is named in the preflight, nothing stopped', async () => {
    const base = podConfig();
    const node = base.clusters.c!.nodes[0]!;
    const noTar = RabbitvaultConfig.parse({ ...base, clusters: { c: { ...base.clusters.c, nodes: [{ ...node, access: { ...node.access, env: { ...nodeEnv(b), PATH: '/nonexistent' } } }] } } });
    const hn = await startHarness(noTar);
    try {
      const failure = await failureOf(hn.client.workflow.execute('backupDataDirectory', { taskQueue: hn.config.temporal.taskQueue, workflowId: workflowId('no-tar'), args: [{ cluster: 'c', ...quick }] }));
      assert.match(failure.message, new RegExp(`pod ${namespace}/${POD} \\(container rabbitmq\\) of .* has no tar`), failure.message);
      assert.ok(await appRunning(b), 'the node was not stopped');
    } finally {
      await hn.stop();
    }
  });

  test('configuration over exec: the files the node names read from the pod, written back only whole, checked by reading them back', async () => {
    const conf = path.join(b.dir, 'rabbitmq.conf');
    const original = readFileSync(conf);
    const backup = await run<BackupConfigurationResult>('backupConfiguration', { cluster: 'c', retry: quick.retry });
    const files = backup.nodes[0]!.files;
    assert.ok(files.some((f) => f.kind === 'rabbitmq.conf' && f.path === conf), JSON.stringify(files));
    writeFileSync(conf, Buffer.concat([original, Buffer.from('heartbeat = 23\n')]));
    try {
      const restored = await run<RestoreConfigurationResult>('restoreConfiguration', { cluster: 'c', from: backup.setId, kubernetes: false, retry: quick.retry });
      assert.equal(restored.filesChanged, 1);
      assert.deepEqual(readFileSync(conf), original, 'rabbitmq.conf is the set\'s again');
    } finally {
      writeFileSync(conf, original);
    }
  });

  test('the worker killed while the pod\'s node is stopped: a new worker starts it again within the downtime limit', async () => {
    const file = path.join(scratchDir('worker'), 'rabbitvault.yaml');
    const config = podConfig();
    writeConfigFile(config, file);
    let worker = await spawnWorker(file);
    try {
      const handle = await h.client.workflow.start('backupDataDirectory', {
        taskQueue: config.temporal.taskQueue,
        workflowId: workflowId('pod-kill'),
        args: [{ cluster: 'c', copy: 'while-stopped', downtimeLimitSeconds: 120, ...quick }],
      });
      for (let i = 0; await appRunning(b); i++) {
        assert.ok(i < 600, 'the backup stopped the node');
        await new Promise((r) => setTimeout(r, 100));
      }
      await killHard(worker);
      const stoppedAt = Date.now();
      worker = await spawnWorker(file);
      const result = (await handle.result()) as BackupDataDirectoryResult;
      assert.ok(await appRunning(b), 'the node runs');
      const window = result.nodes[0]!.stopWindow;
      assert.ok(window.seconds <= 120, `stop window ${window.seconds} s within the downtime limit`);
      process.stdout.write(`# pod node stopped ${window.seconds.toFixed(1)} s; worker killed ${((Date.now() - stoppedAt) / 1000).toFixed(1)} s before the backup ended\n`);
    } finally {
      await killHard(worker);
    }
  });

  test('the pod deleted while its node is stopped and made again (as its StatefulSet would): the backup goes on, the node runs, the set verifies', async () => {
    const handle = await h.client.workflow.start('backupDataDirectory', {
      taskQueue: h.config.temporal.taskQueue,
      workflowId: workflowId('pod-deleted'),
      args: [{ cluster: 'c', copy: 'while-stopped', downtimeLimitSeconds: 120, heartbeatTimeoutSeconds: 10, retry: { initialIntervalSeconds: 0.5, maximumIntervalSeconds: 1, maximumAttempts: 20 } }],
    });
    for (let i = 0; await appRunning(b); i++) {
      assert.ok(i < 600, 'the backup stopped the node');
      await new Promise((r) => setTimeout(r, 100));
    }
    await k.core.deleteNamespacedPod({ namespace, name: POD, gracePeriodSeconds: 0 });
    for (let i = 0; await k.core.readNamespacedPod({ namespace, name: POD }).then(() => true, () => false); i++) {
      assert.ok(i < 200, 'the pod went');
      await new Promise((r) => setTimeout(r, 100));
    }
    const gone = await hostFor(h.config, 'c', b.nodeName).run(['true']).then(() => undefined, (e: unknown) => e as Error);
    assert.match(String(gone?.message), /not found/, 'exec into the deleted pod is refused');
    await new Promise((r) => setTimeout(r, 2000));
    await createPod(k, POD);
    const backup = (await handle.result()) as BackupDataDirectoryResult;
    assert.ok(await appRunning(b), 'the node runs');
    assert.ok(backup.nodes[0]!.stopWindow.seconds <= 120, 'within the downtime limit');
    const report = (await h.client.workflow.execute('verifyBackup', { taskQueue: h.config.temporal.taskQueue, workflowId: workflowId('verify'), args: [{ cluster: 'c', component: 'data-directory', set: backup.setId }] })) as { ok: boolean; problems: unknown[] };
    assert.equal(report.ok, true, JSON.stringify(report.problems));
  });

  test('the exec stream cut mid-tar: the step is retried, the set is whole and verifies, the node runs', async () => {
    const proxy = await cuttableApiServer();
    const hc = await startHarness(podConfig(proxy.kubeconfig));
    try {
      // Every exec answer is under 256 KiB but the data directory's tar.
      proxy.cutAfterBytes(256 * 1024);
      const handle = await hc.client.workflow.start('backupDataDirectory', { taskQueue: hc.config.temporal.taskQueue, workflowId: workflowId('cut'), args: [{ cluster: 'c', ...quick }] });
      const backup = (await handle.result()) as BackupDataDirectoryResult;
      assert.ok(await appRunning(b), 'the node runs');
      const events = (await handle.fetchHistory()).events ?? [];
      const scheduled = events.find((e) => e.activityTaskScheduledEventAttributes?.activityType?.name === 'streamDataDirectory');
      const started = events.find((e) => e.activityTaskStartedEventAttributes && Number(e.activityTaskStartedEventAttributes.scheduledEventId) === Number(scheduled?.eventId));
      assert.ok((started?.activityTaskStartedEventAttributes?.attempt ?? 0) >= 2, 'the streaming step ran again');
      assert.match(started?.activityTaskStartedEventAttributes?.lastFailure?.message ?? '', /dropped before tar reported its exit status|exec in pod/);
      const report = (await hc.client.workflow.execute('verifyBackup', { taskQueue: hc.config.temporal.taskQueue, workflowId: workflowId('verify'), args: [{ cluster: 'c', component: 'data-directory', set: backup.setId }] })) as { ok: boolean; problems: unknown[] };
      assert.equal(report.ok, true, JSON.stringify(report.problems));
    } finally {
      await hc.stop();
      await proxy.close();
    }
  });
});

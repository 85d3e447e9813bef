import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { RabbitvaultConfig } from '../config/schema';
import { progressQuery } from '../common/progress';
import type { BackupDataDirectoryResult, RestoreDataDirectoryResult } from '../contracts/dataDirectory';
import type { BackupDefinitionsResult } from '../contracts/definitions';
import type { BackupMessagesResult } from '../contracts/messages';
import { readManifest } from '../lib/backupSets/catalog';
import { verifySet } from '../lib/backupSets/verify';
import { LocalDirectoryStorage } from '../lib/storage/local';
import type { IsolatedRabbitCluster } from '../scripts/devstack/rabbitmqCluster';
import type { IsolatedRabbitNode } from '../scripts/devstack/rabbitmqNode';
import { appRunning, nodeEntry, startDataHarness } from './dataDirectory.support';
import { fillCluster, queuePlacement, startTestCluster } from './support/cluster';
import { failureOf, testConfig, workflowId, type Harness } from './support/harness';

const quick = { heartbeatTimeoutSeconds: 10, retry: { initialIntervalSeconds: 0.5, maximumAttempts: 3 } };

// Cluster "c": one management and one AMQP URL per node, every node on its own node task queue.
function clusterConfig(cluster: IsolatedRabbitCluster): RabbitvaultConfig {
  const base = testConfig({ c: { management: { url: 'http://127.0.0.1:1', username: 'guest', password: 'value:guest', timeoutSeconds: 10 } } } as never);
  const tag = randomBytes(3).toString('hex');
  return RabbitvaultConfig.parse({
    ...base,
    clusters: {
      c: {
        management: { url: cluster.nodes.map((n) => n.managementUrl), username: 'guest', password: 'value:guest', timeoutSeconds: 10 },
        amqp: { url: cluster.nodes.map((n) => `amqp://127.0.0.1:${n.options.amqpPort}`), username: 'guest', password: 'value:guest' },
        nodes: cluster.nodes.map((n, i) => nodeEntry(n, `node-${tag}-${i}`)),
      },
    },
  });
}

async function counts(node: IsolatedRabbitNode): Promise<Record<string, number>> {
  const out = await node.ctl(['-q', 'list_queues', 'name', 'messages', '--formatter', 'json']);
  return Object.fromEntries((JSON.parse(out) as Array<{ name: string; messages: number }>).map((q) => [q.name, q.messages]));
}

async function settledCounts(node: IsolatedRabbitNode, expected: Record<string, number>, timeoutMs = 60_000): Promise<Record<string, number>> {
  const deadline = Date.now() + timeoutMs;
  let seen: Record<string, number> = {};
  while (Date.now() < deadline) {
    seen = await counts(node).catch(() => ({}));
    if (JSON.stringify(Object.entries(seen).sort()) === JSON.stringify(Object.entries(expected).sort())) break;
    await new Promise((r) => setTimeout(r, 1000));
  }
  return seen;
}

// kill -9 of a node's Erlang VM (the pid file the node wrote), as a crash would.
function killBeam(node: IsolatedRabbitNode): void {
  const pid = Number(readFileSync(path.join(node.dir, 'pid'), 'utf8').trim());
  execFileSync('kill', ['-9', String(pid)]);
}

describe('a real three-node cluster', () => {
  let cluster: IsolatedRabbitCluster;
  let h: Harness;
  let config: RabbitvaultConfig;
  let local: LocalDirectoryStorage;
  let expected: Record<string, number>;
  const run = <T>(type: string, input: unknown) =>
    (h.client.workflow.execute(type, { taskQueue: config.temporal.taskQueue, workflowId: workflowId(type), args: [input] }) as Promise<T>).catch(async (error: unknown) => {
      throw new Error(`${type} failed: ${(await failureOf(Promise.reject(error))).message}`);
    });

  before(async () => {
    cluster = await startTestCluster();
    config = clusterConfig(cluster);
    h = await startDataHarness(config);
    local = new LocalDirectoryStorage((config.storage.targets.local as { path: string }).path);
    expected = await fillCluster(cluster, { quorum: 300, classicPerNode: 100 });
  });
  after(async () => {
    await h?.stop();
    await cluster?.destroy();
  });

  test('formed by join_cluster: one quorum queue with a replica on every node, classic queues homed on different nodes', async () => {
    assert.deepEqual(await cluster.runningNodes(cluster.nodes[2]!), cluster.nodes.map((n) => n.nodeName).sort());
    const placement = await queuePlacement(cluster.seed);
    const quorum = placement.find((q) => q.name === 'cl-quorum')!;
    assert.deepEqual(quorum.members, cluster.nodes.map((n) => n.nodeName).sort());
    assert.deepEqual(quorum.online, quorum.members);
    assert.deepEqual(
      placement.filter((q) => q.type === 'classic').map((q) => [q.name, q.node]).sort(),
      cluster.nodes.map((n, i) => [`cl-classic-${i + 1}`, n.nodeName]),
      JSON.stringify(placement),
    );
    assert.deepEqual(await settledCounts(cluster.seed, expected), expected);
  });

  test('the first node killed (kill -9): definitions and messages backups go on through the next node and name the dead one', async () => {
    const first = cluster.seed;
    killBeam(first);
    try {
      const defs = await h.client.workflow.start('backupDefinitions', { taskQueue: config.temporal.taskQueue, workflowId: workflowId('defs'), args: [{ cluster: 'c', retry: quick.retry }] });
      const defsResult = (await defs.result().catch(async (e: unknown) => {
        throw new Error(`backupDefinitions failed: ${(await failureOf(Promise.reject(e))).message}`);
      })) as BackupDefinitionsResult;
      const defsLog = (await defs.query(progressQuery)).log ?? [];
      const dead = `127.0.0.1:${first.options.managementPort}`;
      assert.ok(defsLog.some((l) => l.includes('node skipped') && l.includes(dead) && l.includes(cluster.nodes[1]!.managementUrl)), `progress names the dead node: ${defsLog.join(' | ')}`);
      const manifest = await readManifest(local, `c/definitions/${defsResult.setId}`);
      assert.equal((await verifySet(local, `c/definitions/${defsResult.setId}`, manifest)).ok, true);

      // Copy mode reads the quorum queue (two of three replicas still up) through the second node's AMQP listener.
      const msgs = await h.client.workflow.start('backupMessages', { taskQueue: config.temporal.taskQueue, workflowId: workflowId('msgs'), args: [{ cluster: 'c', queues: ['cl-quorum'], mode: 'copy', idleSeconds: 1, ...quick }] });
      const msgsResult = (await msgs.result().catch(async (e: unknown) => {
        throw new Error(`backupMessages failed: ${(await failureOf(Promise.reject(e))).message}`);
      })) as BackupMessagesResult;
      assert.equal(msgsResult.totals.messages, expected['cl-quorum']);
      const msgsLog = ((await msgs.query(progressQuery)).log ?? []).join(' | ');
      assert.match(msgsLog, new RegExp(`node skipped: AMQP for cl-quorum: amqp://127\\.0\\.0\\.1:${first.options.amqpPort} vhost /: ECONNREFUSED; went on through amqp://127\\.0\\.0\\.1:${cluster.nodes[1]!.options.amqpPort}`));
    } finally {
      await first.start();
    }
    assert.deepEqual(await cluster.runningNodes(first), cluster.nodes.map((n) => n.nodeName).sort(), 'the killed node rejoined');
  });

  test('one at a time, a node killed (kill -9) while another is backed up: the backup of the other two completes in order, each runs again, the set verifies', async () => {
    const [first, second, victim] = cluster.nodes as [IsolatedRabbitNode, IsolatedRabbitNode, IsolatedRabbitNode];
    const handle = await h.client.workflow.start('backupDataDirectory', {
      taskQueue: config.temporal.taskQueue,
      workflowId: workflowId('dd-kill'),
      args: [{ cluster: 'c', nodes: [first.nodeName, second.nodeName], mode: 'one-at-a-time', copy: 'while-stopped', ...quick }],
    });
    const deadline = Date.now() + 120_000;
    // The progress query exists once the workflow holds the cluster lock.
    const step = () => handle.query(progressQuery).then((p) => p.step, () => 'starting');
    while ((await step()) !== 'copying data directory' && Date.now() < deadline) await new Promise((r) => setTimeout(r, 100));
    killBeam(victim);
    try {
      const result = (await handle.result()) as BackupDataDirectoryResult;
      assert.deepEqual(result.nodes.map((n) => n.node), [first.nodeName, second.nodeName]);
      const [n1, n2] = result.nodes;
      assert.ok(n1!.stopWindow.runningAt <= n2!.stopWindow.stoppedAt, 'one at a time: the second node stops only after the first runs again');
      assert.ok((await appRunning(first)) && (await appRunning(second)), 'both backed-up nodes run again');
      const manifest = await readManifest(local, `c/data-directory/${result.setId}`);
      assert.equal((await verifySet(local, `c/data-directory/${result.setId}`, manifest)).ok, true);
    } finally {
      await victim.start();
    }
    assert.deepEqual(await settledCounts(cluster.seed, expected), expected, 'nothing lost');
  });

  let allTogether: BackupDataDirectoryResult;
  test('all together: one stop window for the whole cluster; a restore of one member of the running cluster is refused with the reason and the alternative, nothing changed', async () => {
    allTogether = await run<BackupDataDirectoryResult>('backupDataDirectory', { cluster: 'c', mode: 'all-together', ...quick });
    assert.equal(new Set(allTogether.nodes.map((n) => JSON.stringify(n.stopWindow))).size, 1, 'one stop window for the consistent set');
    assert.deepEqual(allTogether.nodes.map((n) => n.copy), ['pre-copy', 'pre-copy', 'pre-copy'], 'each node pre-copied while running, only its changes copied while stopped');
    const refused = await failureOf(
      h.client.workflow.execute('restoreDataDirectory', { taskQueue: config.temporal.taskQueue, workflowId: workflowId('one-node'), args: [{ cluster: 'c', from: allTogether.setId, nodes: [cluster.nodes[1]!.nodeName], ...quick }] }),
    );
    assert.equal(refused.type, 'DataDirectoryRestoreRefused');
    assert.match(refused.message, /nothing was changed/);
    assert.match(refused.message, new RegExp(`member of a cluster with .*${cluster.nodes[0]!.nodeName}`));
    assert.match(refused.message, /re-sync from its peers \(rabbitmqctl stop_app; rabbitmqctl reset; rabbitmqctl join_cluster/);
    for (const node of cluster.nodes) assert.ok(await appRunning(node), `${node.nodeName} still runs`);
  });

  test('whole-cluster restore: every member started at once; counts as in the manifest, the quorum leader and every replica online', async () => {
    const backup = allTogether;
    assert.ok(backup, 'the all-together set of the test before');
    // Change the cluster after the backup: the restore must undo it.
    await cluster.nodes[1]!.ctl(['purge_queue', 'cl-classic-2']);
    await cluster.nodes[2]!.ctl(['delete_queue', 'cl-classic-3']);
    const restored = await run<RestoreDataDirectoryResult>('restoreDataDirectory', { cluster: 'c', from: backup.setId, ...quick });
    assert.deepEqual(restored.wholeCluster?.startedTogether, cluster.nodes.map((n) => n.nodeName));
    assert.equal(restored.wholeCluster?.quorumQueues, 1);
    assert.equal(restored.wholeCluster?.replicasOnline, 3);
    assert.deepEqual(await settledCounts(cluster.seed, expected), expected);
    const quorum = (await queuePlacement(cluster.nodes[2]!)).find((q) => q.name === 'cl-quorum')!;
    assert.ok(quorum.leader, 'the quorum queue has a leader');
    assert.deepEqual(quorum.online, cluster.nodes.map((n) => n.nodeName).sort());
    assert.deepEqual(await cluster.runningNodes(cluster.nodes[1]!), cluster.nodes.map((n) => n.nodeName).sort());
  });
});

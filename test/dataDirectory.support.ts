// Helpers shared by the data-directory test files (not a test file itself).
import { randomBytes } from 'node:crypto';
import { writeFileSync } from 'node:fs';
import path from 'node:path';
import type { NodeConfig } from '../config/nodeSchema';
import amqp from 'amqplib';
import type { RabbitvaultConfig } from '../config/schema';
import { dataDirectoryLockWorkflowId } from '../common/workflowIds';
import type { IsolatedRabbitNode } from '../scripts/devstack/rabbitmqNode';
import { clusterEntry, startHarness, testConfig, type Harness } from './support/harness';

// Only what the node's CLI tools need: HOME (the Erlang cookie) and RABBITMQ_*.
export function nodeEnv(node: IsolatedRabbitNode): Record<string, string> {
  return Object.fromEntries(Object.entries(node.env).filter(([k, v]) => (k === 'HOME' || k.startsWith('RABBITMQ_')) && v !== undefined)) as Record<string, string>;
}

export function nodeEntry(node: IsolatedRabbitNode, taskQueue: string) {
  return { name: node.nodeName, access: { type: 'local' as const, taskQueue, env: nodeEnv(node) } };
}

// A config whose cluster "c" has the given nodes, each on its own node task queue; restic password set on both targets.
export function dataConfig(nodes: IsolatedRabbitNode[], clusterNodes: IsolatedRabbitNode[] = nodes, storageDefault: 'local' | 'minio' = 'local'): RabbitvaultConfig {
  const base = testConfig({ c: clusterEntry(nodes[0]!) }, storageDefault);
  const tag = randomBytes(3).toString('hex');
  const cluster = { ...base.clusters.c!, nodes: clusterNodes.map((n, i) => ({ ...nodeEntry(n, `node-${tag}-${i}`), access: { ...nodeEntry(n, `node-${tag}-${i}`).access, rabbitmqctl: '/usr/lib/rabbitmq/bin/rabbitmqctl', rabbitmqServer: '/usr/lib/rabbitmq/bin/rabbitmq-server' } })) };
  const targets = Object.fromEntries(Object.entries(base.storage.targets).map(([k, t]) => [k, { ...t, resticPassword: 'value:test-restic-password' }]));
  return { ...base, storage: { ...base.storage, targets }, clusters: { c: cluster } } as RabbitvaultConfig;
}

export function nodeQueues(config: RabbitvaultConfig): string[] {
  return config.clusters.c!.nodes.map(localTaskQueue);
}

// The host worker's task queue of a node with local access.
export function localTaskQueue(node: NodeConfig): string {
  if (node.access.type !== 'local') throw new Error(`node ${node.name} has ${node.access.type} access, not local`);
  return node.access.taskQueue;
}

// The main worker plus one worker per node task queue, all in this process.
export async function startDataHarness(config: RabbitvaultConfig, nodeOverrides: Parameters<typeof startHarness>[1] = {}): Promise<Harness & { nodeWorkers: Harness[] }> {
  const main = await startHarness(config);
  const nodeWorkers = await Promise.all(nodeQueues(config).map((taskQueue) => startHarness(config, { ...nodeOverrides, taskQueue })));
  return {
    ...main,
    nodeWorkers,
    async stop() {
      await Promise.all(nodeWorkers.map((w) => w.stop()));
      await main.stop();
    },
  };
}

// Persistent messages (publisher confirms) into durable queues: a classic and a quorum queue.
export async function fillQueues(node: IsolatedRabbitNode, options: { classic: number; quorum: number; size: number; prefix?: string }): Promise<void> {
  const connection = await amqp.connect(node.amqpUrl);
  try {
    const ch = await connection.createConfirmChannel();
    const p = options.prefix ?? 'dd';
    await ch.assertQueue(`${p}-classic`, { durable: true });
    await ch.assertQueue(`${p}-quorum`, { durable: true, arguments: { 'x-queue-type': 'quorum' } });
    // A different body each time: repeated bodies would make the data periodic and defeat restic's chunking.
    const body = () => randomBytes(options.size);
    for (let i = 0; i < options.classic; i += 1) ch.sendToQueue(`${p}-classic`, body(), { persistent: true });
    for (let i = 0; i < options.quorum; i += 1) ch.sendToQueue(`${p}-quorum`, body(), { persistent: true });
    await ch.waitForConfirms();
  } finally {
    await connection.close();
  }
}

export async function queueCounts(node: IsolatedRabbitNode): Promise<Record<string, number>> {
  const out = await node.ctl(['-q', 'list_queues', 'name', 'messages', '--formatter', 'json']);
  return Object.fromEntries((JSON.parse(out) as Array<{ name: string; messages: number }>).map((q) => [q.name, q.messages]));
}

// Quorum counts read 0 for a few seconds after a start: poll until they match.
export async function waitForCounts(node: IsolatedRabbitNode, expected: Record<string, number>, timeoutMs = 60_000): Promise<Record<string, number>> {
  const deadline = Date.now() + timeoutMs;
  let counts: Record<string, number> = {};
  while (Date.now() < deadline) {
    counts = await queueCounts(node).catch(() => ({}));
    if (Object.entries(expected).every(([k, v]) => counts[k] === v) && Object.keys(counts).length === Object.keys(expected).length) return counts;
    await new Promise((r) => setTimeout(r, 1000));
  }
  return counts;
}

export async function appRunning(node: IsolatedRabbitNode): Promise<boolean> {
  try {
    await node.ctl(['-q', 'eval', 'true = lists:keymember(rabbit, 1, application:which_applications()).']);
    return true;
  } catch {
    return false;
  }
}

// Records one history per data-directory workflow path (replay test input).
export async function recordDataDirectoryHistories(dir: string, node: IsolatedRabbitNode, only?: string[]): Promise<void> {
  await node.reset();
  await fillQueues(node, { classic: 5, quorum: 5, size: 100 });
  const config = dataConfig([node]);
  const h = await startDataHarness(config);
  const runs: Array<[string, string, unknown]> = [
    ['backupDataDirectory', 'backup-data-directory', { cluster: 'c', copy: 'while-stopped', heartbeatTimeoutSeconds: 10 }],
    ['backupDataDirectory', 'backup-data-directory-pre-copy', { cluster: 'c', heartbeatTimeoutSeconds: 10 }],
    ['restoreDataDirectory', 'restore-data-directory', { cluster: 'c', from: 'latest', heartbeatTimeoutSeconds: 10 }],
    // With the cluster lock (patch data-directory-lock); the lock's own history is kept beside them.
    ['backupDataDirectory', 'backup-data-directory-locked', { cluster: 'c', heartbeatTimeoutSeconds: 10 }],
    ['restoreDataDirectory', 'restore-data-directory-locked', { cluster: 'c', from: 'latest', heartbeatTimeoutSeconds: 10 }],
  ];
  try {
    for (const [type, name, input] of runs.filter(([, n]) => !only || only.includes(n))) {
      const handle = await h.client.workflow.start(type, { taskQueue: config.temporal.taskQueue, workflowId: `${name}.json`, args: [input] });
      await handle.result();
      writeFileSync(path.join(dir, `${name}.json`), JSON.stringify(await handle.fetchHistory(), null, 1));
      if (name === 'restore-data-directory-locked') {
        const lock = h.client.workflow.getHandle(dataDirectoryLockWorkflowId('c'));
        writeFileSync(path.join(dir, 'data-directory-lock.json'), JSON.stringify(await lock.fetchHistory(), null, 1));
      }
    }
  } finally {
    await h.stop();
    await node.reset();
  }
}

// Recorder of the configuration workflows' histories (replay test input; not a test file itself).
import { randomBytes } from 'node:crypto';
import { readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import type { IsolatedRabbitNode } from '../scripts/devstack/rabbitmqNode';
import { dataConfig, startDataHarness } from './dataDirectory.support';
import { clusterEntry, startHarness, testConfig } from './support/harness';
import { apis, createHelmRelease } from './support/kubernetesFixtures';
import { testStack } from './support/stack';

// backup; a dry run; a restore with restart of the one file changed meanwhile. The node ends with its own files.
export async function recordConfigurationHistories(dir: string, node: IsolatedRabbitNode): Promise<void> {
  const conf = path.join(node.dir, 'rabbitmq.conf');
  const original = readFileSync(conf);
  const h = await startDataHarness(dataConfig([node]));
  const runs: Array<[string, string, unknown]> = [
    ['backupConfiguration', 'backup-configuration', { cluster: 'c' }],
    ['restoreConfiguration', 'restore-configuration-dry-run', { cluster: 'c', from: 'latest', dryRun: true }],
    ['restoreConfiguration', 'restore-configuration', { cluster: 'c', from: 'latest', restart: true }],
  ];
  try {
    for (const [type, name, input] of runs) {
      if (type === 'restoreConfiguration') writeFileSync(conf, Buffer.concat([original, Buffer.from('# changed after the backup\n')]));
      const handle = await h.client.workflow.start(type, { taskQueue: h.config.temporal.taskQueue, workflowId: `${name}.json`, args: [input] });
      await handle.result();
      writeFileSync(path.join(dir, `${name}.json`), JSON.stringify(await handle.fetchHistory(), null, 1));
    }
  } finally {
    await h.stop();
    writeFileSync(conf, original);
    for (const f of readdirSync(node.dir).filter((n) => n.includes('.rabbitvault-'))) rmSync(path.join(node.dir, f), { force: true });
  }
}

// The Kubernetes path: backup of a Helm release, then a restore with rollout restart of its ConfigMap changed meanwhile.
export async function recordKubernetesConfigurationHistories(dir: string, node: IsolatedRabbitNode): Promise<void> {
  const kube = await apis();
  const namespace = `rv-record-${randomBytes(3).toString('hex')}`;
  await createHelmRelease(kube, namespace, { conf: 'listeners.tcp.default = 5672\n', plugins: '[rabbitmq_management].\n', password: 'recorded' });
  const base = testConfig({ k: clusterEntry(node) });
  const h = await startHarness({ ...base, clusters: { k: { ...base.clusters.k!, kubernetes: { kubeconfig: testStack().kubernetes.kubeconfig, namespace, release: 'mq' } } } });
  try {
    for (const [type, name, input] of [
      ['backupConfiguration', 'backup-configuration-kubernetes', { cluster: 'k' }],
      ['restoreConfiguration', 'restore-configuration-kubernetes', { cluster: 'k', from: 'latest', restart: true }],
    ] as const) {
      if (type === 'restoreConfiguration') await kube.core.replaceNamespacedConfigMap({ name: 'mq', namespace, body: { metadata: { name: 'mq' }, data: { 'rabbitmq.conf': '# changed\n' } } });
      const handle = await h.client.workflow.start(type, { taskQueue: h.config.temporal.taskQueue, workflowId: `${name}.json`, args: [input] });
      await handle.result();
      writeFileSync(path.join(dir, `${name}.json`), JSON.stringify(await handle.fetchHistory(), null, 1));
    }
  } finally {
    await h.stop();
    await kube.core.deleteNamespace({ name: namespace }).catch(() => undefined);
  }
}

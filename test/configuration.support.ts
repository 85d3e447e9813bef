// Recorder of the configuration workflows' histories (replay test input; not a test file itself).
import { readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import type { IsolatedRabbitNode } from '../scripts/devstack/rabbitmqNode';
import { dataConfig, startDataHarness } from './dataDirectory.support';

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

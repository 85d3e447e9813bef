// What the crash tests (crashEveryStep, crashStopWindow) share between runs.
import { writeFileSync } from 'node:fs';
import type { Client } from '@temporalio/client';
import type { BackupConfigurationResult } from '../../contracts/configuration';
import { dataDirectoryLockWorkflowId } from '../../common/workflowIds';
import type { IsolatedRabbitNode } from '../../scripts/devstack/rabbitmqNode';
import { appRunning } from '../dataDirectory.support';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

// True when the node was running (within 5 s); otherwise it is started and false returned.
export async function ensureRunning(node: IsolatedRabbitNode): Promise<boolean> {
  for (let i = 0; i < 5; i += 1) {
    if (await appRunning(node)) return true;
    await sleep(1000);
  }
  await node.ctl(['start_app'], 180_000).catch(async () => {
    await node.start();
  });
  return false;
}

// The previous run's cluster lock has ended (its child workflow may outlive the parent by a moment).
export async function lockReleased(client: Client, cluster: string): Promise<void> {
  const handle = client.workflow.getHandle(dataDirectoryLockWorkflowId(cluster));
  for (let i = 0; i < 150; i += 1) {
    const status = await handle.describe().then((d) => d.status.name, () => 'NONE');
    if (status !== 'RUNNING') return;
    await sleep(200);
  }
  throw new Error(`the lock of cluster ${cluster} is still held 30 s after the previous run`);
}

// Runs of restoreConfiguration on one node: the node running, one configuration
// set of the original rabbitmq.conf (backed up at the first run), and the file
// then changed, so every run has a file to replace. state.before is what a
// failed run must leave behind.
export function configurationRestoreRuns(o: { client: Client; taskQueue: string; cluster: string; node: IsolatedRabbitNode; conf: string; original: Buffer; workflowIdPrefix: string }) {
  let setId = '';
  return {
    setId: () => setId,
    prepare: async (label: string): Promise<{ before: Buffer }> => {
      await ensureRunning(o.node);
      if (!setId) {
        writeFileSync(o.conf, o.original);
        const backup = (await o.client.workflow.execute('backupConfiguration', { taskQueue: o.taskQueue, workflowId: `${o.workflowIdPrefix}-${Date.now()}`, args: [{ cluster: o.cluster }] })) as BackupConfigurationResult;
        setId = backup.setId;
      }
      const before = Buffer.concat([o.original, Buffer.from(`# before the run "${label}"\n`)]);
      writeFileSync(o.conf, before);
      return { before };
    },
  };
}

// What the crash tests (crashEveryStep, crashStopWindow) share between runs.
import type { Client } from '@temporalio/client';
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

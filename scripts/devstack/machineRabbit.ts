import { execFile } from 'node:child_process';
import net from 'node:net';
import { promisify } from 'node:util';
import { waitFor } from './ports';
import { SetupError, step } from './progress';

const run = promisify(execFile);

function answers(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = net.connect({ host: '127.0.0.1', port });
    socket.once('connect', () => {
      socket.destroy();
      resolve(true);
    });
    socket.once('error', () => resolve(false));
  });
}

// The embedded default backs up the machine's own RabbitMQ, whose management
// plugin is off on a fresh install: turn it on (what an operator would do by hand).
export async function ensureMachineManagementApi(managementUrl: string): Promise<void> {
  const url = new URL(managementUrl);
  const port = Number(url.port || 15672);
  if (!['127.0.0.1', 'localhost'].includes(url.hostname) || (await answers(port))) return;
  if (!(await answers(5672))) {
    throw new SetupError('RabbitMQ is not running on 127.0.0.1:5672: start it (rabbitmq-server -detached) or point clusters.local at your broker in rabbitvault.yaml');
  }
  step('enabling the rabbitmq_management plugin of the machine\'s RabbitMQ (rabbitmq-plugins enable rabbitmq_management)');
  try {
    await run('rabbitmq-plugins', ['enable', 'rabbitmq_management'], { timeout: 120_000 });
  } catch (error) {
    throw new SetupError(`could not enable rabbitmq_management (${(error as Error).message.split('\n')[0]}): run "rabbitmq-plugins enable rabbitmq_management" as root`);
  }
  await waitFor(`RabbitMQ management API on port ${port}`, () => answers(port), 60_000, 500);
}

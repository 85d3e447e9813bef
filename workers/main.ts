// The worker process: `rabbitvault worker` or `npm run worker -- --config FILE`.
import { parseArgs } from 'node:util';
import { ConfigError, loadConfig } from '../config/load';
import { startAutomation } from './automationStartup';
import { createWorker } from './createWorker';
import { memorySettingsLine } from './memorySettings';
import { connectWorker } from '../lib/temporal/connection';

// Node task queues (data-directory steps of nodes on this host): --node-queue or RABBITVAULT_NODE_QUEUES (comma-separated).
export function nodeQueuesFrom(flags: string[] = []): string[] {
  const fromEnv = (process.env.RABBITVAULT_NODE_QUEUES ?? '').split(',').map((q) => q.trim());
  return [...new Set([...flags, ...fromEnv].filter(Boolean))];
}

export async function runWorker(configPath?: string, nodeQueues: string[] = nodeQueuesFrom()): Promise<void> {
  const { config, source } = loadConfig(configPath);
  const connection = await connectWorker(config).catch((error: Error) => {
    throw new Error(`cannot reach Temporal at ${config.temporal.address}: ${error.message} (start it, or fix temporal.address in ${source})`);
  });
  const worker = await createWorker({ config, connection });
  process.stderr.write(
    `[rabbitvault] worker polling task queue "${config.temporal.taskQueue}" on ${config.temporal.address} (namespace ${config.temporal.namespace}; config: ${source})\n`,
  );
  const nodeWorkers = await Promise.all(nodeQueues.map((taskQueue) => createWorker({ config, connection, taskQueue })));
  for (const q of nodeQueues) process.stderr.write(`[rabbitvault] also serving node task queue "${q}"\n`);
  process.stderr.write(`[rabbitvault] ${memorySettingsLine()}\n`);
  const metrics = await startAutomation(config, (line) => process.stderr.write(`[rabbitvault] ${line}\n`));
  await Promise.all([worker.run(), ...nodeWorkers.map((w) => w.run())]);
  await metrics.close();
  await connection.close();
}

if (require.main === module) {
  const { values } = parseArgs({ options: { config: { type: 'string' }, 'node-queue': { type: 'string', multiple: true } } });
  runWorker(values.config, nodeQueuesFrom(values['node-queue'])).catch((error: unknown) => {
    process.stderr.write(`rabbitvault worker: ${error instanceof ConfigError ? error.message : (error as Error).message}\n`);
    process.exit(1);
  });
}

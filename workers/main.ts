// The worker process: `rabbitvault worker` or `npm run worker -- --config FILE`.
import { parseArgs } from 'node:util';
import { ConfigError, loadConfig } from '../config/load';
import { startAutomation } from './automationStartup';
import { createWorker } from './createWorker';
import { connectWorker } from './temporalConnection';

export async function runWorker(configPath?: string): Promise<void> {
  const { config, source } = loadConfig(configPath);
  const connection = await connectWorker(config).catch((error: Error) => {
    throw new Error(`cannot reach Temporal at ${config.temporal.address}: ${error.message} (start it, or fix temporal.address in ${source})`);
  });
  const worker = await createWorker({ config, connection });
  process.stderr.write(
    `[rabbitvault] worker polling task queue "${config.temporal.taskQueue}" on ${config.temporal.address} (namespace ${config.temporal.namespace}; config: ${source})\n`,
  );
  const metrics = await startAutomation(config, (line) => process.stderr.write(`[rabbitvault] ${line}\n`));
  await worker.run();
  await metrics.close();
  await connection.close();
}

if (require.main === module) {
  const { values } = parseArgs({ options: { config: { type: 'string' } } });
  runWorker(values.config).catch((error: unknown) => {
    process.stderr.write(`rabbitvault worker: ${error instanceof ConfigError ? error.message : (error as Error).message}\n`);
    process.exit(1);
  });
}

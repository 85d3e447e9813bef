// Our worker (real activities and workflows) from a prebuilt workflow bundle, as
// a production worker image would run it; a process of its own so the bench can
// read its memory without the bundler's.
import { NativeConnection } from '@temporalio/worker';
import { loadConfig } from '../../config/load';
import { createWorker } from '../../workers/createWorker';

async function main(): Promise<void> {
  const [configFile, bundle] = process.argv.slice(2) as [string, string];
  const { config } = loadConfig(configFile);
  const connection = await NativeConnection.connect({ address: config.temporal.address });
  const worker = await createWorker({ config, connection, workflowBundlePath: bundle });
  process.stderr.write(`[rabbitvault] worker polling task queue "${config.temporal.taskQueue}"\n`);
  process.once('SIGTERM', () => worker.shutdown());
  await worker.run();
  await connection.close();
}

main().catch((error: unknown) => {
  process.stderr.write(`bench worker: ${(error as Error).message}\n`);
  process.exit(1);
});

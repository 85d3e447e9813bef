// `npm start`: the embedded default end to end. Temporal dev server (Web UI),
// a worker, one definitions backup of the configured cluster, then stays up.
import { mkdirSync } from 'node:fs';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { DefaultLogger, Runtime } from '@temporalio/worker';
import { ConfigError, loadConfig } from '../config/load';
import { backupDefinitionsWorkflowId } from '../common/workflowIds';
import { DefinitionsWorkflow } from '../contracts/definitions';
import { createWorker } from '../workers/createWorker';
import { connectWorker } from '../lib/temporal/connection';
import { endpointUrls } from '../lib/rabbitmq/endpoints';
import { startAutomation } from '../workers/automationStartup';
import { ensureMachineManagementApi } from './devstack/machineRabbit';
import { SetupError, step } from './devstack/progress';
import { isTemporalHealthy, startTemporalDevServer, type RunningTemporal } from './devstack/temporal';
import { failureMessage, follow, openClient, startSearchable, webUiLink } from '../cli/workflowRun';

const root = path.resolve(__dirname, '..');

async function ensureTemporal(address: string, webUiUrl: string): Promise<RunningTemporal | undefined> {
  if (await isTemporalHealthy(address)) {
    step(`using the Temporal server already running at ${address}`);
    return undefined;
  }
  const [host, port] = address.split(':');
  if (!['127.0.0.1', 'localhost'].includes(host ?? '')) {
    throw new SetupError(`Temporal at ${address} does not answer: start it, or fix temporal.address in the config`);
  }
  const stateDir = path.join(root, '.rabbitvault');
  mkdirSync(stateDir, { recursive: true });
  return startTemporalDevServer({
    port: Number(port),
    uiPort: Number(new URL(webUiUrl).port || 8233),
    dbFile: path.join(stateDir, 'temporal.db'),
    logFile: path.join(stateDir, 'temporal.log'),
  });
}

async function main(): Promise<number> {
  const { values } = parseArgs({ options: { config: { type: 'string' }, once: { type: 'boolean', default: false }, cluster: { type: 'string' } } });
  const { config, source } = loadConfig(values.config);
  step(`config: ${source}`);
  const cluster = values.cluster ?? Object.keys(config.clusters)[0]!;
  const clusterConfig = config.clusters[cluster];
  if (!clusterConfig) throw new SetupError(`cluster "${cluster}" is not in ${source}`);

  const temporal = await ensureTemporal(config.temporal.address, config.temporal.webUiUrl);
  await ensureMachineManagementApi(endpointUrls(clusterConfig.management.url)[0]!);

  Runtime.install({ logger: new DefaultLogger('WARN') });
  const connection = await connectWorker(config);
  const worker = await createWorker({ config, connection });
  const running = worker.run();
  step(`worker polling task queue "${config.temporal.taskQueue}"`);
  // Schedules from the config, and metrics (on 127.0.0.1:9464 unless metrics.listen says otherwise).
  const metrics = await startAutomation(config, step, config.metrics?.listen ?? '127.0.0.1:9464');

  const shutdown = async () => {
    if (worker.getState() === 'RUNNING') worker.shutdown();
    await running;
    await metrics.close();
    await connection.close();
    await temporal?.stop();
  };
  process.once('SIGINT', () => void shutdown().then(() => process.exit(0)));
  process.once('SIGTERM', () => void shutdown().then(() => process.exit(0)));

  const client = await openClient(config);
  const workflowId = backupDefinitionsWorkflowId(cluster, new Date());
  const handle = await startSearchable(client, config, {
    workflowType: DefinitionsWorkflow.backup,
    workflowId,
    input: { cluster },
    cluster,
    component: 'definitions',
  });
  step(`backing up definitions of "${cluster}" (${endpointUrls(clusterConfig.management.url).join(', ')}): ${webUiLink(config, workflowId, handle.firstExecutionRunId)}`);
  let code = 0;
  try {
    const r = await follow(handle, step);
    console.log(`definitions backup complete: ${r.counts.queues} queues, ${r.counts.exchanges} exchanges, ${r.counts.bindings} bindings, ${r.counts.vhosts} vhosts, ${r.counts.users} users`);
    console.log(`backup set: ${r.location}`);
  } catch (error) {
    console.error(`definitions backup FAILED: ${failureMessage(error)}`);
    code = 1;
  }
  await client.connection.close();
  console.log(`Temporal Web UI: ${config.temporal.webUiUrl}`);
  if (values.once) {
    await shutdown();
    return code;
  }
  console.log('worker running; press Ctrl-C to stop');
  await running;
  return code;
}

main().then(
  (code) => process.exit(code),
  (error: unknown) => {
    const message = error instanceof SetupError || error instanceof ConfigError ? error.message : ((error as Error).stack ?? String(error));
    process.stderr.write(`rabbitvault: ${message}\n`);
    process.exit(1);
  },
);

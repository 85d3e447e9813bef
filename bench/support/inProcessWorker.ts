import { Client, Connection } from '@temporalio/client';
import { DefaultLogger, NativeConnection, Runtime } from '@temporalio/worker';
import type { RabbitvaultConfig } from '../../config/schema';
import { createWorker } from '../../workers/createWorker';

export interface InProcessWorker {
  client: Client;
  stop(): Promise<void>;
}

// Before any connection: the Rust core's own log lines would bury the table.
export function quietTemporalRuntime(): void {
  Runtime.install({ logger: new DefaultLogger('ERROR') });
}

// Our real worker (real activities, workflows bundled from workflows/) and a
// client, both in this process; the CLI's workflows land on the same task queue.
export async function startInProcessWorker(config: RabbitvaultConfig): Promise<InProcessWorker> {
  const nativeConnection = await NativeConnection.connect({ address: config.temporal.address });
  const worker = await createWorker({ config, connection: nativeConnection }).catch(async (error: unknown) => {
    await nativeConnection.close();
    throw error;
  });
  const running = worker.run();
  // Handled here so a worker that dies reports through stop(), not as a crash that skips teardown.
  running.catch(() => undefined);
  const connection = await Connection.connect({ address: config.temporal.address }).catch(async (error: unknown) => {
    worker.shutdown();
    await running.catch(() => undefined);
    await nativeConnection.close();
    throw error;
  });
  return {
    client: new Client({ connection, namespace: config.temporal.namespace }),
    async stop() {
      if (worker.getState() === 'RUNNING') worker.shutdown();
      await running;
      await nativeConnection.close();
      await connection.close();
    },
  };
}

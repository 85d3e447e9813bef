import { randomBytes } from 'node:crypto';
import { Client, Connection, WorkflowFailedError } from '@temporalio/client';
import { NativeConnection, Runtime, DefaultLogger, type Worker } from '@temporalio/worker';
import { RabbitvaultConfig } from '../../config/schema';
import { createWorker, type CreateWorkerOptions } from '../../workers/createWorker';
import type { IsolatedRabbitNode } from '../../scripts/devstack/rabbitmqNode';
import { scratchDir, testStack } from './stack';

let runtimeQuieted = false;
function quietRuntime(): void {
  if (runtimeQuieted) return;
  runtimeQuieted = true;
  Runtime.install({ logger: new DefaultLogger('ERROR') });
}

export function clusterEntry(node: IsolatedRabbitNode, password = 'value:guest') {
  return {
    management: { url: node.managementUrl, username: 'guest', password, timeoutSeconds: 10 },
    amqp: { url: `amqp://127.0.0.1:${node.options.amqpPort}`, username: 'guest', password },
  };
}

// A config for one test: its own task queue, a local storage dir, MinIO, and the given clusters.
export function testConfig(clusters: Record<string, ReturnType<typeof clusterEntry>>, storageDefault: 'local' | 'minio' = 'local'): RabbitvaultConfig {
  const stack = testStack();
  return RabbitvaultConfig.parse({
    temporal: { address: stack.temporalAddress, namespace: stack.lane.temporalNamespace, taskQueue: `test-${randomBytes(4).toString('hex')}` },
    storage: {
      default: storageDefault,
      targets: {
        local: { type: 'local', path: scratchDir('backups') },
        minio: {
          type: 's3',
          bucket: stack.lane.bucket,
          endpoint: stack.minio.endpoint,
          forcePathStyle: true,
          accessKeyId: `value:${stack.minio.accessKeyId}`,
          secretAccessKey: `value:${stack.minio.secretAccessKey}`,
        },
      },
    },
    clusters,
  });
}

export interface Harness {
  config: RabbitvaultConfig;
  client: Client;
  worker: Worker;
  stop(): Promise<void>;
}

// A real worker on the test run's Temporal dev server, running until stop().
export async function startHarness(config: RabbitvaultConfig, overrides: Partial<CreateWorkerOptions> = {}): Promise<Harness> {
  quietRuntime();
  const stack = testStack();
  const nativeConnection = await NativeConnection.connect({ address: stack.temporalAddress });
  const worker = await createWorker({ config, connection: nativeConnection, workflowBundlePath: stack.workflowBundlePath, ...overrides });
  const running = worker.run();
  const connection = await Connection.connect({ address: stack.temporalAddress });
  const client = new Client({ connection, namespace: config.temporal.namespace });
  return {
    config,
    client,
    worker,
    async stop() {
      if (worker.getState() === 'RUNNING') worker.shutdown();
      await running;
      await nativeConnection.close();
      await connection.close();
    },
  };
}

export function workflowId(label: string): string {
  return `test-${label}-${randomBytes(4).toString('hex')}`;
}

// The failure message a workflow ended with, for assertions.
export async function failureOf(promise: Promise<unknown>): Promise<{ message: string; type?: string }> {
  try {
    await promise;
  } catch (error) {
    if (error instanceof WorkflowFailedError) {
      const cause = error.cause as { message: string; type?: string } | undefined;
      return { message: cause?.message ?? error.message, type: cause?.type };
    }
    throw error;
  }
  throw new Error('expected the workflow to fail, but it completed');
}

// Every payload of a workflow's history as text: tests assert no secret is in it.
export async function historyText(h: Harness, id: string): Promise<string> {
  const history = await h.client.workflow.getHandle(id).fetchHistory();
  const texts: string[] = [];
  const walk = (o: unknown): void => {
    if (o instanceof Uint8Array) texts.push(Buffer.from(o).toString('utf8'));
    else if (Array.isArray(o)) o.forEach(walk);
    else if (o && typeof o === 'object') Object.values(o).forEach(walk);
  };
  walk(history);
  return texts.join('\n');
}

import { existsSync } from 'node:fs';
import path from 'node:path';
import { NativeConnection, Worker, type WorkerOptions } from '@temporalio/worker';
import { createActivities, defaultDeps, type Activities } from '../activities';
import type { RabbitvaultConfig } from '../config/schema';

export interface CreateWorkerOptions {
  config: RabbitvaultConfig;
  connection: NativeConnection;
  taskQueue?: string;
  // Prebuilt workflow bundle (tests build it once per run); else bundled from workflows/.
  workflowBundlePath?: string;
  activityOverrides?: Partial<Activities>;
  shutdownGraceTime?: WorkerOptions['shutdownGraceTime'];
}

// Compiled (dist/workers/createWorker.js), the worker uses the bundle built beside
// it by scripts/setup/build-worker.mjs; from the TypeScript sources it bundles them.
function prebuiltBundle(): string | undefined {
  if (!__filename.endsWith('.js')) return undefined;
  const bundle = path.join(__dirname, '..', 'workflow-bundle.js');
  return existsSync(bundle) ? bundle : undefined;
}

export function createWorker(options: CreateWorkerOptions): Promise<Worker> {
  const activities = { ...createActivities(defaultDeps(options.config)), ...options.activityOverrides };
  const workflowBundlePath = options.workflowBundlePath ?? prebuiltBundle();
  return Worker.create({
    connection: options.connection,
    namespace: options.config.temporal.namespace,
    taskQueue: options.taskQueue ?? options.config.temporal.taskQueue,
    activities,
    ...(workflowBundlePath
      ? { workflowBundle: { codePath: workflowBundlePath } }
      : { workflowsPath: require.resolve('../workflows') }),
    shutdownGraceTime: options.shutdownGraceTime ?? '10 seconds',
  });
}

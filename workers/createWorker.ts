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

export function createWorker(options: CreateWorkerOptions): Promise<Worker> {
  const activities = { ...createActivities(defaultDeps(options.config)), ...options.activityOverrides };
  return Worker.create({
    connection: options.connection,
    namespace: options.config.temporal.namespace,
    taskQueue: options.taskQueue ?? options.config.temporal.taskQueue,
    activities,
    ...(options.workflowBundlePath
      ? { workflowBundle: { codePath: options.workflowBundlePath } }
      : { workflowsPath: require.resolve('../workflows') }),
    shutdownGraceTime: options.shutdownGraceTime ?? '10 seconds',
  });
}

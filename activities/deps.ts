import { Context } from '@temporalio/activity';
import { toolVersion } from '../lib/toolVersion';
import type { RabbitvaultConfig } from '../config/schema';
import { ManagementApi } from '../lib/rabbitmq/managementApi';
import { clusterConfig } from '../lib/clusterConfig';
import { storageOpener, type StorageDeps } from '../lib/storage/openStorage';

// What activities need from the outside world; tests hand in their own.
export interface ActivityDeps extends StorageDeps {
  managementApi: (cluster: string) => ManagementApi;
  toolVersion: string;
}

export function defaultDeps(config: RabbitvaultConfig): ActivityDeps {
  return {
    config,
    openStorage: storageOpener(config),
    managementApi: (cluster) => new ManagementApi(cluster, clusterConfig(config, cluster), logFailover),
    toolVersion: toolVersion(),
  };
}

// A node skipped for another is worth a line in the worker's log, wherever it
// happens; the activities that matter most also return it for the progress.
function logFailover(note: string): void {
  try {
    Context.current().log.warn(note);
  } catch {
    // Outside an activity (CLI checks): the result says it.
  }
}

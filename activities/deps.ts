import { toolVersion } from '../lib/toolVersion';
import { ApplicationFailure } from '@temporalio/common';
import { FailureType } from '../common/failures';
import type { RabbitvaultConfig } from '../config/schema';
import { ManagementApi } from '../lib/rabbitmq/managementApi';
import { storageOpener, type OpenedStorage } from '../lib/storage/openStorage';

// What activities need from the outside world; tests hand in their own.
export interface ActivityDeps {
  config: RabbitvaultConfig;
  openStorage: (name: string | undefined) => OpenedStorage;
  managementApi: (cluster: string) => ManagementApi;
  toolVersion: string;
}

export function defaultDeps(config: RabbitvaultConfig): ActivityDeps {
  return {
    config,
    openStorage: storageOpener(config),
    managementApi: (cluster) => new ManagementApi(cluster, clusterConfig(config, cluster)),
    toolVersion: toolVersion(),
  };
}

export function clusterConfig(config: RabbitvaultConfig, cluster: string) {
  const found = config.clusters[cluster];
  if (!found) {
    throw ApplicationFailure.create({
      message: `unknown cluster "${cluster}": the worker's config has ${Object.keys(config.clusters).join(', ')}`,
      type: FailureType.UnknownCluster,
      nonRetryable: true,
    });
  }
  return found;
}

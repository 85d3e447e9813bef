import { ApplicationFailure } from '@temporalio/common';
import { FailureType } from '../common/failures';
import type { RabbitvaultConfig } from '../config/schema';

// A cluster of the worker's config, or the non-retryable failure naming the ones it has.
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

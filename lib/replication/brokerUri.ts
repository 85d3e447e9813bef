import { ApplicationFailure } from '@temporalio/common';
import { FailureType } from '../../common/failures';
import type { RabbitvaultConfig } from '../../config/schema';
import { clusterConfig } from '../clusterConfig';
import { resolveSecret } from '../secrets/resolveSecret';

// The AMQP URI a shovel or federation upstream dials, with the cluster's
// credentials in it: built here, inside an activity, from clusters.C.amqp and
// its secret reference, and handed only to the broker (which keeps it in its
// runtime parameters). It never enters a workflow input, result, history,
// log or error: messages name the cluster and vhost instead.
export function brokerUri(config: RabbitvaultConfig, cluster: string, vhost: string): string {
  const c = clusterConfig(config, cluster);
  if (!c.amqp) {
    throw ApplicationFailure.create({
      message: `cluster ${cluster} has no amqp endpoint (clusters.${cluster}.amqp.url): replication needs the address its peer dials`,
      type: FailureType.InvalidInput,
      nonRetryable: true,
    });
  }
  const url = new URL(c.amqp.url);
  const username = c.amqp.username ?? (decodeURIComponent(url.username) || 'guest');
  const password = c.amqp.password ? resolveSecret(c.amqp.password, `clusters.${cluster}.amqp.password`) : decodeURIComponent(url.password) || 'guest';
  url.username = encodeURIComponent(username);
  url.password = encodeURIComponent(password);
  url.pathname = `/${encodeURIComponent(vhost)}`;
  return url.toString();
}

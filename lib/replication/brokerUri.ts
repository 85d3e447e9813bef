import { ApplicationFailure } from '@temporalio/common';
import { FailureType } from '../../common/failures';
import type { RabbitvaultConfig } from '../../config/schema';
import { clusterConfig } from '../clusterConfig';
import { resolveSecret } from '../secrets/resolveSecret';
import { endpointUrls } from '../rabbitmq/endpoints';

// The AMQP URI a shovel or federation upstream dials, with the cluster's
// credentials in it: built here, inside an activity, from clusters.C.amqp and
// its secret reference, and handed only to the broker (which keeps it in its
// runtime parameters). It never enters a workflow input, result, history,
// log or error: messages name the cluster and vhost instead.
// With one AMQP URL per node, the list (shovels and federation upstreams take
// a list and dial the next node when one is down).
export function brokerUri(config: RabbitvaultConfig, cluster: string, vhost: string): string | string[] {
  const c = clusterConfig(config, cluster);
  if (!c.amqp) {
    throw ApplicationFailure.create({
      message: `cluster ${cluster} has no amqp endpoint (clusters.${cluster}.amqp.url): replication needs the address its peer dials`,
      type: FailureType.InvalidInput,
      nonRetryable: true,
    });
  }
  const amqpConfig = c.amqp;
  const uris = endpointUrls(amqpConfig.url).map((raw) => {
    const url = new URL(raw);
    const username = amqpConfig.username ?? (decodeURIComponent(url.username) || 'guest');
    const password = amqpConfig.password ? resolveSecret(amqpConfig.password, `clusters.${cluster}.amqp.password`) : decodeURIComponent(url.password) || 'guest';
    url.username = encodeURIComponent(username);
    url.password = encodeURIComponent(password);
    url.pathname = `/${encodeURIComponent(vhost)}`;
    return url.toString();
  });
  return uris.length === 1 ? uris[0]! : uris;
}

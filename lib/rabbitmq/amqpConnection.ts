import { ApplicationFailure } from '@temporalio/common';
import amqp, { type ChannelModel } from 'amqplib';
import { FailureType } from '../../common/failures';
import type { ClusterConfig } from '../../config/schema';
import { withoutUrlCredentials } from './managementApi';
import { resolveSecret } from '../secrets/resolveSecret';
import { installAmqplibHooks } from './rawProperties';
import { endpointUrls, type Failover } from './endpoints';

// An AMQP connection to one vhost of a configured cluster. The password is
// resolved here and never appears in an error. With one URL per node, a node
// that refuses or drops the connection is skipped for the next, and
// `failover` (when given) learns which ones were skipped and why.
export async function connectAmqp(clusterName: string, cluster: ClusterConfig, vhost: string, failover?: (f: Failover) => void): Promise<ChannelModel> {
  installAmqplibHooks();
  if (!cluster.amqp) {
    throw ApplicationFailure.create({
      message: `cluster ${clusterName} has no amqp endpoint in the worker's config (clusters.${clusterName}.amqp.url): message backups need one`,
      type: FailureType.InvalidInput,
      nonRetryable: true,
    });
  }
  const urls = endpointUrls(cluster.amqp.url);
  const unreachable: string[] = [];
  for (const [i, raw] of urls.entries()) {
    try {
      const connection = await connectOne(clusterName, cluster.amqp, new URL(raw), vhost);
      if (unreachable.length > 0) failover?.({ unreachable, via: withoutUrlCredentials(raw) });
      return connection;
    } catch (error) {
      // Only a node that does not answer is skipped: a refused login or a missing vhost is the same on every node.
      if ((error as ApplicationFailure).type !== FailureType.AmqpUnavailable || urls.length === 1) throw error;
      unreachable.push((error as Error).message.replace(/^AMQP unreachable at /, ''));
      if (i < urls.length - 1) continue;
      throw ApplicationFailure.create({ message: `AMQP of cluster ${clusterName} unreachable at every node: ${unreachable.join('; ')}`, type: FailureType.AmqpUnavailable });
    }
  }
  throw new Error('not reached: the loop returns or throws');
}

async function connectOne(clusterName: string, amqpConfig: NonNullable<ClusterConfig['amqp']>, url: URL, vhost: string): Promise<ChannelModel> {
  const username = amqpConfig.username ?? (decodeURIComponent(url.username) || 'guest');
  const password = amqpConfig.password
    ? resolveSecret(amqpConfig.password, `clusters.${clusterName}.amqp.password`)
    : decodeURIComponent(url.password) || 'guest';
  const where = `${url.protocol}//${url.host} vhost ${vhost}`;
  try {
    const connection = await amqp.connect(
      {
        protocol: url.protocol.replace(':', ''),
        hostname: url.hostname,
        port: url.port ? Number(url.port) : url.protocol === 'amqps:' ? 5671 : 5672,
        username,
        password,
        vhost,
        heartbeat: 30,
        frameMax: 131072,
      },
      { clientProperties: { connection_name: `rabbitvault ${clusterName}` } },
    );
    connection.on('error', () => undefined);
    return connection;
  } catch (error) {
    const message = (error as Error).message ?? String(error);
    if (/ACCESS_REFUSED|403|authentication/i.test(message)) {
      throw ApplicationFailure.create({ message: `AMQP authentication failed for ${username} at ${where}`, type: FailureType.AuthenticationFailed, nonRetryable: true });
    }
    if (/NOT_ALLOWED|vhost/i.test(message)) {
      throw ApplicationFailure.create({ message: `vhost ${vhost} does not exist or ${username} may not use it at ${where}`, type: FailureType.QueueNotFound, nonRetryable: true });
    }
    throw ApplicationFailure.create({ message: `AMQP unreachable at ${where}: ${(error as { code?: string }).code ?? withoutUrlCredentials(message)}`, type: FailureType.AmqpUnavailable });
  }
}

// Connection and channel errors become retryable named failures.
export function amqpLost(error: unknown, where: string): ApplicationFailure {
  const message = error instanceof Error ? error.message : String(error);
  return ApplicationFailure.create({ message: `AMQP connection to ${withoutUrlCredentials(where)} lost: ${withoutUrlCredentials(message)}`, type: FailureType.AmqpUnavailable });
}

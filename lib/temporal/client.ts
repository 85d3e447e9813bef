import { Client } from '@temporalio/client';
import type { RabbitvaultConfig } from '../../config/schema';
import { connectClient } from './connection';

// One Temporal client per config for activities that read visibility or manage
// schedules; opened on first use so workers without automation never dial out.
const clients = new WeakMap<RabbitvaultConfig, Promise<Client>>();

export function temporalClient(config: RabbitvaultConfig): Promise<Client> {
  let client = clients.get(config);
  if (!client) {
    client = connectClient(config).then((connection) => new Client({ connection, namespace: config.temporal.namespace }));
    client.catch(() => clients.delete(config));
    clients.set(config, client);
  }
  return client;
}

export async function closeTemporalClient(config: RabbitvaultConfig): Promise<void> {
  const client = clients.get(config);
  clients.delete(config);
  await client?.then((c) => c.connection.close()).catch(() => undefined);
}

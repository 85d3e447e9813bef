import { readFileSync } from 'node:fs';
import { Connection, type ConnectionOptions } from '@temporalio/client';
import { NativeConnection, type NativeConnectionOptions } from '@temporalio/worker';
import { resolveSecret } from '../secrets/resolveSecret';
import type { RabbitvaultConfig } from '../../config/schema';

// TLS and API key for a production Temporal cluster; plain TCP for the dev server.
function connectionOptions(config: RabbitvaultConfig): ConnectionOptions & NativeConnectionOptions {
  const t = config.temporal;
  const tls = t.tls
    ? {
        serverNameOverride: t.tls.serverName,
        serverRootCACertificate: t.tls.caFile ? readFileSync(t.tls.caFile) : undefined,
        clientCertPair: t.tls.certFile && t.tls.keyFile ? { crt: readFileSync(t.tls.certFile), key: readFileSync(t.tls.keyFile) } : undefined,
      }
    : undefined;
  const apiKey = t.apiKey ? resolveSecret(t.apiKey, 'temporal.apiKey') : undefined;
  return { address: t.address, tls: tls ?? (apiKey ? true : undefined), apiKey };
}

export function connectWorker(config: RabbitvaultConfig): Promise<NativeConnection> {
  return NativeConnection.connect(connectionOptions(config));
}

export function connectClient(config: RabbitvaultConfig): Promise<Connection> {
  return Connection.connect({ ...connectionOptions(config), connectTimeout: 5_000 });
}

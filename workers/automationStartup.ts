import { applySchedules } from '../lib/schedules/apply';
import { closeTemporalClient, temporalClient } from '../lib/temporal/client';
import type { RabbitvaultConfig } from '../config/schema';
import { startMetricsServer, type MetricsServer } from './metrics/server';

// At worker start-up: converge the configured schedules, serve metrics.
// A schedule problem is reported, not fatal: backups started by hand still run.
export async function startAutomation(config: RabbitvaultConfig, log: (line: string) => void, metricsListen = config.metrics?.listen): Promise<{ close(): Promise<void> }> {
  const metrics = await startParts(config, log, metricsListen);
  return {
    async close() {
      await metrics?.close();
      await closeTemporalClient(config);
    },
  };
}

async function startParts(config: RabbitvaultConfig, log: (line: string) => void, metricsListen: string | undefined): Promise<MetricsServer | undefined> {
  try {
    const r = await applySchedules(await temporalClient(config), config);
    log(`schedules: ${r.created.length} created, ${r.updated.length} updated, ${r.unchanged.length} unchanged, ${r.deleted.length} deleted`);
  } catch (error) {
    log(`schedules not applied: ${(error as Error).message}`);
  }
  if (!metricsListen) return undefined;
  try {
    const server = await startMetricsServer(config, metricsListen, () => temporalClient(config), config.metrics?.cacheSeconds);
    log(`metrics: ${server.url}`);
    return server;
  } catch (error) {
    log(`metrics not served on ${metricsListen}: ${(error as Error).message}`);
    return undefined;
  }
}

import type { Client } from '@temporalio/client';
import { RESTIC_REPOSITORY_FOLDER } from '../../common/backupSetLayout';
import { Component } from '../../common/names';
import type { RabbitvaultConfig } from '../../config/schema';
import { listSets } from '../backupSets/catalog';
import { newestReport, replicationReport, type StoredDrillReport, type StoredValidationReport } from '../reports/newestReports';
import { desiredSchedules } from '../schedules/desired';
import { storageOpener } from '../storage/openStorage';
import { thresholdsFor } from '../validation/checks';
import { isHealthy, judgeCluster, judgeComponent, judgeReplication, type ReplicationHealth, type BackupHealth, type ComponentHealth, type ScheduleState, type SetFigures, type StorageHealth } from './backupHealth';
import { failedRuns } from './failedRuns';

export interface HealthOptions {
  // Restrict to one cluster (`status --cluster C`).
  cluster?: string;
  // What only `status` shows: the restic repository's size (a listing that grows
  // with the repository) and the newest failure's message (a history read per
  // component). The metrics, scraped every few seconds, skip both.
  details?: boolean;
  now?: Date;
}

type Pair = `${string}\u0000${string}`;
const pairOf = (cluster: string, component: string): Pair => `${cluster}\u0000${component}`;

interface StorageFigures {
  // Per pair: complete sets and the newest one's figures.
  sets: Map<Pair, { completeSets: number; newest: SetFigures }>;
  health: StorageHealth;
}

async function storageFigures(config: RabbitvaultConfig, storage: string, options: HealthOptions): Promise<StorageFigures> {
  const { backend } = storageOpener(config)(storage);
  const sets = new Map<Pair, { completeSets: number; newest: SetFigures }>();
  let completeSets = 0;
  // Newest first (catalog order), so the first complete set of a pair is its newest.
  for (const s of await listSets(backend, options.cluster ? { cluster: options.cluster } : {})) {
    if (!s.complete || !s.manifest) continue;
    completeSets += 1;
    const key = pairOf(s.cluster, s.component);
    const seen = sets.get(key);
    if (seen) {
      seen.completeSets += 1;
      continue;
    }
    const m = s.manifest;
    sets.set(key, {
      completeSets: 1,
      newest: {
        setId: m.setId,
        finishedAt: m.finishedAt,
        sizeBytes: m.artifacts.reduce((sum, a) => sum + a.size, 0),
        durationSeconds: (Date.parse(m.finishedAt) - Date.parse(m.startedAt)) / 1000,
      },
    });
  }
  const health: StorageHealth = { storage, default: storage === config.storage.default, completeSets };
  if (options.details) {
    const objects = await backend.list(`${RESTIC_REPOSITORY_FOLDER}/`);
    if (objects.length > 0) health.resticRepositoryBytes = objects.reduce((sum, o) => sum + o.size, 0);
  }
  return { sets, health };
}

async function scheduleStates(config: RabbitvaultConfig, client: Client): Promise<Map<Pair, ScheduleState>> {
  const states = new Map<Pair, ScheduleState>();
  for (const s of desiredSchedules(config)) {
    if (!s.id.includes(':backup:')) continue;
    try {
      const d = await client.schedule.getHandle(s.id).describe();
      const next = d.info.nextActionTimes[0];
      states.set(pairOf(s.cluster, s.component), { id: s.id, applied: true, paused: d.state.paused, ...(d.state.note ? { note: d.state.note } : {}), ...(next ? { nextRunAt: next.toISOString() } : {}) });
    } catch (error) {
      if ((error as Error).name !== 'ScheduleNotFoundError') throw error;
      states.set(pairOf(s.cluster, s.component), { id: s.id, applied: false, paused: false });
    }
  }
  return states;
}

// Every figure comes from the storage catalogs, the reports beside them and
// Temporal, never from this process's memory: a restarted worker reports the
// same, and `status` agrees with /metrics. A source that cannot be read is
// named in sourceErrors (and makes the verdict unhealthy), never guessed.
export async function collectBackupHealth(config: RabbitvaultConfig, client: () => Promise<Client>, options: HealthOptions = {}): Promise<BackupHealth> {
  const now = options.now ?? new Date();
  const sourceErrors: BackupHealth['sourceErrors'] = [];
  const clusters = options.cluster ? [options.cluster] : Object.keys(config.clusters);

  const perStorage = new Map<string, StorageFigures>();
  for (const storage of Object.keys(config.storage.targets)) {
    try {
      perStorage.set(storage, await storageFigures(config, storage, options));
    } catch (error) {
      sourceErrors.push({ source: `storage:${storage}`, message: (error as Error).message });
    }
  }

  // Pairs: every cluster and component with a complete set anywhere, and every configured cluster's components.
  const pairs = new Set<Pair>();
  for (const { sets } of perStorage.values()) for (const key of sets.keys()) pairs.add(key);
  // Volume snapshots only where there is a Kubernetes cluster to take them.
  const applies = (cluster: string, component: Component) => component !== 'volume-snapshot' || config.clusters[cluster]?.kubernetes !== undefined;
  for (const cluster of clusters) if (config.clusters[cluster]) for (const component of Component.options) if (applies(cluster, component)) pairs.add(pairOf(cluster, component));

  const reports = new Map<string, { validation?: StoredValidationReport; drill?: StoredDrillReport }>();
  const { backend } = storageOpener(config)(undefined);
  for (const cluster of new Set([...pairs].map((p) => p.split('\u0000')[0]!))) {
    try {
      reports.set(cluster, { validation: await newestReport(backend, cluster, 'validations'), drill: await newestReport(backend, cluster, 'drills') });
    } catch (error) {
      sourceErrors.push({ source: `reports:${cluster}`, message: (error as Error).message });
    }
  }

  let schedules = new Map<Pair, ScheduleState>();
  let temporal: Client | undefined;
  try {
    temporal = await client();
    schedules = await scheduleStates(config, temporal);
  } catch (error) {
    sourceErrors.push({ source: 'temporal', message: (error as Error).message });
  }

  const components: ComponentHealth[] = [];
  const order = (key: Pair) => Component.options.indexOf(key.split('\u0000')[1] as Component);
  for (const key of [...pairs].sort((a, b) => a.split('\u0000')[0]!.localeCompare(b.split('\u0000')[0]!) || order(a) - order(b))) {
    const [cluster, name] = key.split('\u0000') as [string, string];
    const parsed = Component.safeParse(name);
    if (!parsed.success) continue;
    const component = parsed.data;
    const storage: ComponentHealth['storage'] = {};
    for (const [target, figures] of perStorage) {
      const found = figures.sets.get(key);
      if (found) storage[target] = { completeSets: found.completeSets, newestSetId: found.newest.setId, newestFinishedAt: found.newest.finishedAt };
    }
    const newest = perStorage.get(config.storage.default)?.sets.get(key)?.newest;
    const offsiteTarget = config.offsite?.target;
    const offsiteHolds = offsiteTarget ? perStorage.get(offsiteTarget)?.sets.get(key)?.newest : undefined;
    const validated = reports.get(cluster)?.validation;
    const result = validated?.results.find((r) => r.component === component);
    let failures: ComponentHealth['failures'];
    if (temporal && config.clusters[cluster]) {
      try {
        failures = await failedRuns(config, temporal, { cluster, component, lastSuccessAt: newest?.finishedAt, withMessage: options.details ?? false });
      } catch (error) {
        if (!sourceErrors.some((e) => e.source === 'temporal')) sourceErrors.push({ source: 'temporal', message: (error as Error).message });
      }
    }
    components.push(
      judgeComponent({
        cluster,
        component,
        rpoSeconds: thresholdsFor(config, component).rpoHours * 3600,
        ...(newest ? { newest: { ...newest, storage: config.storage.default, ageSeconds: Math.max(0, (now.getTime() - Date.parse(newest.finishedAt)) / 1000) } } : {}),
        storage,
        ...(offsiteTarget && perStorage.has(offsiteTarget)
          ? { offsite: { storage: offsiteTarget, newestSetId: offsiteHolds?.setId, newestFinishedAt: offsiteHolds?.finishedAt, holdsNewest: newest !== undefined && storage[offsiteTarget] !== undefined && perStorage.get(offsiteTarget)!.sets.get(key)!.newest.setId >= newest.setId } }
          : {}),
        ...(validated && result ? { validation: { checkedAt: validated.checkedAt, status: result.status, failedCheck: result.checks?.find((c) => !c.ok)?.detail } } : {}),
        ...(schedules.has(key) ? { schedule: schedules.get(key) } : {}),
        ...(failures ? { failures } : {}),
      }),
    );
  }

  const replication: ReplicationHealth[] = [];
  for (const pair of config.replication.pairs.filter((p) => !options.cluster || p.source === options.cluster || p.destination === options.cluster)) {
    try {
      replication.push(judgeReplication(pair, await replicationReport(backend, pair.source, pair.destination, now), now, config.replication.staleAfterSeconds));
    } catch (error) {
      sourceErrors.push({ source: `replication:${pair.source}:${pair.destination}`, message: (error as Error).message });
    }
  }

  const byCluster = new Map<string, ComponentHealth[]>();
  for (const c of components) byCluster.set(c.cluster, [...(byCluster.get(c.cluster) ?? []), c]);
  const clusterHealth = [...byCluster].map(([cluster, list]) => judgeCluster(cluster, list, reports.get(cluster)?.validation, reports.get(cluster)?.drill));
  return {
    generatedAt: now.toISOString(),
    healthy: isHealthy(clusterHealth, sourceErrors, replication),
    clusters: clusterHealth,
    replication,
    storage: [...perStorage.values()].map((f) => f.health),
    sourceErrors,
  };
}

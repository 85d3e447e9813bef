// Restic data-directory sets as backupDataDirectory (method restic) leaves them,
// without a RabbitMQ node: a snapshot of distinct data in the target's real
// restic repository (tags cluster=,set=), the pointer object and the manifest.
import { createHash, randomBytes } from 'node:crypto';
import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { Readable } from 'node:stream';
import { resticRepository } from '../../lib/restic/repository';
import { Restic } from '../../lib/restic/restic';
import { storageOpener } from '../../lib/storage/openStorage';
import { MANIFEST_FILE } from '../../common/backupSetLayout';
import { compactUtc } from '../../common/names';
import { RabbitvaultConfig } from '../../config/schema';
import { startHarness, testConfig } from './harness';

// The config with its local target given a restic password, keeping one set per cluster and component.
export function withResticLocalTarget(base: RabbitvaultConfig): RabbitvaultConfig {
  const local = { ...(base.storage.targets.local as { type: 'local'; path: string }), resticPassword: 'value:test-restic-password' };
  return RabbitvaultConfig.parse({ ...base, storage: { default: 'local', targets: { local } }, retention: { default: { keepLast: 1 } } });
}

export async function openResticRepository(config: RabbitvaultConfig): Promise<Restic> {
  const restic = new Restic(resticRepository(config, 'local'));
  await restic.ensureRepository();
  return restic;
}

export async function writeResticSet(config: RabbitvaultConfig, restic: Restic, cluster: string, at: Date): Promise<{ setId: string; snapshotId: string; data: Buffer }> {
  const setId = `${compactUtc(at)}-${randomBytes(4).toString('hex')}`;
  const data = randomBytes(512 * 1024);
  const summary = await restic.backupStdin(Readable.from([data]), { filename: 'rabbit.tar', host: 'rabbit@node', tags: [`cluster=${cluster}`, `set=${setId}`] });
  const backend = storageOpener(config)('local').backend;
  const prefix = `${cluster}/data-directory/${setId}`;
  const pointer = Buffer.from(JSON.stringify({ repository: restic.repository.location, snapshotId: summary.snapshotId, dataAdded: summary.dataAdded, file: '/rabbit.tar' }));
  await backend.put(`${prefix}/rabbit@node.restic.json`, pointer);
  const manifest = {
    schemaVersion: 1,
    cluster,
    component: 'data-directory',
    setId,
    rabbitmqVersion: null,
    artifacts: [{ name: 'rabbit@node.restic.json', size: pointer.length, sha256: createHash('sha256').update(pointer).digest('hex') }],
    workflow: { workflowId: 'synthetic', runId: 'synthetic' },
    startedAt: at.toISOString(),
    finishedAt: at.toISOString(),
    toolVersion: 'test',
    details: { method: 'restic', nodes: [] },
  };
  await backend.put(`${prefix}/${MANIFEST_FILE}`, Buffer.from(JSON.stringify(manifest)));
  return { setId, snapshotId: summary.snapshotId, data };
}

// Records the pruneBackups history that forgets restic snapshots and prunes (replay test input).
export async function recordResticPruneHistory(dir: string, clusters: Parameters<typeof testConfig>[0]): Promise<void> {
  const config = withResticLocalTarget(testConfig(clusters));
  const h = await startHarness(config);
  try {
    const restic = await openResticRepository(config);
    for (const hoursAgo of [3, 2, 1]) await writeResticSet(config, restic, 'recorded', new Date(Date.now() - hoursAgo * 3_600_000));
    const name = 'prune-backups-restic';
    const handle = await h.client.workflow.start('pruneBackups', { taskQueue: config.temporal.taskQueue, workflowId: `${name}.json`, args: [{ clusters: ['recorded'], dryRun: false }] });
    await handle.result();
    writeFileSync(path.join(dir, `${name}.json`), JSON.stringify(await handle.fetchHistory(), null, 1));
  } finally {
    await h.stop();
  }
}

import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import path from 'node:path';
import { Readable } from 'node:stream';
import { after, before, describe, test } from 'node:test';
import { listSets } from '../lib/backupSets/catalog';
import type { Restic } from '../lib/restic/restic';
import { decideRetention, type RetentionCandidate } from '../lib/retention/policy';
import { storageOpener } from '../lib/storage/openStorage';
import type { StorageBackend } from '../lib/storage/backend';
import { MANIFEST_FILE } from '../common/backupSetLayout';
import { compactUtc } from '../common/names';
import { RabbitvaultConfig } from '../config/schema';
import type { PruneBackupsResult } from '../contracts/retention';
import { clusterEntry, startHarness, testConfig, workflowId, type Harness } from './support/harness';
import { ensureTestBucket } from './support/minioBucket';
import { runCli } from './support/cli';
import { openResticRepository, withResticLocalTarget, writeResticSet } from './support/resticSets';
import { scratchDir, testNode } from './support/stack';

// The worker's verdict cache of this run, not the user's.
process.env.RABBITVAULT_CACHE_DIR ??= scratchDir('retention-cache');
import { writeConfigFile } from './support/workerProcess';

const HOUR = 3_600_000;
const DAY = 24 * HOUR;
// Wednesday 2026-11-25 20:00 UTC; sets at 06:00 and 18:00 of each of the 40 days before.
const now = new Date('2026-11-25T20:00:00Z');

function setIdAt(at: Date): string {
  return `${compactUtc(at)}-${randomBytes(4).toString('hex')}`;
}

function history(cluster: string, end: Date): RetentionCandidate[] {
  const sets: RetentionCandidate[] = [];
  for (let day = 0; day < 40; day++) {
    for (const hour of [6, 18]) {
      const at = new Date(Date.UTC(end.getUTCFullYear(), end.getUTCMonth(), end.getUTCDate() - day, hour));
      if (at > end) continue;
      const setId = setIdAt(at);
      sets.push({ cluster, component: 'definitions', setId, prefix: `${cluster}/definitions/${setId}`, complete: true, bytes: 100, verification: verified });
    }
  }
  return sets;
}

// What planPrune finds for a good set: every artifact read and matching.
const verified = { restorable: true, verifiedAt: now.toISOString(), cached: false };

const dayOf = (setId: string) => `${setId.slice(0, 8)}T${setId.slice(9, 11)}`;

describe('retention policy on a synthetic history', () => {
  const sets = history('p', now);

  test("the guide's default (30 days) keeps exactly the last 30 days", () => {
    const decisions = decideRetention(sets, { maxAgeDays: 30 }, now, 24);
    const kept = decisions.filter((d) => d.action === 'keep');
    assert.equal(kept.length, 60);
    assert.ok(kept.every((d) => now.getTime() - Date.parse(`${d.setId.slice(0, 4)}-${d.setId.slice(4, 6)}-${d.setId.slice(6, 8)}T00:00:00Z`) < 31 * DAY));
    assert.match(decisions.find((d) => d.action === 'delete')!.reason, /older than 30 days/);
  });

  test('keepLast + keepDaily + keepWeekly + maxAgeDays keep exactly the selected sets; incomplete and in-use sets as documented', () => {
    const young = setIdAt(new Date(now.getTime() - 2 * HOUR));
    const stale = setIdAt(new Date(now.getTime() - 3 * DAY - HOUR));
    const inUse = sets.find((s) => dayOf(s.setId) === '20261105T06')!;
    const all = [
      ...sets,
      { cluster: 'p', component: 'definitions', setId: young, prefix: `p/definitions/${young}`, complete: false, bytes: 1 },
      { cluster: 'p', component: 'definitions', setId: stale, prefix: `p/definitions/${stale}`, complete: false, bytes: 1 },
    ];
    const decisions = decideRetention(all, { keepLast: 2, keepDaily: 5, keepWeekly: 3, maxAgeDays: 35 }, now, 24, {
      sets: new Map([[inUse.setId, 'restore-1']]),
    });
    const kept = decisions.filter((d) => d.action === 'keep').map((d) => (d.complete ? dayOf(d.setId) : `incomplete ${d.setId}`));
    assert.deepEqual(kept.sort(), [
      '20261115T18', // newest of ISO week 46 (keepWeekly)
      '20261121T18', // keepDaily (5 days: 25, 24, 23, 22, 21)
      '20261122T18', // keepDaily, also newest of ISO week 47
      '20261123T18',
      '20261124T18',
      '20261125T06', // keepLast
      '20261125T18', // newest complete set
      '20261105T06', // in use by a running restore
      `incomplete ${young}`,
    ].sort());
    const reasons = new Map(decisions.map((d) => [d.complete ? dayOf(d.setId) : d.setId, d.reason]));
    assert.match(reasons.get('20261105T06')!, /in use by running restore restore-1/);
    assert.match(reasons.get(stale)!, /incomplete .* older than 24 h/);
    assert.match(reasons.get('20261010T06') ?? reasons.get('20261017T06')!, /older than 35 days/);
    assert.match(reasons.get('20261120T18')!, /selected by no keep rule/);
  });

  test('the newest complete set is kept even when everything is older than maxAgeDays', () => {
    const old = history('q', new Date(now.getTime() - 90 * DAY));
    const kept = decideRetention(old, { maxAgeDays: 30 }, now, 24).filter((d) => d.action === 'keep');
    assert.equal(kept.length, 1);
    assert.equal(kept[0]!.reason, 'newest restorable set (every artifact verified)');
  });

  test('a running restore of "latest" protects everything of its cluster and component', () => {
    const decisions = decideRetention(sets, { keepLast: 1 }, now, 24, { sets: new Map(), everything: 'drill-1' });
    assert.ok(decisions.every((d) => d.action === 'keep'));
  });
});

describe('pruneBackups on every storage backend', () => {
  const cluster = `ret-${randomBytes(3).toString('hex')}`;
  let h: Harness;
  let config: RabbitvaultConfig;
  let open: ReturnType<typeof storageOpener>;
  let written: RetentionCandidate[];

  async function writeSet(backend: StorageBackend, s: RetentionCandidate): Promise<void> {
    await backend.put(`${s.prefix}/definitions.json`, Buffer.from('{}'));
    if (!s.complete) return;
    const at = new Date(Date.UTC(+s.setId.slice(0, 4), +s.setId.slice(4, 6) - 1, +s.setId.slice(6, 8), +s.setId.slice(9, 11)));
    const manifest = {
      schemaVersion: 1,
      cluster: s.cluster,
      component: 'definitions',
      setId: s.setId,
      rabbitmqVersion: null,
      artifacts: [{ name: 'definitions.json', size: 2, sha256: '44136fa355b3678a1146ad16f7e8649e94fb4fc21fe77e8310c060f61caaff8a' }],
      workflow: { workflowId: 'synthetic', runId: 'synthetic' },
      startedAt: at.toISOString(),
      finishedAt: at.toISOString(),
      toolVersion: 'test',
      details: {},
    };
    await backend.put(`${s.prefix}/${MANIFEST_FILE}`, Buffer.from(JSON.stringify(manifest)));
  }

  before(async () => {
    await ensureTestBucket();
    const base = testConfig({ a: clusterEntry(testNode(0)) });
    config = RabbitvaultConfig.parse({ ...base, retention: { default: { keepLast: 2, keepDaily: 5, maxAgeDays: 30 } } });
    h = await startHarness(config);
    open = storageOpener(config);
    // Real time: the workflow decides with its own clock.
    const end = new Date(Date.now() - HOUR);
    written = history(cluster, end).slice(0, 24);
    const incomplete = setIdAt(new Date(Date.now() - 2 * DAY));
    written.push({ cluster, component: 'definitions', setId: incomplete, prefix: `${cluster}/definitions/${incomplete}`, complete: false, bytes: 2 });
    for (const storage of ['local', 'minio']) for (const s of written) await writeSet(open(storage).backend, s);
  });
  after(() => h.stop());

  function prune(input: Record<string, unknown>): Promise<PruneBackupsResult> {
    return h.client.workflow.execute('pruneBackups', { taskQueue: config.temporal.taskQueue, workflowId: workflowId('prune'), args: [{ clusters: [cluster], ...input }] });
  }

  test('a dry run lists every deletion and deletes nothing; a real run deletes exactly those, on local and S3, sparing a set a running restore reads', async () => {
    const dry = await prune({});
    assert.equal(dry.dryRun, true);
    assert.deepEqual(dry.storages.map((s) => s.storage).sort(), ['local', 'minio']);
    const expectedKept = decideRetention(written, { keepLast: 2, keepDaily: 5, maxAgeDays: 30 }, new Date(), 24)
      .filter((d) => d.action === 'keep')
      .map((d) => d.setId)
      .sort();
    for (const s of dry.storages) {
      assert.equal(s.deleted.length, written.length - expectedKept.length);
      assert.ok(s.deleted.some((d) => !d.complete), 'the old incomplete set is listed');
      assert.equal((await listSets(open(s.storage).backend, { cluster })).length, written.length, 'dry run deletes nothing');
    }

    // A restore that no worker picks up stays Running: it reads one of the doomed sets.
    const doomed = dry.storages[0]!.deleted.find((d) => d.complete)!;
    const restore = await h.client.workflow.start('restoreDefinitions', {
      taskQueue: `nobody-${randomBytes(3).toString('hex')}`,
      workflowId: workflowId('held-restore'),
      args: [{ cluster: 'elsewhere', sourceCluster: cluster, from: doomed.setId }],
    });
    try {
      const query = `WorkflowId = '${restore.workflowId}' AND ExecutionStatus = 'Running'`;
      for (let i = 0; i < 50 && (await h.client.workflow.count(query)).count === 0; i++) await new Promise((r) => setTimeout(r, 200));

      const applied = await prune({ dryRun: false });
      for (const s of applied.storages) {
        const remaining = (await listSets(open(s.storage).backend, { cluster })).map((e) => e.setId).sort();
        assert.deepEqual(remaining, [...expectedKept, doomed.setId].sort(), `storage ${s.storage} keeps exactly the policy's sets`);
        assert.match(s.kept.find((k) => k.setId === doomed.setId)!.reason, new RegExp(`in use by running restore ${restore.workflowId}`));
        assert.equal(s.deleted.length, written.length - expectedKept.length - 1);
      }
    } finally {
      await restore.terminate('test done');
    }
  });
});

// Data-directory sets taken with restic: their snapshots live in the target's
// restic repository (real restic, local repository), tagged cluster=,set=.
describe('pruneBackups and restic', () => {
  const cluster = `rr-${randomBytes(3).toString('hex')}`;
  let h: Harness;
  let config: RabbitvaultConfig;
  let restic: Restic;

  before(async () => {
    const withRestic = withResticLocalTarget(testConfig({ a: clusterEntry(testNode(0)) }));
    // A second target holding an off-site copy of one set (its pointer names the first target's repository).
    config = RabbitvaultConfig.parse({ ...withRestic, storage: { ...withRestic.storage, targets: { ...withRestic.storage.targets, copy: { type: 'local', path: scratchDir('offsite-copy') } } } });
    h = await startHarness(config);
    restic = await openResticRepository(config);
  });
  after(() => h.stop());

  const resticSet = (hoursAgo: number) => writeResticSet(config, restic, cluster, new Date(Date.now() - hoursAgo * HOUR));

  const rawDataBytes = () => {
    const r = spawnSync('restic', ['stats', '--mode', 'raw-data', '--json'], { env: { ...process.env, ...restic.repository.env, RESTIC_REPOSITORY: restic.repository.location }, encoding: 'utf8' });
    assert.equal(r.status, 0, r.stderr);
    return (JSON.parse(r.stdout) as { total_size: number }).total_size;
  };

  test('deleting a data-directory set forgets its restic snapshots and prunes their data, orphaned snapshots after the grace period too; the kept set still restores byte for byte', async () => {
    const old = [await resticSet(3), await resticSet(2)];
    const kept = await resticSet(1);
    // Another cluster's snapshot in the same repository is not ours to touch.
    const foreign = await restic.backupStdin(Readable.from([randomBytes(1024)]), { filename: 'x', host: 'h', tags: ['cluster=someone-else', `set=${old[0]!.setId}`] });
    // Snapshots whose backup died before writing its set: past the 24 h grace, and within it.
    const orphan = async (hoursAgo: number) => {
      const setId = setIdAt(new Date(Date.now() - hoursAgo * HOUR));
      const summary = await restic.backupStdin(Readable.from([randomBytes(64 * 1024)]), { filename: 'rabbit.tar', host: 'rabbit@node', tags: [`cluster=${cluster}`, `set=${setId}`] });
      return { setId, snapshotId: summary.snapshotId };
    };
    const [staleOrphan, youngOrphan] = [await orphan(30), await orphan(1)];
    const open = storageOpener(config);
    const copiedPrefix = `${cluster}/data-directory/${old[1]!.setId}`;
    for (const object of await open('local').backend.list(copiedPrefix)) {
      const chunks: Buffer[] = [];
      for await (const chunk of await open('local').backend.get(object.key)) chunks.push(chunk as Buffer);
      await open('copy').backend.put(object.key, Buffer.concat(chunks));
    }
    const before = rawDataBytes();

    // Through the CLI as an operator runs it; the figures then from the workflow's result.
    const dir = scratchDir('prune-restic-cli');
    const cli = await runCli(['prune', '--cluster', cluster, '--apply', '--wait', '--config', writeConfigFile(config, path.join(dir, 'rabbitvault.yaml'))], dir);
    assert.equal(cli.code, 0, cli.stderr);
    assert.match(cli.stdout, /^ {2}restic: 2 snapshots forgotten, repository pruned in \d+\.\d s$/m);
    assert.match(cli.stdout, new RegExp(`^  restic: the snapshots of ${copiedPrefix} stay: another storage target holds a copy of the set$`, 'm'));
    const started = /workflow id (\S+)/.exec(cli.stdout + cli.stderr)?.[1];
    const result = (await h.client.workflow.getHandle(started!).result()) as PruneBackupsResult;
    const local = result.storages.find((x) => x.storage === 'local');
    assert.deepEqual(local!.deleted.map((d) => d.setId).sort(), [...old.map((s) => s.setId), staleOrphan.setId].sort());
    assert.match(local!.deleted.find((d) => d.setId === staleOrphan.setId)!.reason, /^restic snapshot with no set in storage .*older than 24 h/);
    assert.match(local!.kept.find((d) => d.setId === youngOrphan.setId)!.reason, /^restic snapshot with no set in storage .*younger than 24 h/);
    assert.equal(local!.resticSnapshotsForgotten, 2);
    assert.deepEqual(local!.resticSetsKeptForCopies, [copiedPrefix]);
    assert.equal(result.storages.find((x) => x.storage === 'copy')!.deleted.length, 0, 'the copy is its target only set: kept');
    assert.ok(local!.resticPruneSeconds! > 0);

    // restic 0.14's backup summary gives the short id.
    const left = (await restic.snapshots()).map((s) => s.short_id).sort();
    assert.deepEqual(
      left,
      [kept.snapshotId, foreign.snapshotId, youngOrphan.snapshotId, old[1]!.snapshotId].map((id) => id.slice(0, 8)).sort(),
      'only the deleted sets without a copy elsewhere lost their snapshots',
    );
    const after = rawDataBytes();
    assert.ok(after < before - 512 * 1024 * 0.9, `prune freed the deleted set's data: ${before} -> ${after} bytes`);
    await restic.check();
    const chunks: Buffer[] = [];
    for await (const chunk of restic.dump(kept.snapshotId, '/rabbit.tar')) chunks.push(chunk as Buffer);
    assert.ok(Buffer.concat(chunks).equals(kept.data), 'the kept snapshot is intact');
  });
});

// Issue 10 class 5: retention on backup storage an attacker can write. A set
// counts as restorable only if it verifies, only set-id folders are sets, and
// running restores are asked again right before each delete.
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { MockActivityEnvironment } from '@temporalio/testing';
import { defaultDeps, type ActivityDeps } from '../activities/deps';
import { createRetentionActivities, type PrunePlan, type RetentionOptions } from '../activities/retention/retentionPrune';
import { decideRetention, nextSetToVerify, type RetentionCandidate } from '../lib/retention/policy';
import { RestoreWatch, restoreReading } from '../lib/retention/restoresInUse';
import { VerificationCache, verdictKey } from '../lib/retention/verificationCache';
import type { StorageBackend } from '../lib/storage/backend';
import { storageOpener } from '../lib/storage/openStorage';
import { MANIFEST_FILE } from '../common/backupSetLayout';
import { compactUtc } from '../common/names';
import { RabbitvaultConfig } from '../config/schema';
import type { PruneBackupsResult } from '../contracts/retention';
import {
  ARTIFACT,
  flipArtifactByte,
  readAll,
  writeConsistentlyLyingSet,
  writeSetInForeignFolder,
  writeSetWithFlippedArtifact,
  writeSetWithMissingArtifact,
  writeStrayFolder,
  writeTraversalLookalikes,
  writeValidSet,
  type WrittenSet,
} from './fixtures/hostile/retentionSets';
import { runCli } from './support/cli';
import { clusterEntry, startHarness, testConfig, workflowId, type Harness } from './support/harness';
import { ensureTestBucket } from './support/minioBucket';
import { scratchDir, testNode } from './support/stack';
import { writeConfigFile } from './support/workerProcess';

const HOUR = 3_600_000;
const DAY = 24 * HOUR;
const ago = (ms: number) => new Date(Date.now() - ms);
const unique = (label: string) => `${label}-${randomBytes(3).toString('hex')}`;

// Counts reads per key, so a test sees which artifacts a prune read.
function countingBackend(backend: StorageBackend, gets: Map<string, number>): StorageBackend {
  return {
    locate: (key) => backend.locate(key),
    put: (key, body, options) => backend.put(key, body, options),
    get: (key) => {
      gets.set(key, (gets.get(key) ?? 0) + 1);
      return backend.get(key);
    },
    stat: (key) => backend.stat(key),
    list: (prefix) => backend.list(prefix),
    delete: (key) => backend.delete(key),
    probe: () => backend.probe(),
  };
}

function countingDeps(config: RabbitvaultConfig, gets: Map<string, number>): ActivityDeps {
  const deps = defaultDeps(config);
  return { ...deps, openStorage: (name) => {
    const opened = deps.openStorage(name);
    return { ...opened, backend: countingBackend(opened.backend, gets) };
  } };
}

async function keysUnder(backend: StorageBackend, prefix: string): Promise<string[]> {
  return (await backend.list(`${prefix}/`)).map((o) => o.key);
}

const artifactReads = (gets: Map<string, number>, sets: WrittenSet[]) => sets.reduce((n, s) => n + (gets.get(`${s.prefix}/${ARTIFACT}`) ?? 0), 0);

describe('retention policy: which sets must be verified', () => {
  const now = new Date('2026-11-25T20:00:00Z');
  const history: RetentionCandidate[] = Array.from({ length: 300 }, (_, i) => {
    const setId = `${compactUtc(new Date(now.getTime() - (i + 1) * 6 * HOUR))}-${i.toString(16).padStart(8, '0')}`;
    return { cluster: 'p', component: 'definitions', setId, prefix: `p/definitions/${setId}`, complete: true, bytes: 1 };
  });

  test('only the sets a decision depends on are verified (newest first), and a damaged newest set never protects', () => {
    const sets = history.map((s) => ({ ...s }));
    const damaged = new Set([sets[0]!.setId, sets[3]!.setId]);
    let verified = 0;
    const policy = { keepLast: 2, keepDaily: 3, maxAgeDays: 30 };
    for (let next = nextSetToVerify(sets, policy, now); next; next = nextSetToVerify(sets, policy, now)) {
      verified += 1;
      next.verification = damaged.has(next.setId) ? { restorable: false, problem: 'flipped', verifiedAt: now.toISOString(), cached: false } : { restorable: true, verifiedAt: now.toISOString(), cached: false };
    }
    assert.equal(verified, 6, `${verified} of ${sets.length} sets verified`);
    const decisions = decideRetention(sets, policy, now, 24);
    const reason = (s: RetentionCandidate) => decisions.find((d) => d.setId === s.setId)!.reason;
    assert.match(reason(sets[0]!), /^damaged \(flipped\)/);
    assert.equal(reason(sets[1]!), 'newest restorable set (every artifact verified)');
    assert.match(reason(sets[3]!), /^damaged/);
    assert.equal(reason(sets[4]!), 'newest restorable set of daily bucket 2026-11-24 (keepDaily)');
    const kept = decisions.filter((d) => d.action === 'keep');
    assert.ok(kept.every((d) => d.verification), 'every kept set was verified (nothing kept blind under keep rules)');
    assert.ok(decisions.filter((d) => d.action === 'delete').length > 250);
  });

  test('a set whose verification is missing where it matters is kept, never deleted', () => {
    const sets = history.slice(0, 10).map((s) => ({ ...s }));
    const decisions = decideRetention(sets, { keepLast: 1 }, now, 24);
    assert.ok(decisions.every((d) => d.action === 'keep'));
    assert.match(decisions[0]!.reason, /^not verified/);
  });

  test('a restore of one set, of "latest", or a drill protects exactly what it reads; the re-check asks at most once per interval', async () => {
    const inUse = [
      { workflowId: 'r1', cluster: 'a', component: 'definitions', set: '20261125T063000Z-3f9a1c2e' },
      { workflowId: 'r2', cluster: 'b', component: 'messages', set: 'latest' },
      { workflowId: 'd1', cluster: 'c', set: 'latest' },
    ];
    assert.equal(restoreReading('a/definitions/20261125T063000Z-3f9a1c2e', inUse)?.workflowId, 'r1');
    assert.equal(restoreReading('a/definitions/20261124T063000Z-3f9a1c2e', inUse), undefined);
    assert.equal(restoreReading('b/messages/20261124T063000Z-3f9a1c2e', inUse)?.workflowId, 'r2');
    assert.equal(restoreReading('b/definitions/20261124T063000Z-3f9a1c2e', inUse), undefined);
    assert.equal(restoreReading('c/data-directory/20261124T063000Z-3f9a1c2e', inUse)?.workflowId, 'd1');
    const watch = new RestoreWatch(async () => inUse, 60_000);
    for (let i = 0; i < 5000; i++) await watch.reading('a/definitions/20261125T063000Z-3f9a1c2e');
    assert.equal(watch.queries, 1);
    const eager = new RestoreWatch(async () => [], 0);
    await eager.reading('x/definitions/20261125T063000Z-3f9a1c2e');
    await eager.reading('x/definitions/20261125T063000Z-3f9a1c2e');
    assert.equal(eager.queries, 2);
  });
});

describe('pruneBackups on hostile storage', () => {
  let h: Harness;
  let config: RabbitvaultConfig;
  let open: ReturnType<typeof storageOpener>;
  const cacheDir = scratchDir('retention-cache');
  // Runs between the plan and the deletes (a restore starting in that window).
  let afterPlan: ((plan: PrunePlan) => Promise<void>) | undefined;

  before(async () => {
    await ensureTestBucket();
    const base = testConfig({ a: clusterEntry(testNode(0)) });
    config = RabbitvaultConfig.parse({ ...base, retention: { default: { keepLast: 1 }, components: { messages: { maxAgeDays: 1 } } } });
    open = storageOpener(config);
    const real = createRetentionActivities(defaultDeps(config), { cacheDir });
    h = await startHarness(config, {
      activityOverrides: {
        ...real,
        async planPrune(input) {
          const plan = await real.planPrune(input);
          await afterPlan?.(plan);
          return plan;
        },
      },
    });
  });
  after(() => h.stop());

  function prune(cluster: string, input: Record<string, unknown>): Promise<PruneBackupsResult> {
    return h.client.workflow.execute('pruneBackups', { taskQueue: config.temporal.taskQueue, workflowId: workflowId('prune'), args: [{ clusters: [cluster], dryRun: false, ...input }] });
  }

  for (const storage of ['local', 'minio']) {
    test(`keepLast: 1 with the newest set's artifact flipped keeps the newest set that verifies; stray and traversal-looking folders stay untouched (${storage})`, async () => {
      const cluster = unique('hr');
      const { backend } = open(storage);
      const [oldest, good] = [await writeValidSet(backend, cluster, ago(3 * DAY)), await writeValidSet(backend, cluster, ago(2 * DAY))];
      const damaged = await writeSetWithFlippedArtifact(backend, cluster, ago(HOUR));
      const strays = [await writeStrayFolder(backend, cluster), ...(await writeTraversalLookalikes(backend, cluster))];
      const strayKeys = async () => (await Promise.all(strays.map(async (p) => [...(await keysUnder(backend, p)), ...((await backend.stat(p)) ? [p] : [])]))).flat().sort();
      const before = await strayKeys();
      assert.equal(before.length, 9);

      const result = await prune(cluster, { storages: [storage] });
      const s = result.storages[0]!;
      const reason = (set: WrittenSet) => [...s.kept, ...s.deleted].find((d) => d.setId === set.setId)?.reason;
      assert.match(reason(damaged)!, /^damaged \(artifact\.json: SHA-256 [0-9a-f]{64}, manifest says [0-9a-f]{64}\): never counted as restorable/);
      assert.ok(s.kept.some((d) => d.setId === damaged.setId), 'the damaged set is kept for an operator');
      assert.equal(reason(good), 'newest restorable set (every artifact verified)');
      assert.deepEqual(s.deleted.map((d) => [d.setId, d.reason]), [[oldest.setId, 'selected by no keep rule']]);
      assert.ok(![...s.kept, ...s.deleted].some((d) => strays.some((p) => d.prefix === p)), 'no stray folder is decided on as a set');
      assert.deepEqual(s.notSets!.map((n) => n.prefix).sort(), [...strays].sort());
      assert.match(s.notSets!.find((n) => n.prefix.endsWith('zzzz-not-a-set'))!.reason, /not a set id/);
      assert.match(s.notSets!.find((n) => n.prefix.endsWith('fffffffe'))!.reason, /a file where set folders belong/);

      assert.deepEqual(await strayKeys(), before, 'every object of the stray folders is still there');
      assert.deepEqual(await keysUnder(backend, oldest.prefix), []);
      assert.equal((await keysUnder(backend, good.prefix)).length, 2);
      assert.equal((await keysUnder(backend, damaged.prefix)).length, 2);

      if (storage === 'local') {
        // The operator's view: `backups list` shows the real sets only, `prune` shows every decision.
        const dir = scratchDir('hostile-retention-cli');
        const file = writeConfigFile(config, path.join(dir, 'rabbitvault.yaml'));
        const list = await runCli(['backups', 'list', '--cluster', cluster, '--storage', storage, '--config', file], dir);
        assert.equal(list.code, 0, list.stderr);
        assert.match(list.stdout, new RegExp(`${good.setId}  complete`));
        assert.doesNotMatch(list.stdout, /zzzz-not-a-set|99991231T/);
        const dry = await runCli(['prune', '--cluster', cluster, '--storage', storage, '--config', file], dir);
        assert.equal(dry.code, 0, dry.stderr);
        assert.match(dry.stdout, new RegExp(`^  keep ${damaged.prefix}  \\(damaged \\(artifact.json: SHA-256`, 'm'));
        assert.match(dry.stdout, new RegExp(`^  keep ${good.prefix}  \\(newest restorable set`, 'm'));
        assert.match(dry.stdout, new RegExp(`^  not a set, left alone: ${cluster}/definitions/zzzz-not-a-set  \\d+ bytes  \\(the folder name is not a set id`, 'm'));
      }
    });
  }

  test("maxAgeDays with the newest set's artifact missing keeps the newest set that verifies, however old", async () => {
    const cluster = unique('hm');
    const { backend } = open('minio');
    const oldest = await writeValidSet(backend, cluster, ago(4 * DAY), 'messages');
    const good = await writeValidSet(backend, cluster, ago(3 * DAY), 'messages');
    const missing = await writeSetWithMissingArtifact(backend, cluster, ago(HOUR), 'messages');
    const s = (await prune(cluster, { storages: ['minio'] })).storages[0]!;
    assert.match(s.kept.find((d) => d.setId === missing.setId)!.reason, /^damaged \(artifact\.json: missing at s3:\/\//);
    assert.equal(s.kept.find((d) => d.setId === good.setId)!.reason, 'newest restorable set (every artifact verified)');
    assert.deepEqual(s.deleted.map((d) => [d.setId, d.reason]), [[oldest.setId, 'older than 1 days (maxAgeDays)']]);
    assert.equal((await keysUnder(backend, good.prefix)).length, 2);
  });

  test('a manifest rewritten to match damaged bytes verifies (storage cannot tell it from a good set); a good set copied into a newer folder does not', async () => {
    const cluster = unique('hl');
    const { backend } = open('local');
    const oldest = await writeValidSet(backend, cluster, ago(3 * DAY));
    const lying = await writeConsistentlyLyingSet(backend, cluster, ago(2 * DAY));
    const copied = await writeSetInForeignFolder(backend, cluster, oldest, ago(HOUR));
    const s = (await prune(cluster, { storages: ['local'], dryRun: true })).storages[0]!;
    assert.match(s.kept.find((d) => d.setId === copied.setId)!.reason, new RegExp(`^damaged \\(manifest.json describes ${cluster}/definitions/${oldest.setId}, not the folder it lies in\\)`));
    assert.equal(s.kept.find((d) => d.setId === lying.setId)!.reason, 'newest restorable set (every artifact verified)');
    assert.deepEqual(s.deleted.map((d) => d.setId), [oldest.setId]);
  });

  test('a restore that starts between the plan and the deletes keeps the set it reads', async () => {
    const cluster = unique('hr');
    const { backend } = open('local');
    const oldest = await writeValidSet(backend, cluster, ago(3 * DAY));
    const older = await writeValidSet(backend, cluster, ago(2 * DAY));
    const newest = await writeValidSet(backend, cluster, ago(HOUR));
    let restoreId = '';
    afterPlan = async (plan) => {
      assert.ok(plan.decisions.some((d) => d.setId === oldest.setId && d.action === 'delete'), 'the plan dooms the set');
      // A restore that no worker picks up stays Running: it reads the doomed set.
      const restore = await h.client.workflow.start('restoreDefinitions', {
        taskQueue: `nobody-${randomBytes(3).toString('hex')}`,
        workflowId: workflowId('late-restore'),
        args: [{ cluster: 'elsewhere', sourceCluster: cluster, from: oldest.setId }],
      });
      restoreId = restore.workflowId;
      const query = `WorkflowId = '${restoreId}' AND ExecutionStatus = 'Running'`;
      for (let i = 0; i < 50 && (await h.client.workflow.count(query)).count === 0; i++) await new Promise((r) => setTimeout(r, 200));
    };
    try {
      const s = (await prune(cluster, { storages: ['local'] })).storages[0]!;
      assert.match(s.kept.find((d) => d.setId === oldest.setId)!.reason, new RegExp(`^a restore started after the plan reads it \\(${restoreId}\\): not deleted$`));
      assert.deepEqual(s.deleted.map((d) => d.setId), [older.setId]);
      assert.equal((await keysUnder(backend, oldest.prefix)).length, 2, 'the set the restore reads is whole');
      assert.deepEqual(await keysUnder(backend, older.prefix), []);
      assert.equal((await keysUnder(backend, newest.prefix)).length, 2);
    } finally {
      afterPlan = undefined;
      if (restoreId) await h.client.workflow.getHandle(restoreId).terminate('test done');
    }
  });
});

// The verification cache, through the activities as the worker runs them.
describe('retention verification cache', () => {
  const now = () => new Date().toISOString();
  let config: RabbitvaultConfig;

  before(() => {
    config = RabbitvaultConfig.parse({ ...testConfig({ a: clusterEntry(testNode(0)) }), retention: { default: { keepLast: 3 } } });
  });

  function activities(gets: Map<string, number>, options: RetentionOptions) {
    const act = createRetentionActivities(countingDeps(config, gets), { restoresInUse: async () => [], ...options });
    const env = () => new MockActivityEnvironment();
    return {
      plan: (cluster: string) => env().run(act.planPrune, { storage: 'local', clusters: [cluster], inUse: [], now: now() }) as Promise<PrunePlan>,
      delete: (prefixes: string[]) => env().run(act.deleteBackupSets, { storage: 'local', prefixes }) as ReturnType<typeof act.deleteBackupSets>,
    };
  }

  test('a second prune reads no artifact it verified before, except the protecting set when something is to go; the cache is outside storage', async () => {
    const cluster = unique('hc');
    const gets = new Map<string, number>();
    const cacheDir = scratchDir('verdicts');
    const act = activities(gets, { cacheDir });
    const backend = storageOpener(config)('local').backend;
    const sets: WrittenSet[] = [];
    for (const days of [5, 4, 3, 2, 1]) sets.push(await writeValidSet(backend, cluster, ago(days * DAY)));
    const [s1, s2, s3, s4, s5] = sets as [WrittenSet, WrittenSet, WrittenSet, WrittenSet, WrittenSet];

    const first = await act.plan(cluster);
    assert.deepEqual([first.setsVerified, first.verdictsCached], [3, 0]);
    assert.deepEqual([artifactReads(gets, [s3, s4, s5]), artifactReads(gets, [s1, s2])], [3, 0], 'only the three sets keepLast needs are read');
    assert.ok(existsSync(path.join(cacheDir, 'verified-sets.json')));

    gets.clear();
    const second = await act.plan(cluster);
    assert.deepEqual(first.decisions.map((d) => [d.setId, d.action]), second.decisions.map((d) => [d.setId, d.action]));
    assert.deepEqual([artifactReads(gets, [s3, s4]), artifactReads(gets, [s5])], [0, 1], 'sets 3-4 come from the cache; the protecting set is read again because sets 1-2 are to go');

    const deleted = await act.delete(second.decisions.filter((d) => d.action === 'delete').map((d) => d.prefix));
    assert.deepEqual(deleted.deleted.sort(), [s1.prefix, s2.prefix].sort());
    gets.clear();
    const third = await act.plan(cluster);
    assert.deepEqual([third.setsVerified, third.verdictsCached, artifactReads(gets, sets)], [0, 3, 0], 'nothing to delete: no artifact is read');
  });

  test('a cache inside a local storage target is never written (memory only)', async () => {
    const cluster = unique('hs');
    const backend = storageOpener(config)('local').backend;
    await writeValidSet(backend, cluster, ago(DAY));
    const inside = path.join(backend.locate(''), '.cache');
    const plan = await activities(new Map(), { cacheDir: inside }).plan(cluster);
    assert.equal(plan.setsVerified, 1);
    assert.equal(existsSync(inside), false);
  });

  test('bytes flipped after a set was cached as restorable, or a tampered or forged cache entry, never cost the last restorable set', async () => {
    config = RabbitvaultConfig.parse({ ...config, retention: { default: { keepLast: 1 } } });
    const backend = storageOpener(config)('local').backend;
    const cacheDir = scratchDir('verdicts-tampered');
    const gets = new Map<string, number>();
    const act = activities(gets, { cacheDir });

    // Stale entry: the newest set verified and cached, then its artifact is flipped (same size, manifest unchanged).
    const staleCluster = unique('ht');
    const good = await writeValidSet(backend, staleCluster, ago(2 * DAY));
    const later = await writeValidSet(backend, staleCluster, ago(HOUR));
    assert.equal((await act.plan(staleCluster)).decisions.find((d) => d.setId === later.setId)!.reason, 'newest restorable set (every artifact verified)');
    await flipArtifactByte(backend, later);
    const stale = await act.plan(staleCluster);
    assert.equal(stale.decisions.find((d) => d.setId === good.setId)!.reason, 'newest restorable set (every artifact verified)');
    assert.match(stale.decisions.find((d) => d.setId === later.setId)!.reason, /^damaged/);
    assert.ok(stale.decisions.every((d) => d.action === 'keep'));

    // Tampered file: the damaged set's cached "not restorable" edited to "restorable" (its HMAC no longer matches).
    const file = path.join(cacheDir, 'verified-sets.json');
    const manifestBytes = await readAll(backend, `${later.prefix}/${MANIFEST_FILE}`);
    const key = verdictKey('local', backend.locate(later.prefix), manifestBytes);
    const cached = JSON.parse(readFileSync(file, 'utf8')) as { entries: Record<string, { restorable: boolean; problem?: string }> };
    assert.equal(cached.entries[key]!.restorable, false);
    cached.entries[key] = { ...cached.entries[key]!, restorable: true, problem: undefined };
    writeFileSync(file, JSON.stringify(cached));
    gets.clear();
    const tampered = await act.plan(staleCluster);
    assert.equal(gets.get(`${later.prefix}/${ARTIFACT}`), 1, 'the edited entry is refused: the set is read again');
    assert.match(tampered.decisions.find((d) => d.setId === later.setId)!.reason, /^damaged/);
    assert.ok(tampered.decisions.every((d) => d.action === 'keep'));

    // Forged with a valid HMAC (someone holding the worker's key): the protecting set is still read before any delete.
    const forger = new VerificationCache(cacheDir);
    forger.store(key, { restorable: true, verifiedAt: new Date().toISOString() });
    forger.save(new Date());
    const forged = await activities(gets, { cacheDir }).plan(staleCluster);
    assert.match(forged.decisions.find((d) => d.setId === later.setId)!.reason, /^damaged/);
    assert.equal(forged.decisions.find((d) => d.setId === good.setId)!.reason, 'newest restorable set (every artifact verified)');
    const gone = await act.delete(forged.decisions.filter((d) => d.action === 'delete').map((d) => d.prefix));
    assert.deepEqual(gone.deleted, []);
    assert.equal((await keysUnder(backend, good.prefix)).length, 2, 'the last restorable set is whole');
  });
});

// Issue 13, part 6: bad input at the edges. Each case fails with one clear,
// non-retried error and leaves the broker as it was. Covered elsewhere (not
// repeated here): a message segment whose record declares more bytes than it
// has ("a segment with a truncated record ...", test/hostileSegments.test.ts)
// and a gzip bomb segment ("a gzip bomb (1 GiB of zeros behind a 4 GiB
// record) stops at the record header: memory stays flat", same file).
import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import type { WorkflowHandle } from '@temporalio/client';
import { MANIFEST_FILE, setPrefix } from '../common/backupSetLayout';
import { MANIFEST_SCHEMA_VERSION } from '../common/manifest';
import { newSetId } from '../common/names';
import type { RestoreDefinitionsResult } from '../contracts/definitions';
import { LocalDirectoryStorage } from '../lib/storage/local';
import { clusterEntry, failureOf, startHarness, testConfig, workflowId, type Harness } from './support/harness';
import { liveDefinitions } from './support/rabbitHttp';
import { testNode } from './support/stack';

const a = testNode(0);
const b = testNode(1);
// Short retries: a failure wrongly left retryable shows as attempt > 1 within a second.
const fast = { retry: { initialIntervalSeconds: 0.2, maximumIntervalSeconds: 0.5, maximumAttempts: 3, attemptTimeoutSeconds: 60 } };
const sha256 = (bytes: Buffer) => createHash('sha256').update(bytes).digest('hex');

// What a 3.10 export of one vhost with one queue looks like; each case breaks one thing.
function definitionsJson(queueArguments = '{"x-max-length":10}', extraTopLevel = ''): Buffer {
  return Buffer.from(
    `{${extraTopLevel}"rabbit_version":"3.10.8","rabbitmq_version":"3.10.8","users":[],"vhosts":[{"name":"edges"}],"permissions":[],"topic_permissions":[],"parameters":[],"global_parameters":[],"policies":[],` +
      `"queues":[{"name":"edges.q","vhost":"edges","durable":true,"auto_delete":false,"arguments":${queueArguments}}],"exchanges":[],"bindings":[]}`,
  );
}

describe('bad input at the edges (issue 13, part 6)', () => {
  let h: Harness;
  let storage: LocalDirectoryStorage;
  let root: string;

  before(async () => {
    const config = testConfig({ a: clusterEntry(a), b: clusterEntry(b) });
    const local = config.storage.targets.local;
    assert.ok(local?.type === 'local');
    root = local.path;
    storage = new LocalDirectoryStorage(root);
    h = await startHarness(config);
  });
  after(async () => h?.stop());

  // A set of cluster a with the given artifacts and a manifest whose sizes and
  // SHA-256s match them (an attacker with write access rewrites those too);
  // `manifest` edits the manifest last, `names` lists it under other names.
  async function forgeSet(artifacts: Record<string, Buffer>, edit: { names?: (name: string) => string; manifest?: (m: Record<string, unknown>) => void } = {}): Promise<string> {
    const setId = newSetId(new Date(), randomBytes(4).toString('hex'));
    const prefix = setPrefix('a', 'definitions', setId);
    for (const [name, bytes] of Object.entries(artifacts)) await storage.put(`${prefix}/${name}`, bytes);
    const now = new Date().toISOString();
    const manifest: Record<string, unknown> = {
      schemaVersion: MANIFEST_SCHEMA_VERSION,
      cluster: 'a',
      component: 'definitions',
      setId,
      rabbitmqVersion: '3.10.8',
      artifacts: Object.entries(artifacts).map(([name, bytes]) => ({ name: edit.names ? edit.names(name) : name, size: bytes.length, sha256: sha256(bytes), contentType: 'application/json' })),
      workflow: { workflowId: 'forged', runId: 'forged' },
      startedAt: now,
      finishedAt: now,
      toolVersion: 'forged',
      details: { counts: {} },
    };
    edit.manifest?.(manifest);
    await storage.put(`${prefix}/${MANIFEST_FILE}`, Buffer.from(JSON.stringify(manifest)));
    return setId;
  }

  // A restore into cluster b that must fail: its failure, the steps it scheduled, its highest attempt, and b unchanged.
  async function refusedRestore(input: Record<string, unknown>): Promise<{ message: string; type?: string; steps: string[]; attempts: number }> {
    const before = JSON.stringify(await liveDefinitions(b));
    const handle: WorkflowHandle = await h.client.workflow.start('restoreDefinitions', {
      taskQueue: h.config.temporal.taskQueue,
      workflowId: workflowId('edge'),
      args: [{ cluster: 'b', sourceCluster: 'a', ...fast, ...input }],
    });
    const failure = await failureOf(handle.result());
    const events = (await handle.fetchHistory()).events ?? [];
    const steps = events.flatMap((e) => (e.activityTaskScheduledEventAttributes?.activityType?.name ? [e.activityTaskScheduledEventAttributes.activityType.name] : []));
    const attempts = Math.max(0, ...events.map((e) => e.activityTaskStartedEventAttributes?.attempt ?? 0));
    assert.equal(JSON.stringify(await liveDefinitions(b)), before, 'the definitions of cluster b are unchanged');
    return { ...failure, steps, attempts };
  }

  test('control: the clean forged set plans (dry run) with its queue to create, so each refusal below is the edge alone', async () => {
    const setId = await forgeSet({ 'definitions.json': definitionsJson() });
    const result = (await h.client.workflow.execute('restoreDefinitions', {
      taskQueue: h.config.temporal.taskQueue,
      workflowId: workflowId('edge-control'),
      args: [{ cluster: 'b', sourceCluster: 'a', from: setId, dryRun: true, ...fast }],
    })) as RestoreDefinitionsResult;
    assert.equal(result.plan.counts.queues.create, 1);
  });

  for (const name of ['../outside/definitions.json', '..', '..\\outside.json', 'definitions.json/../../../outside.json']) {
    test(`a manifest naming the artifact ${JSON.stringify(name)} (outside the set) is refused before anything is read from there`, async () => {
      // A valid definitions file where the name leads, with a queue the target does not have: importing it would show.
      mkdirSync(path.join(root, 'a', 'outside'), { recursive: true });
      for (const file of ['outside.json', path.join('outside', 'definitions.json')]) writeFileSync(path.join(root, 'a', file), definitionsJson());
      const setId = await forgeSet({ 'definitions.json': definitionsJson() }, { names: () => name });
      const failure = await refusedRestore({ from: setId });
      assert.equal(failure.type, 'ManifestInvalid', failure.message);
      assert.match(failure.message, new RegExp(`^verifying the backup set failed: .*a/definitions/${setId}/manifest\\.json: artifacts\\.0\\.name: must be a file name`));
      assert.match(failure.message, /the target was not touched/);
      assert.deepEqual(failure.steps, ['verifyBackupSet'], 'refused at verification, nothing planned or imported');
      assert.equal(failure.attempts, 1, 'not retried');
    });
  }

  test('a cluster name or set id with "/" in workflow input: InvalidInput naming each field, no step run', async () => {
    const restore = await refusedRestore({ cluster: 'b/../a', sourceCluster: 'a/b', from: '20260101T000000Z-deadbeef/../../x', storage: 'local/..' });
    assert.equal(restore.type, 'InvalidInput', restore.message);
    assert.match(restore.message, /^invalid restoreDefinitions input: /);
    for (const field of ['cluster', 'sourceCluster', 'from', 'storage']) assert.match(restore.message, new RegExp(`(^|; |: )${field}: `), `${field} named in: ${restore.message}`);
    assert.deepEqual(restore.steps, []);

    for (const [type, input, fields] of [
      ['backupMessages', { cluster: 'a/b' }, ['cluster']],
      ['backupDefinitions', { cluster: '../a' }, ['cluster']],
      ['verifyBackup', { cluster: 'a', component: 'definitions', set: '../20260101T000000Z-deadbeef' }, ['set']],
      ['restoreMessages', { cluster: 'b', sourceCluster: 'a/../b', from: 'latest/x' }, ['sourceCluster', 'from']],
    ] as const) {
      const handle = await h.client.workflow.start(type, { taskQueue: h.config.temporal.taskQueue, workflowId: workflowId('edge-input'), args: [{ ...input, ...fast }] });
      const failure = await failureOf(handle.result());
      assert.equal(failure.type, 'InvalidInput', `${type}: ${failure.message}`);
      assert.match(failure.message, new RegExp(`^invalid ${type} input: `));
      for (const field of fields) assert.match(failure.message, new RegExp(`(^|; |: )${field}: `), `${type}: ${field} named in: ${failure.message}`);
      const scheduled = ((await handle.fetchHistory()).events ?? []).filter((e) => e.activityTaskScheduledEventAttributes);
      assert.equal(scheduled.length, 0, `${type}: no step ran`);
    }
  });

  test('a manifest of an unknown schema version is refused naming the version, not a list of mismatched fields', async () => {
    const newer = await forgeSet({ 'definitions.json': definitionsJson() }, { manifest: (m) => Object.assign(m, { schemaVersion: MANIFEST_SCHEMA_VERSION + 1, somethingNew: { x: 1 } }) });
    const failure = await refusedRestore({ from: newer });
    assert.equal(failure.type, 'ManifestInvalid', failure.message);
    assert.match(
      failure.message,
      new RegExp(`manifest\\.json: schemaVersion ${MANIFEST_SCHEMA_VERSION + 1} is not a manifest format this rabbitvault reads \\(it reads ${MANIFEST_SCHEMA_VERSION}\\): the set was written by a newer rabbitvault, restore it with that version`),
    );
    assert.deepEqual([failure.steps, failure.attempts], [['verifyBackupSet'], 1]);

    const garbled = await forgeSet({ 'definitions.json': definitionsJson() }, { manifest: (m) => Object.assign(m, { schemaVersion: 'one' }) });
    const other = await refusedRestore({ from: garbled });
    assert.equal(other.type, 'ManifestInvalid', other.message);
    assert.match(other.message, /manifest\.json: schemaVersion "one" is not a manifest format this rabbitvault reads \(it reads 1\); the target was not touched/);
  });

  const protoCases: Array<[string, Buffer, RegExp]> = [
    ['in a queue argument table', definitionsJson('{"__proto__":{"x-queue-type":"quorum","polluted":"argument"},"x-max-length":10}'), /a "__proto__" key in queues\.0\.arguments is refused/],
    ['at the top level', definitionsJson(undefined, '"__proto__":{"polluted":"top","queues":[]},'), /a "__proto__" key at the top level is refused/],
    ['in a vhost entry', Buffer.from(definitionsJson().toString().replace('{"name":"edges"}', '{"name":"edges","__proto__":{"polluted":"vhost"}}')), /a "__proto__" key in vhosts\.0 is refused/],
  ];
  for (const [where, bytes, refusal] of protoCases) {
    test(`a definitions artifact with a "__proto__" key ${where}: refused before planning, no prototype polluted`, async () => {
      assert.ok(bytes.includes('"__proto__"'), 'the key is in the stored bytes');
      const setId = await forgeSet({ 'definitions.json': bytes });
      for (const dryRun of [true, false]) {
        const failure = await refusedRestore({ from: setId, dryRun });
        assert.equal(failure.type, 'InvalidDefinitions', failure.message);
        assert.match(failure.message, /^planning the restore into cluster b failed: definitions\.json: /);
        assert.match(failure.message, refusal);
        assert.match(failure.message, /; the target was not touched$/);
        assert.deepEqual(failure.steps, ['verifyBackupSet', 'planDefinitionsRestore']);
        assert.equal(failure.attempts, 1, 'not retried');
      }
      // The worker's activities ran in this process: nothing reached Object.prototype.
      const probe = {} as Record<string, unknown>;
      assert.deepEqual([probe.polluted, probe['x-queue-type'], probe.queues], [undefined, undefined, undefined]);
      assert.equal(Object.getPrototypeOf(probe), Object.prototype);
    });
  }
});

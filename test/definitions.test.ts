import assert from 'node:assert/strict';
import { readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { listSets } from '../lib/backupSets/catalog';
import { LocalDirectoryStorage } from '../lib/storage/local';
import type { BackupDefinitionsResult, RestoreDefinitionsResult } from '../contracts/definitions';
import { clusterEntry, failureOf, startHarness, testConfig, workflowId, type Harness } from './support/harness';
import { declareQueue, liveDefinitions, rabbitApi } from './support/rabbitHttp';
import { testNode } from './support/stack';

const nodeA = testNode(0);
const nodeB = testNode(1);
let h: Harness;

function backup(cluster = 'a', extra: Record<string, unknown> = {}): Promise<BackupDefinitionsResult> {
  return h.client.workflow.execute('backupDefinitions', {
    taskQueue: h.config.temporal.taskQueue,
    workflowId: workflowId('backup'),
    args: [{ cluster, ...extra }],
  });
}

function restore(input: Record<string, unknown>): Promise<RestoreDefinitionsResult> {
  return h.client.workflow.execute('restoreDefinitions', {
    taskQueue: h.config.temporal.taskQueue,
    workflowId: workflowId('restore'),
    args: [input],
  });
}

function localBackups(): LocalDirectoryStorage {
  const t = h.config.storage.targets.local;
  assert.ok(t?.type === 'local');
  return new LocalDirectoryStorage(t.path);
}

describe('definitions backup and restore', () => {
  before(async () => {
    await Promise.all([nodeA.reset(), nodeB.reset()]);
    h = await startHarness(testConfig({ a: clusterEntry(nodeA), b: clusterEntry(nodeB) }));
    await rabbitApi(nodeA, 'PUT', '/api/vhosts/orders', {});
    await rabbitApi(nodeA, 'PUT', '/api/permissions/orders/guest', { configure: '.*', write: '.*', read: '.*' });
    await declareQueue(nodeA, 'orders', 'orders.incoming', { 'x-max-length': 1000 });
    await declareQueue(nodeA, 'orders', 'orders.quorum', { 'x-queue-type': 'quorum' });
    await rabbitApi(nodeA, 'PUT', '/api/exchanges/orders/orders.topic', { type: 'topic', durable: true });
    await rabbitApi(nodeA, 'POST', '/api/bindings/orders/e/orders.topic/q/orders.incoming', { routing_key: 'order.#' });
    await rabbitApi(nodeA, 'PUT', '/api/policies/orders/ttl', { pattern: '^orders\\.', definition: { 'message-ttl': 60000 }, 'apply-to': 'queues' });
  });
  after(() => h.stop());

  test('backs up byte for byte with a manifest, and restores into another cluster', async () => {
    const result = await backup();
    assert.equal(result.counts.queues, 2);
    assert.equal(result.counts.exchanges, 1);
    assert.equal(result.counts.policies, 1);
    assert.ok(result.counts.vhosts >= 2);
    assert.match(result.setId, /^\d{8}T\d{6}Z-[0-9a-f]{8}$/);

    const stored = readFileSync(path.join(result.location, 'definitions.json'));
    const manifest = JSON.parse(readFileSync(path.join(result.location, 'manifest.json'), 'utf8'));
    assert.equal(manifest.component, 'definitions');
    assert.equal(manifest.artifacts[0].size, stored.length);
    assert.equal(manifest.rabbitmqVersion, '3.10.8');
    assert.deepEqual(JSON.parse(stored.toString()), await liveDefinitions(nodeA), 'artifact is what RabbitMQ exported');

    const dry = await restore({ cluster: 'b', sourceCluster: 'a', from: 'latest', dryRun: true });
    assert.equal(dry.dryRun, true);
    assert.equal(dry.plan.counts.queues.create, 2);
    assert.equal((await liveDefinitions(nodeB)).queues?.length, 0, 'a dry run changes nothing');

    const applied = await restore({ cluster: 'b', sourceCluster: 'a', from: result.setId });
    assert.equal(applied.verification?.ok, true);
    const liveB = await liveDefinitions(nodeB);
    assert.deepEqual(
      liveB.queues?.map((q) => (q as { name: string }).name).sort(),
      ['orders.incoming', 'orders.quorum'],
    );
    assert.equal(liveB.bindings?.length, 1);
  });

  test('reports conflicts instead of hiding them', async () => {
    await rabbitApi(nodeB, 'DELETE', '/api/queues/orders/orders.incoming');
    await declareQueue(nodeB, 'orders', 'orders.incoming', { 'x-max-length': 5 });
    const before = await liveDefinitions(nodeB);
    const failure = await failureOf(restore({ cluster: 'b', sourceCluster: 'a', from: 'latest' }));
    assert.equal(failure.type, 'DefinitionsConflict');
    assert.match(failure.message, /queue vhost=orders name=orders.incoming \(arguments\)/);
    assert.deepEqual(await liveDefinitions(nodeB), before, 'an aborted restore leaves the target untouched');

    const kept = await restore({ cluster: 'b', sourceCluster: 'a', from: 'latest', onConflict: 'keep-target' });
    assert.equal(kept.verification?.conflictsLeftAsTarget, 1);
    assert.equal(kept.plan.conflicts[0]?.entity, 'queue vhost=orders name=orders.incoming');
  });

  test('a tampered artifact is refused by verify and restore, and the target is untouched', async () => {
    const result = await backup();
    const file = path.join(result.location, 'definitions.json');
    const original = readFileSync(file);
    writeFileSync(file, Buffer.from(original.toString().replace('orders.incoming', 'orders.tampered')));
    const verify = await failureOf(
      h.client.workflow.execute('verifyBackup', {
        taskQueue: h.config.temporal.taskQueue,
        workflowId: workflowId('verify'),
        args: [{ cluster: 'a', component: 'definitions', set: result.setId }],
      }),
    );
    assert.equal(verify.type, 'ManifestChecksumMismatch');
    assert.match(verify.message, /definitions\.json: SHA-256/);

    await nodeB.reset();
    const before = await liveDefinitions(nodeB);
    const failed = await failureOf(restore({ cluster: 'b', sourceCluster: 'a', from: result.setId }));
    assert.equal(failed.type, 'ManifestChecksumMismatch');
    assert.match(failed.message, /definitions\.json/);
    assert.match(failed.message, /target was not touched/);
    assert.deepEqual(await liveDefinitions(nodeB), before);
    writeFileSync(file, original);
  });

  test('unknown set ids and empty storage give clear messages', async () => {
    const unknown = await failureOf(restore({ cluster: 'b', sourceCluster: 'a', from: '20200101T000000Z-deadbeef' }));
    assert.equal(unknown.type, 'BackupSetNotFound');
    assert.match(unknown.message, /no definitions backup set 20200101T000000Z-deadbeef of cluster "a"/);
    const none = await failureOf(restore({ cluster: 'a', sourceCluster: 'b', from: 'latest' }));
    assert.match(none.message, /no complete definitions backups of cluster "b"/);
  });

  test('invalid input fails at once and names every bad field', async () => {
    const failure = await failureOf(restore({ cluster: 'Not A Name!', from: 'yesterday', onConflict: 'merge', retry: { maximumAttempts: 0 } }));
    assert.equal(failure.type, 'InvalidInput');
    for (const field of ['cluster', 'from', 'onConflict', 'retry.maximumAttempts']) assert.match(failure.message, new RegExp(`${field.replace('.', '\\.')}:`));
  });

  test('a set without a manifest is incomplete and never restored', async () => {
    const result = await backup();
    const storage = localBackups();
    await storage.delete(`a/definitions/${result.setId}/manifest.json`);
    const sets = await listSets(storage, { cluster: 'a', component: 'definitions' });
    assert.equal(sets.find((s) => s.setId === result.setId)?.complete, false);
    const failure = await failureOf(restore({ cluster: 'b', sourceCluster: 'a', from: result.setId }));
    assert.match(failure.message, /incomplete \(no manifest\.json\)/);
  });
});

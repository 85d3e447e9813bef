import assert from 'node:assert/strict';
import { readdirSync } from 'node:fs';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { canonicalJson } from '../lib/definitions/model';
import type { BackupDefinitionsResult, RestoreDefinitionsResult } from '../contracts/definitions';
import { clusterEntry, startHarness, testConfig, workflowId, type Harness } from './support/harness';
import { importFixture, liveDefinitions } from './support/rabbitHttp';
import { testNode } from './support/stack';

// Kept in the repository (from the workplace's shared fixtures), so a clone anywhere runs them.
const fixturesDir = path.join(__dirname, 'fixtures', 'definitions');
const fixtures = readdirSync(fixturesDir).filter((f) => f.endsWith('.json')).sort();
const nodeA = testNode(0);
const nodeB = testNode(1);
const kinds = ['vhosts', 'users', 'permissions', 'topic_permissions', 'parameters', 'policies', 'queues', 'exchanges', 'bindings'];

// RabbitMQ's own import-suite files: import into node a, back up, restore into node b, compare.
describe('real-world definitions fixtures round-trip', () => {
  let h: Harness;
  before(async () => {
    assert.ok(fixtures.length >= 5, `fixtures found in ${fixturesDir}`);
    h = await startHarness(testConfig({ a: clusterEntry(nodeA), b: clusterEntry(nodeB) }));
  });
  after(() => h.stop());

  for (const fixture of fixtures) {
    test(fixture, async () => {
      await Promise.all([nodeA.reset(), nodeB.reset()]);
      await importFixture(nodeA, path.join(fixturesDir, fixture));
      const backup: BackupDefinitionsResult = await h.client.workflow.execute('backupDefinitions', {
        taskQueue: h.config.temporal.taskQueue,
        workflowId: workflowId('fixture-backup'),
        args: [{ cluster: 'a' }],
      });
      const restored: RestoreDefinitionsResult = await h.client.workflow.execute('restoreDefinitions', {
        taskQueue: h.config.temporal.taskQueue,
        workflowId: workflowId('fixture-restore'),
        args: [{ cluster: 'b', sourceCluster: 'a', from: backup.setId }],
      });
      assert.equal(restored.verification?.ok, true);
      const [a, b] = await Promise.all([liveDefinitions(nodeA), liveDefinitions(nodeB)]);
      for (const kind of kinds) {
        const onB = new Set((b[kind] ?? []).map(canonicalJson));
        for (const entity of a[kind] ?? []) assert.ok(onB.has(canonicalJson(entity)), `${fixture}: ${kind} ${canonicalJson(entity)} missing on b`);
      }
    });
  }
});

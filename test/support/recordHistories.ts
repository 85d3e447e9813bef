// Records one history per workflow path into test/histories/ for the replay test.
// Run: npm test -- test/support/recordHistories.ts (after an intended, patched() change).
import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { test } from 'node:test';
import { clusterEntry, startHarness, testConfig } from './harness';
import { declareQueue } from './rabbitHttp';
import { testNode } from './stack';
import { recordConfigurationHistories, recordKubernetesConfigurationHistories } from '../configuration.support';
import { recordDataDirectoryHistories } from '../dataDirectory.support';
import { recordResticPruneHistory } from './resticSets';

test('record workflow histories', async () => {
  const a = testNode(0);
  const b = testNode(1);
  await Promise.all([a.reset(), b.reset()]);
  await declareQueue(a, '/', 'recorded');
  const h = await startHarness(testConfig({ a: clusterEntry(a), b: clusterEntry(b) }));
  const runs: Array<[string, string, unknown]> = [
    ['backupDefinitions', 'backup-definitions', { cluster: 'a' }],
    ['restoreDefinitions', 'restore-definitions-dry-run', { cluster: 'b', sourceCluster: 'a', from: 'latest', dryRun: true }],
    ['restoreDefinitions', 'restore-definitions', { cluster: 'b', sourceCluster: 'a', from: 'latest' }],
    ['verifyBackup', 'verify-backup', { cluster: 'a', component: 'definitions', set: 'latest' }],
    ['backupMessages', 'backup-messages', { cluster: 'a', queues: ['recorded'] }],
    // Since the segment pre-check (patched 'restore-messages-checks-segments-first'); restore-messages.json is the run before it.
    ['restoreMessages', 'restore-messages-segments-checked', { cluster: 'b', sourceCluster: 'a', from: 'latest' }],
    ['restoreDefinitions', 'restore-definitions-invalid-input', { cluster: 'B A D', from: 'x' }],
    ['scheduledBackup', 'scheduled-backup', { cluster: 'a', component: 'definitions', workflowType: 'backupDefinitions' }],
    ['copyBackupOffsite', 'copy-backup-offsite', { cluster: 'a', component: 'definitions', from: 'local', to: 'minio' }],
    ['pruneBackups', 'prune-backups', { clusters: ['a'], storages: ['local'] }],
    ['validateBackups', 'validate-backups', { clusters: ['a'], components: ['definitions'], restoreInto: 'b' }],
    ['restoreDrill', 'restore-drill', { cluster: 'a', target: 'b', components: ['definitions'] }],
  ];
  try {
    for (const [type, name, input] of runs) {
      // The replay test replays under the file name; child workflow ids derive from it.
      const handle = await h.client.workflow.start(type, { taskQueue: h.config.temporal.taskQueue, workflowId: `${name}.json`, args: [input] });
      await handle.result().catch(() => undefined);
      writeFileSync(path.join(__dirname, '..', 'histories', `${name}.json`), JSON.stringify(await handle.fetchHistory(), null, 1));
    }
  } finally {
    await h.stop();
  }
});

// Data-directory workflows need node access and a node worker: recorded by their own helper.
test('record data-directory workflow histories', () => recordDataDirectoryHistories(path.join(__dirname, '..', 'histories'), testNode(0)));

// Retention of restic data-directory sets (forget + prune) needs a restic repository.
test('record the restic retention history', () => recordResticPruneHistory(path.join(__dirname, '..', 'histories'), { a: clusterEntry(testNode(0)) }));

// Configuration workflows need node access and a node worker too.
test('record configuration workflow histories', () => recordConfigurationHistories(path.join(__dirname, '..', 'histories'), testNode(0)));
test('record Kubernetes configuration workflow histories', () => recordKubernetesConfigurationHistories(path.join(__dirname, '..', 'histories'), testNode(0)));

// Issue 10, class 7: manifest details read by workflow code are validated there,
// so a forged set fails the workflow at once (non-retryable), before any node step.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { LocalDirectoryStorage } from '../lib/storage/local';
import type { RabbitvaultConfig } from '../config/schema';
import { dataConfig } from './dataDirectory.support';
import { dataDirectoryArtifact, hostileDataDirectoryDetails, writeForgedSet } from './fixtures/hostile/manifests';
import { failureOf, startHarness, workflowId, type Harness } from './support/harness';
import { testNode } from './support/stack';

const node = testNode(0);

describe('forged data-directory manifest details', () => {
  let config: RabbitvaultConfig;
  let harness: Harness;
  let storage: LocalDirectoryStorage;

  before(async () => {
    config = dataConfig([node]);
    // Only the main task queue: a refused restore never reaches a node worker.
    harness = await startHarness(config);
    storage = new LocalDirectoryStorage((config.storage.targets.local as { path: string }).path);
  });
  after(async () => harness?.stop());

  for (const variant of hostileDataDirectoryDetails(node.nodeName, '/var/lib/rabbitmq/mnesia/x')) {
    test(`refused: ${variant.attack}`, async () => {
      const { setId } = await writeForgedSet(storage, { cluster: 'c', component: 'data-directory', artifacts: [dataDirectoryArtifact(node.nodeName)], details: variant.details });
      const handle = await harness.client.workflow.start('restoreDataDirectory', {
        taskQueue: config.temporal.taskQueue,
        workflowId: workflowId('forged-details'),
        args: [{ cluster: 'c', from: setId, retry: { initialIntervalSeconds: 0.2, maximumIntervalSeconds: 1, maximumAttempts: 3 } }],
      });
      const failure = await failureOf(handle.result());
      assert.equal(failure.type, 'ManifestInvalid', failure.message);
      assert.match(failure.message, new RegExp(`backup set ${setId}, manifest.json details: `));
      assert.match(failure.message, variant.refusal);
      assert.match(failure.message, /refused before anything was changed/);
      const events = (await handle.fetchHistory()).events ?? [];
      // Failed by the workflow itself (no task retry loop), after the set verification and nothing else.
      // UnhandledCommand is the server asking the workflow to look again (the lock's child started meanwhile), not a code failure.
      const taskFailures = events.flatMap((e) => {
        const failed = e.workflowTaskFailedEventAttributes;
        return failed && failed.failure?.message !== 'UnhandledCommand' ? [JSON.stringify(failed).slice(0, 600)] : [];
      });
      assert.deepEqual(taskFailures, [], 'a workflow task failed (would retry forever)');
      const steps = events.flatMap((e) => (e.activityTaskScheduledEventAttributes?.activityType?.name ? [e.activityTaskScheduledEventAttributes.activityType.name] : []));
      assert.deepEqual(steps, ['verifyBackupSet']);
      assert.match(await node.ctl(['-q', 'eval', 'rabbit:is_running().']), /true/);
    });
  }
});

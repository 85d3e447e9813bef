import assert from 'node:assert/strict';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { Client, Connection } from '@temporalio/client';
import { listSets } from '../lib/backupSets/catalog';
import { LocalDirectoryStorage } from '../lib/storage/local';
import { progressQuery } from '../common/progress';
import { freePort } from '../scripts/devstack/ports';
import type { BackupDefinitionsResult } from '../contracts/definitions';
import { clusterEntry, failureOf, startHarness, testConfig, workflowId, type Harness } from './support/harness';
import { startFaultyProxy } from './support/faultyProxy';
import { declareQueue, liveDefinitions } from './support/rabbitHttp';
import { scratchDir, testNode, testStack } from './support/stack';
import { killHard, spawnWorker, writeConfigFile } from './support/workerProcess';

const node = testNode(0);
const target = testNode(1);
const SECRET = 'not-the-password-7f3a9c';

describe('faults', () => {
  let h: Harness;
  let deadPort: number;
  let lossy: Awaited<ReturnType<typeof startFaultyProxy>>;
  const via = (port: number) => ({ ...clusterEntry(node), management: { ...clusterEntry(node).management, url: `http://127.0.0.1:${port}` } });
  before(async () => {
    process.env.RV_TEST_WRONG_PASSWORD = SECRET;
    deadPort = await freePort();
    lossy = await startFaultyProxy(target.options.managementPort, { losePostResponses: true });
    h = await startHarness(
      testConfig({ good: clusterEntry(node), wrong: clusterEntry(node, 'env:RV_TEST_WRONG_PASSWORD'), dead: via(deadPort), lossy: via(lossy.port) }),
    );
  });
  after(async () => {
    await h.stop();
    await lossy.close();
  });

  test('a restore whose import fails says what it changed on the target', async () => {
    await Promise.all([node.reset(), target.reset()]);
    await declareQueue(node, '/', 'changed.one');
    await declareQueue(node, '/', 'changed.two');
    const run = (type: string, input: unknown) =>
      h.client.workflow.execute(type, { taskQueue: h.config.temporal.taskQueue, workflowId: workflowId(type), args: [input] });
    await run('backupDefinitions', { cluster: 'good' });
    const failure = await failureOf(run('restoreDefinitions', { cluster: 'lossy', sourceCluster: 'good', from: 'latest', retry: { maximumAttempts: 1 } }));
    assert.match(failure.message, /^importing into cluster lossy failed: management API unreachable at http:\/\/127\.0\.0\.1:\d+/);
    assert.match(failure.message, /changed on the target: 2 entities created, \d+ updated/);
    assert.equal((await liveDefinitions(target)).queues?.length, 2, 'the import did run');
  });

  test('wrong credentials fail at once, non-retryable, and the password is nowhere in history', async () => {
    const handle = await h.client.workflow.start('backupDefinitions', {
      taskQueue: h.config.temporal.taskQueue,
      workflowId: workflowId('wrong-credentials'),
      args: [{ cluster: 'wrong' }],
    });
    const failure = await failureOf(handle.result());
    assert.equal(failure.type, 'AuthenticationFailed');
    assert.match(failure.message, new RegExp(`authentication failed for guest at ${node.managementUrl.replace(/[.]/g, '\\.')}`));
    const history = JSON.stringify(await handle.fetchHistory());
    assert.ok(!history.includes(SECRET), 'password in history');
    assert.ok(!history.includes(Buffer.from(`guest:${SECRET}`).toString('base64')), 'basic auth header in history');
    const attempts = (await handle.fetchHistory()).events?.filter((e) => e.activityTaskStartedEventAttributes).map((e) => e.activityTaskStartedEventAttributes?.attempt);
    assert.deepEqual(attempts, [1], 'no retry of an authentication failure');
  });

  test('an unreachable management API is retried with backoff, then fails naming the URL', async () => {
    const handle = await h.client.workflow.start('backupDefinitions', {
      taskQueue: h.config.temporal.taskQueue,
      workflowId: workflowId('unreachable'),
      args: [{ cluster: 'dead', retry: { initialIntervalSeconds: 0.2, maximumIntervalSeconds: 0.5, maximumAttempts: 3 } }],
    });
    const failure = await failureOf(handle.result());
    assert.equal(failure.type, 'ManagementApiUnreachable');
    assert.match(failure.message, new RegExp(`management API unreachable at http://127\\.0\\.0\\.1:${deadPort}: ECONNREFUSED`));
    const started = (await handle.fetchHistory()).events?.find((e) => e.activityTaskStartedEventAttributes);
    assert.equal(started?.activityTaskStartedEventAttributes?.attempt, 3, 'three attempts were made');
  });

  test('a worker SIGKILLed mid-backup: after a restart the workflow completes with exactly one complete set', async () => {
    const proxy = await startFaultyProxy(node.options.managementPort, { delayMs: 3_000 });
    const config = testConfig({
      slow: { ...clusterEntry(node), management: { ...clusterEntry(node).management, url: `http://127.0.0.1:${proxy.port}` } },
    });
    const configFile = writeConfigFile(config, path.join(scratchDir('crash'), 'rabbitvault.yaml'));
    const connection = await Connection.connect({ address: testStack().temporalAddress });
    const client = new Client({ connection, namespace: testStack().lane.temporalNamespace });
    let worker = await spawnWorker(configFile);
    try {
      const handle = await client.workflow.start('backupDefinitions', {
        taskQueue: config.temporal.taskQueue,
        workflowId: workflowId('crash'),
        args: [{ cluster: 'slow', retry: { attemptTimeoutSeconds: 10, initialIntervalSeconds: 0.5 } }],
      });
      for (let i = 0; i < 100; i++) {
        const p = await handle.query(progressQuery).catch(() => undefined);
        if (p?.step === 'exporting definitions') break;
        await new Promise((r) => setTimeout(r, 100));
      }
      await killHard(worker);
      worker = await spawnWorker(configFile);
      const result = (await handle.result()) as BackupDefinitionsResult;
      const local = config.storage.targets.local;
      assert.ok(local?.type === 'local');
      const sets = await listSets(new LocalDirectoryStorage(local.path), { cluster: 'slow' });
      assert.deepEqual(
        sets.map((s) => [s.setId, s.complete]),
        [[result.setId, true]],
      );
      const history = await handle.fetchHistory();
      const timedOut = history.events?.some((e) => e.activityTaskTimedOutEventAttributes);
      const retried = history.events?.some((e) => (e.activityTaskStartedEventAttributes?.attempt ?? 0) > 1);
      assert.ok(timedOut || retried, 'the killed attempt was retried on the restarted worker');
    } finally {
      await killHard(worker);
      await connection.close();
      await proxy.close();
    }
  });
});

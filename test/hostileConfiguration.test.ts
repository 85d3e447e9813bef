import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { decodeHelmRelease, HelmReleaseUnreadable, MAX_RELEASE_JSON_BYTES } from '../lib/kubernetes/helmRelease';
import { LocalDirectoryStorage } from '../lib/storage/local';
import type { BackupConfigurationResult } from '../contracts/configuration';
import { appRunning, dataConfig, startDataHarness } from './dataDirectory.support';
import { forgeConfigurationSet, helmReleaseBomb, hostileConfigurationVariants } from './fixtures/hostile/configurationSets';
import { failureOf, workflowId, type Harness } from './support/harness';
import { testNode } from './support/stack';

const a = testNode(0);
const quick = { retry: { initialIntervalSeconds: 0.5, maximumIntervalSeconds: 2, maximumAttempts: 3 } };

// Every file in the node's directory with its SHA-256: what "the node's files are unchanged" means.
function nodeFiles(): Record<string, string> {
  const files = readdirSync(a.dir, { withFileTypes: true }).filter((e) => e.isFile());
  return Object.fromEntries(files.map((e) => [e.name, createHash('sha256').update(readFileSync(path.join(a.dir, e.name))).digest('hex')]));
}

// The Erlang VM's OS pid: it changes when the node is restarted.
async function vmPid(): Promise<string> {
  return (await a.ctl(['-q', 'eval', 'os:getpid().'])).trim();
}

describe('hostile configuration sets (issue 10, class 2): refused before any file is written or node restarted', () => {
  let h: Harness;
  let local: LocalDirectoryStorage;
  let backedUp: BackupConfigurationResult;
  let confDirectory: string;
  const run = (input: unknown) => h.client.workflow.execute('restoreConfiguration', { taskQueue: h.config.temporal.taskQueue, workflowId: workflowId('hostile-configuration'), args: [input] });

  before(async () => {
    h = await startDataHarness(dataConfig([a]));
    local = new LocalDirectoryStorage((h.config.storage.targets.local as { path: string }).path);
    backedUp = (await h.client.workflow.execute('backupConfiguration', { taskQueue: h.config.temporal.taskQueue, workflowId: workflowId('backup'), args: [{ cluster: 'c', ...quick }] })) as BackupConfigurationResult;
    // Where the node reads conf.d files from, as the node says (the glob <dir>/*.conf).
    const glob = JSON.parse((await a.ctl(['-q', 'eval', 'maps:get(additional_config_files, rabbit_prelaunch:get_context()).'])).trim()) as string;
    confDirectory = path.dirname(glob);
  });
  after(async () => {
    await h.stop();
  });

  for (const variant of hostileConfigurationVariants('/etc/rabbitmq/conf.d')) {
    test(`${variant.attack}: ${variant.type}, naming the set and the path; nothing written, node not restarted`, async () => {
      assert.equal(confDirectory, '/etc/rabbitmq/conf.d', 'the variants are built for the node\'s conf.d directory');
      const setId = await forgeConfigurationSet(local, 'c', backedUp.setId, variant);
      for (const p of variant.neverCreated) assert.equal(existsSync(p), false, `${p} exists before the test`);
      const filesBefore = nodeFiles();
      const pidBefore = await vmPid();

      const failure = await failureOf(run({ cluster: 'c', from: setId, restart: true, ...quick }));
      assert.equal(failure.type, variant.type, failure.message);
      assert.match(failure.message, new RegExp(`backup set ${setId}, [^:]+: `));
      assert.match(failure.message, variant.names);
      assert.match(failure.message, /refused before anything was changed/);

      for (const p of variant.neverCreated) assert.equal(existsSync(p), false, `${p} was created`);
      assert.deepEqual(nodeFiles(), filesBefore, 'the node\'s files changed');
      assert.equal(await vmPid(), pidBefore, 'the node was restarted');
      assert.ok(await appRunning(a));
    });
  }

  test('a dry run refuses the same way (the check is in planning, not in writing)', async () => {
    const [cron] = hostileConfigurationVariants(confDirectory);
    const setId = await forgeConfigurationSet(local, 'c', backedUp.setId, cron!);
    const failure = await failureOf(run({ cluster: 'c', from: setId, dryRun: true, ...quick }));
    assert.equal(failure.type, 'ConfigurationPathRefused');
    assert.match(failure.message, new RegExp(`planning the restore on ${a.nodeName.replace(/[.]/g, '\\.')} failed: backup set ${setId}, pwned: rabbitmq\\.conf file for ${a.nodeName.replace(/[.]/g, '\\.')} at /etc/cron\\.d/rabbitvault-pwned: the node reports`));
  });

  test('the real set still restores (dry run): the node-reported paths are the ones the backup took', async () => {
    const dry = (await h.client.workflow.execute('restoreConfiguration', { taskQueue: h.config.temporal.taskQueue, workflowId: workflowId('dry'), args: [{ cluster: 'c', from: backedUp.setId, dryRun: true, ...quick }] })) as {
      nodes: Array<{ files: Array<{ path: string; action: string }> }>;
    };
    assert.deepEqual(
      dry.nodes[0]!.files.map((f) => f.action),
      backedUp.nodes[0]!.files.map(() => 'identical'),
    );
  });
});

describe('Helm release decompression bomb (issue 10, class 8)', () => {
  test('a release Secret inflating to 1 GiB is refused as HelmReleaseUnreadable with memory bounded', async () => {
    const bomb = await helmReleaseBomb(1024 * 1024 * 1024);
    const before = process.memoryUsage();
    assert.throws(
      () => decodeHelmRelease('sh.helm.release.v1.mq.v7', bomb),
      (e: Error) => e instanceof HelmReleaseUnreadable && /Secret sh\.helm\.release\.v1\.mq\.v7 inflates to more than 16777216 bytes.*decompression bomb/.test(e.message),
    );
    const grown = process.memoryUsage().arrayBuffers - before.arrayBuffers;
    assert.ok(grown < MAX_RELEASE_JSON_BYTES + 16 * 1024 * 1024, `external memory grew by ${grown} bytes`);
  });

  test('release data longer than any Secret can hold is refused before decoding', () => {
    assert.throws(() => decodeHelmRelease('sh.helm.release.v1.mq.v8', 'A'.repeat(3 * 1024 * 1024)), /holds 3145728 characters of release data, more than a Secret can/);
  });
});

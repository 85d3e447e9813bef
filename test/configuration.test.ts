import assert from 'node:assert/strict';
import { appendFileSync, chmodSync, existsSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { readManifest } from '../lib/backupSets/catalog';
import { dataDirectoryLockWorkflowId } from '../common/workflowIds';
import { LocalDirectoryStorage } from '../lib/storage/local';
import type { BackupConfigurationResult, RestoreConfigurationResult } from '../contracts/configuration';
import { appRunning, dataConfig, startDataHarness } from './dataDirectory.support';
import { failureOf, workflowId, type Harness } from './support/harness';
import { runCli } from './support/cli';
import { scratchDir, testNode } from './support/stack';
import { writeConfigFile } from './support/workerProcess';

const a = testNode(0);
const conf = path.join(a.dir, 'rabbitmq.conf');
const plugins = path.join(a.dir, 'enabled_plugins');
const advanced = path.join(a.dir, 'advanced.config');
const quick = { retry: { initialIntervalSeconds: 0.5, maximumIntervalSeconds: 2, maximumAttempts: 3 } };

// What the running node's rabbit application has for a setting, as rabbitmqctl prints it.
async function rabbitEnv(key: string): Promise<string> {
  return (await a.ctl(['-q', 'eval', `application:get_env(rabbit, ${key}).`])).trim();
}

describe('configuration backup and restore (plain host, local node access)', () => {
  let h: Harness;
  let local: LocalDirectoryStorage;
  let original: Buffer;
  let backedUp: BackupConfigurationResult;
  const run = <T>(type: string, input: unknown) => h.client.workflow.execute(type, { taskQueue: h.config.temporal.taskQueue, workflowId: workflowId(type), args: [input] }) as Promise<T>;
  const artifactPath = (name: string) => path.join((h.config.storage.targets.local as { path: string }).path, 'c', 'configuration', backedUp.setId, name);

  before(async () => {
    original = readFileSync(conf);
    // In the files only: the node reads them when it next starts (the restore's restart).
    writeFileSync(conf, Buffer.concat([original, Buffer.from('heartbeat = 17\n')]));
    writeFileSync(advanced, '[{rabbit, [{channel_max, 1000}]}].\n');
    chmodSync(advanced, 0o640);
    h = await startDataHarness(dataConfig([a]));
    local = new LocalDirectoryStorage((h.config.storage.targets.local as { path: string }).path);
  });
  after(async () => {
    await h.stop();
    // Back to the node as the stack made it: its own files, restarted with them.
    rmSync(advanced, { force: true });
    for (const f of readdirSync(a.dir).filter((n) => n.includes('.rabbitvault-'))) rmSync(path.join(a.dir, f), { force: true });
    await a.stop();
    await a.start();
  });

  test('backup: every file the node names, byte for byte, with mode; the node keeps running', async () => {
    backedUp = await run<BackupConfigurationResult>('backupConfiguration', { cluster: 'c', ...quick });
    const [node] = backedUp.nodes;
    assert.equal(node!.node, a.nodeName);
    const byKind = Object.fromEntries(node!.files.map((f) => [f.kind, f]));
    assert.deepEqual(Object.keys(byKind).sort(), ['advanced.config', 'enabled_plugins', 'rabbitmq.conf']);
    assert.equal(byKind['rabbitmq.conf']!.path, conf);
    assert.equal(byKind['enabled_plugins']!.path, plugins);
    assert.equal(byKind['advanced.config']!.path, advanced);
    assert.equal(byKind['advanced.config']!.mode, '640');
    for (const f of node!.files) assert.deepEqual(readFileSync(artifactPath(f.artifact)), readFileSync(f.path), f.path);
    const manifest = await readManifest(local, `c/configuration/${backedUp.setId}`);
    assert.equal(manifest.component, 'configuration');
    assert.equal(manifest.artifacts.length, 3);
    assert.ok(await appRunning(a));
  });

  test('dry run: replace, create and identical planned; nothing written', async () => {
    writeFileSync(conf, Buffer.concat([original, Buffer.from('heartbeat = 23\n')]));
    rmSync(advanced);
    const dry = await run<RestoreConfigurationResult>('restoreConfiguration', { cluster: 'c', from: 'latest', dryRun: true, ...quick });
    const actions = Object.fromEntries(dry.nodes[0]!.files.map((f) => [path.basename(f.path), f.action]));
    assert.deepEqual(actions, { 'rabbitmq.conf': 'replace', 'enabled_plugins': 'identical', 'advanced.config': 'create' });
    assert.equal(dry.filesChanged, 0);
    assert.match(readFileSync(conf, 'utf8'), /heartbeat = 23/);
    assert.equal(existsSync(advanced), false);
  });

  test('tampered artifact: refused before any node is touched', async () => {
    const name = backedUp.nodes[0]!.files.find((f) => f.kind === 'rabbitmq.conf')!.artifact;
    const good = readFileSync(artifactPath(name));
    writeFileSync(artifactPath(name), Buffer.concat([good, Buffer.from('x')]));
    try {
      const failure = await failureOf(run('restoreConfiguration', { cluster: 'c', from: backedUp.setId, restart: true, ...quick }));
      assert.equal(failure.type, 'ManifestChecksumMismatch');
      assert.match(failure.message, new RegExp(`${name.replace(/[.]/g, '\\.')}.*no node was touched`));
      assert.match(readFileSync(conf, 'utf8'), /heartbeat = 23/);
      assert.equal(existsSync(advanced), false);
    } finally {
      writeFileSync(artifactPath(name), good);
    }
  });

  test('a restore with restart is refused with ClusterBusy, nothing written, while another operation that stops the nodes holds the cluster lock', async () => {
    const lock = await h.client.workflow.start('dataDirectoryLock', {
      taskQueue: h.config.temporal.taskQueue,
      workflowId: dataDirectoryLockWorkflowId('c'),
      args: [{ cluster: 'c', holder: { workflowType: 'backupDataDirectory', workflowId: 'someone-else', runId: 'x' } }],
    });
    try {
      const busy = await failureOf(run('restoreConfiguration', { cluster: 'c', from: 'latest', restart: true, ...quick }));
      assert.equal(busy.type, 'ClusterBusy');
      assert.match(readFileSync(conf, 'utf8'), /heartbeat = 23/);
      assert.equal(existsSync(advanced), false);
    } finally {
      await lock.terminate('test done');
    }
  });

  test('restore with restart: files back byte for byte, the replaced one kept, the node runs with the restored settings', async () => {
    assert.equal(await rabbitEnv('heartbeat'), '{ok,60}');
    const r = await run<RestoreConfigurationResult>('restoreConfiguration', { cluster: 'c', from: 'latest', restart: true, ...quick });
    assert.equal(r.filesChanged, 2);
    assert.equal(r.nodes[0]!.restarted, true);
    for (const f of backedUp.nodes[0]!.files) assert.deepEqual(readFileSync(f.path), readFileSync(artifactPath(f.artifact)), f.path);
    assert.equal((statSync(advanced).mode & 0o777).toString(8), '640');
    const kept = r.nodes[0]!.files.find((f) => f.action === 'replace')!.previous!;
    assert.match(readFileSync(kept, 'utf8'), /heartbeat = 23/);
    assert.equal(await rabbitEnv('heartbeat'), '{ok,17}');
    assert.equal(await rabbitEnv('channel_max'), '{ok,1000}');
    // Run again: nothing differs, nothing is written or restarted.
    const again = await run<RestoreConfigurationResult>('restoreConfiguration', { cluster: 'c', from: 'latest', restart: true, ...quick });
    assert.equal(again.filesChanged, 0);
    assert.equal(again.nodes[0]!.restarted, false);
  });

  test('a node that does not start with the restored files gets its old files back and runs again; the failure says so', async () => {
    const good = readFileSync(conf);
    appendFileSync(conf, 'this_is_not_a_rabbitmq_setting = 1\n');
    const broken = await run<BackupConfigurationResult>('backupConfiguration', { cluster: 'c', ...quick });
    writeFileSync(conf, good);
    const failure = await failureOf(run('restoreConfiguration', { cluster: 'c', from: broken.setId, restart: true, nodeStartTimeoutSeconds: 30, ...quick }));
    assert.match(failure.message, new RegExp(`restoring the configuration of ${a.nodeName} failed: .*1 file\\(s\\) of ${a.nodeName} put back and the node started with them; nothing else was changed`));
    assert.deepEqual(readFileSync(conf), good);
    assert.ok(await appRunning(a));
    assert.equal(await rabbitEnv('heartbeat'), '{ok,17}');
  });

  test('bad input names the field; a node not in the set is refused before anything', async () => {
    const invalid = await failureOf(run('restoreConfiguration', { cluster: 'c', from: 'yesterday' }));
    assert.equal(invalid.type, 'InvalidInput');
    assert.match(invalid.message, /invalid restoreConfiguration input: from:/);
    const stranger = await failureOf(run('restoreConfiguration', { cluster: 'c', from: backedUp.setId, nodes: ['rabbit@elsewhere'] }));
    assert.equal(stranger.type, 'InvalidInput');
    assert.match(stranger.message, /nodes: rabbit@elsewhere not in set .*; no node was touched/);
  });

  test('CLI: backup configuration and restore configuration --dry-run', async () => {
    const dir = scratchDir('configuration-cli');
    const file = writeConfigFile(h.config, path.join(dir, 'rabbitvault.yaml'));
    const backup = await runCli(['backup', 'configuration', '--cluster', 'c', '--wait', '--config', file], dir);
    assert.equal(backup.code, 0, backup.stderr);
    assert.match(backup.stdout, /backed up the configuration of c and 1 node\(s\) on hosts: set \S+ at /);
    assert.match(backup.stdout, new RegExp(`rabbitmq\\.conf ${conf.replace(/[.]/g, '\\.')} \\(\\d+ bytes, mode \\d+ `));
    writeFileSync(conf, Buffer.concat([readFileSync(conf), Buffer.from('# edited\n')]));
    const dry = await runCli(['restore', 'configuration', '--cluster', 'c', '--from', 'latest', '--dry-run', '--wait', '--config', file], dir);
    assert.equal(dry.code, 0, dry.stderr);
    assert.match(dry.stdout, /dry run: would restore the configuration of 1 node\(s\)/);
    assert.match(dry.stdout, /replace .*rabbitmq\.conf \(current file would be kept as .*\.rabbitvault-before-/);
    assert.match(readFileSync(conf, 'utf8'), /# edited/);
    const usage = await runCli(['restore', 'configuration', '--cluster', 'c', '--config', file], dir);
    assert.equal(usage.code, 2);
    assert.match(usage.stderr, /--from/);
  });
});

import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, symlinkSync, writeFileSync } from 'node:fs';
import { createHash } from 'node:crypto';
import path from 'node:path';
import { Readable, Transform } from 'node:stream';
import { after, before, describe, test } from 'node:test';
import { ApplicationFailure } from '@temporalio/common';
import { temporal } from '@temporalio/proto';
import { readManifest } from '../lib/backupSets/catalog';
import { defaultDeps } from '../activities/deps';
import { createDataDirectoryBackupActivities } from '../activities/dataDirectory/dataDirectoryBackup';
import type { StorageBackend } from '../lib/storage/backend';
import { LocalDirectoryStorage } from '../lib/storage/local';
import { rabbitNode } from '../lib/nodeAccess/hosts';
import type { RabbitvaultConfig } from '../config/schema';
import { progressQuery } from '../common/progress';
import type { BackupDataDirectoryResult } from '../contracts/dataDirectory';
import { appRunning, dataConfig, fillQueues, localTaskQueue, nodeQueues, startDataHarness, waitForCounts } from './dataDirectory.support';
import { failureOf, startHarness, workflowId } from './support/harness';
import { scratchDir, testNode } from './support/stack';
import { killHard, spawnWorker, writeConfigFile } from './support/workerProcess';
import { alive } from './support/processes';

const a = testNode(0);
const b = testNode(1);
const quick = { heartbeatTimeoutSeconds: 5, retry: { initialIntervalSeconds: 0.2, maximumIntervalSeconds: 1, maximumAttempts: 2 } };
const stagingOf = (node: { dir: string; nodeName: string }) => path.join(node.dir, 'mnesia', `${node.nodeName}.rabbitvault-staging`);

// A 1 MiB tmpfs (needs root): a staging directory far too small for any data directory.
function tinyFilesystem(): { dir: string; unmount: () => void } | null {
  const dir = scratchDir('tiny-staging');
  try {
    execFileSync('mount', ['-t', 'tmpfs', '-o', 'size=1m', 'tmpfs', dir], { stdio: 'ignore' });
  } catch {
    return null;
  }
  return { dir, unmount: () => execFileSync('umount', [dir]) };
}

// Node a's tools taken from cli instead (stand-ins written by a test): rabbitmqctl and
// rabbitmq-diagnostics (the latter found beside rabbitmqctl), or rabbitmq-server.
function withCli(base: RabbitvaultConfig, cli: string, tool: 'rabbitmqctl' | 'rabbitmqServer' = 'rabbitmqctl'): RabbitvaultConfig {
  const node = base.clusters.c!.nodes[0]!;
  const file = path.join(cli, tool === 'rabbitmqctl' ? 'rabbitmqctl' : 'rabbitmq-server');
  return { ...base, clusters: { c: { ...base.clusters.c!, nodes: [{ ...node, access: { ...node.access, [tool]: file } }] } } } as RabbitvaultConfig;
}

// The real local storage, with uploads cut after `cutAfter` bytes or slowed per chunk.
function faultyStorage(config: RabbitvaultConfig, fault: { cutAfter?: number; delayMsPerChunk?: number }) {
  const real = new LocalDirectoryStorage((config.storage.targets.local as { path: string }).path);
  const faulty: StorageBackend = Object.assign(Object.create(real) as StorageBackend, {
    put(key: string, body: Readable | Buffer) {
      let seen = 0;
      const gate = new Transform({
        transform(chunk: Buffer, _enc, done) {
          seen += chunk.length;
          if (fault.cutAfter !== undefined && seen > fault.cutAfter) return done(new Error(`storage connection reset after ${fault.cutAfter} bytes`));
          if (fault.delayMsPerChunk) setTimeout(() => done(null, chunk), fault.delayMsPerChunk);
          else done(null, chunk);
        },
      });
      const source = Buffer.isBuffer(body) ? Readable.from([body]) : body;
      source.on('error', (e) => gate.destroy(e));
      return real.put(key, source.pipe(gate));
    },
  });
  const deps = { ...defaultDeps(config), openStorage: () => ({ name: 'local', backend: faulty }) };
  return { activityOverrides: { streamDataDirectory: createDataDirectoryBackupActivities(deps).streamDataDirectory }, real };
}

async function eventTypes(handle: { fetchHistory(): Promise<{ events?: unknown[] | null }> }): Promise<string[]> {
  const history = await handle.fetchHistory();
  return (history.events ?? []).map((e) => {
    const ev = e as { eventType?: unknown; activityTaskScheduledEventAttributes?: { activityType?: { name?: string } } };
    const name = ev.activityTaskScheduledEventAttributes?.activityType?.name;
    const type = typeof ev.eventType === 'number' ? temporal.api.enums.v1.EventType[ev.eventType] : String(ev.eventType);
    return `${type}${name ? `:${name}` : ''}`;
  });
}

async function waitForStep(handle: { query: (q: typeof progressQuery) => Promise<{ step: string }> }, step: string, timeoutMs = 60_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if ((await handle.query(progressQuery).catch(() => ({ step: '' }))).step === step) return;
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error(`workflow never reached step "${step}"`);
}

describe('data-directory faults', () => {
  before(async () => {
    await Promise.all([a.reset(), b.reset()]);
    await fillQueues(a, { classic: 100, quorum: 20, size: 10_000 });
  });
  after(async () => {
    for (const node of [a, b]) if (!(await appRunning(node))) await node.ctl(['start_app']);
    await Promise.all([a.reset(), b.reset()]);
  });

  test('storage fails mid-upload of the staged copy: the error is reported, RabbitMQ runs, the staging copy and the partial set are removed', async () => {
    const config = dataConfig([a]);
    const { activityOverrides, real } = faultyStorage(config, { cutAfter: 256 * 1024 });
    const h = await startDataHarness(config, { activityOverrides });
    try {
      const handle = await h.client.workflow.start('backupDataDirectory', { taskQueue: config.temporal.taskQueue, workflowId: workflowId('cut'), args: [{ cluster: 'c', ...quick }] });
      const failure = await failureOf(handle.result());
      assert.equal(failure.type, 'StorageError');
      assert.match(failure.message, /storage connection reset after 262144 bytes/);
      assert.match(failure.message, /RabbitMQ is running; the staging copy is removed/);
      assert.ok(await appRunning(a), 'RabbitMQ is running after the failed backup');
      assert.equal(existsSync(stagingOf(a)), false, 'the staging copy is removed after the failure');
      const events = await eventTypes(handle);
      const failed = events.lastIndexOf('EVENT_TYPE_ACTIVITY_TASK_FAILED');
      assert.ok(events.indexOf('EVENT_TYPE_ACTIVITY_TASK_SCHEDULED:startNodeApp') < events.indexOf('EVENT_TYPE_ACTIVITY_TASK_SCHEDULED:streamDataDirectory'), 'the upload ran after the restart');
      assert.ok(events.indexOf('EVENT_TYPE_ACTIVITY_TASK_SCHEDULED:removeStagedCopy') > failed && failed > 0, 'staging removed after the upload failed');
      assert.ok(events.includes('EVENT_TYPE_ACTIVITY_TASK_SCHEDULED:removeIncompleteSet'), 'the partial set was cleaned up');
      assert.deepEqual(await real.list('c/data-directory/'), [], 'nothing of the partial set is left');
    } finally {
      await h.stop();
    }
  });

  test('the copy of the changes fails while the app is stopped: RabbitMQ is restarted first, then the staging copy is removed', async () => {
    const config = dataConfig([a]);
    const syncStagedCopy = async () => {
      throw ApplicationFailure.create({ message: 'disk failed while copying the changes', type: 'NodeCommandFailed', nonRetryable: true });
    };
    const h = await startDataHarness(config, { activityOverrides: { syncStagedCopy } });
    try {
      const handle = await h.client.workflow.start('backupDataDirectory', { taskQueue: config.temporal.taskQueue, workflowId: workflowId('delta-fails'), args: [{ cluster: 'c', ...quick }] });
      const failure = await failureOf(handle.result());
      assert.match(failure.message, /copying the changes of the data directory of \S+ failed: disk failed while copying the changes; RabbitMQ was restarted \(stopped \d+\.\d s\)/);
      assert.ok(await appRunning(a), 'RabbitMQ is running after the failed backup');
      assert.equal(existsSync(stagingOf(a)), false, 'the staging copy is removed');
      const events = await eventTypes(handle);
      const at = (e: string) => events.indexOf(e);
      const started = at('EVENT_TYPE_ACTIVITY_TASK_SCHEDULED:startNodeApp');
      const restarted = events.indexOf('EVENT_TYPE_ACTIVITY_TASK_COMPLETED', started);
      assert.ok(at('EVENT_TYPE_ACTIVITY_TASK_SCHEDULED:preCopyDataDirectory') < at('EVENT_TYPE_ACTIVITY_TASK_SCHEDULED:stopNodeApp'), 'pre-copied before the stop');
      assert.ok(at('EVENT_TYPE_ACTIVITY_TASK_FAILED') > at('EVENT_TYPE_ACTIVITY_TASK_SCHEDULED:syncStagedCopy') && started > at('EVENT_TYPE_ACTIVITY_TASK_FAILED'), 'start_app after the failure');
      assert.ok(restarted > started && at('EVENT_TYPE_ACTIVITY_TASK_SCHEDULED:removeStagedCopy') > restarted, 'staging removed only once the node runs again');
      assert.ok(!events.includes('EVENT_TYPE_ACTIVITY_TASK_SCHEDULED:streamDataDirectory'), 'nothing uploaded');
      assert.deepEqual(await waitForCounts(a, { 'dd-classic': 100, 'dd-quorum': 20 }), { 'dd-classic': 100, 'dd-quorum': 20 });
    } finally {
      await h.stop();
    }
  });

  test('cancelled while the app is stopped, and the downtime limit: the node is restarted either way', async () => {
    const config = dataConfig([a]);
    const { activityOverrides } = faultyStorage(config, { delayMsPerChunk: 1500 });
    const h = await startDataHarness(config, { activityOverrides });
    try {
      const handle = await h.client.workflow.start('backupDataDirectory', { taskQueue: config.temporal.taskQueue, workflowId: workflowId('cancel'), args: [{ cluster: 'c', copy: 'while-stopped', ...quick }] });
      await waitForStep(handle, 'copying data directory');
      assert.equal(await appRunning(a), false, 'the app is stopped while copying');
      await handle.cancel();
      const outcome = await handle.result().then(() => 'completed', (error: Error) => String((error.cause as Error | undefined)?.name ?? error.name));
      assert.equal(outcome, 'CancelledFailure');
      assert.ok(await appRunning(a), 'RabbitMQ was restarted after the cancellation');
      const events = await eventTypes(handle);
      assert.ok(events.indexOf('EVENT_TYPE_ACTIVITY_TASK_SCHEDULED:startNodeApp') > events.indexOf('EVENT_TYPE_WORKFLOW_EXECUTION_CANCEL_REQUESTED'));

      const limited = await failureOf(
        h.client.workflow
          .execute('backupDataDirectory', { taskQueue: config.temporal.taskQueue, workflowId: workflowId('limit'), args: [{ cluster: 'c', copy: 'while-stopped', ...quick, downtimeLimitSeconds: 1 }] })
          .then((r: unknown) => {
            throw new Error(`completed within the downtime limit: ${JSON.stringify(r)}`);
          }),
      );
      assert.equal(limited.type, 'DowntimeLimitReached');
      assert.match(limited.message, /downtime limit of 1 s reached/);
      assert.ok(await appRunning(a), 'RabbitMQ was restarted at the downtime limit');
    } finally {
      await h.stop();
    }
  });

  test('worker SIGKILLed while the app is stopped: a restarted worker completes, the node is not left stopped (staging too small: copied while stopped)', async (t) => {
    await fillQueues(a, { classic: 150, quorum: 0, size: 1024 * 1024, prefix: 'big' });
    const config = dataConfig([a]);
    // Staging on a 1 MiB file system: the preflight falls back to copying while stopped, and says why.
    const tiny = tinyFilesystem();
    if (tiny) (config.clusters.c!.nodes[0]!.access as { stagingDirectory?: string }).stagingDirectory = path.join(tiny.dir, 'staging');
    else t.diagnostic('no tmpfs mount (not root): copy: while-stopped given explicitly, the fallback is not checked');
    const file = writeConfigFile(config, path.join(scratchDir('sigkill'), 'rabbitvault.yaml'));
    const env = { RABBITVAULT_NODE_QUEUES: nodeQueues(config).join(',') };
    let worker = await spawnWorker(file, env);
    const { Client, Connection } = await import('@temporalio/client');
    const connection = await Connection.connect({ address: config.temporal.address });
    try {
      const client = new Client({ connection, namespace: config.temporal.namespace });
      const handle = await client.workflow.start('backupDataDirectory', {
        taskQueue: config.temporal.taskQueue,
        workflowId: workflowId('sigkill'),
        args: [{ cluster: 'c', ...quick, ...(tiny ? {} : { copy: 'while-stopped' }), downtimeLimitSeconds: 120, retry: { initialIntervalSeconds: 0.2, maximumAttempts: 5 } }],
      });
      await waitForStep(handle, 'copying data directory', 120_000);
      await killHard(worker);
      const stoppedWhileDead = !(await appRunning(a));
      worker = await spawnWorker(file, env);
      const result = (await handle.result()) as BackupDataDirectoryResult;
      assert.ok(await appRunning(a), 'RabbitMQ runs after the restarted worker finished');
      assert.ok(result.nodes[0]!.stopWindow.seconds < 120, `stopped ${result.nodes[0]!.stopWindow.seconds} s, within the downtime limit`);
      const manifest = await readManifest(new LocalDirectoryStorage((config.storage.targets.local as { path: string }).path), `c/data-directory/${result.setId}`);
      assert.equal(manifest.artifacts.length, 1, 'exactly one complete artifact');
      assert.ok(stoppedWhileDead, 'the kill landed while the app was stopped');
      assert.equal(result.nodes[0]!.copy, 'while-stopped');
      if (tiny) assert.match(result.nodes[0]!.copyNote ?? '', new RegExp(`^staging needs \\d+\\.\\d MiB, 1\\.0 MiB free at ${tiny.dir}$`));
    } finally {
      await killHard(worker);
      await connection.close();
      tiny?.unmount();
    }
    await a.ctl(['delete_queue', 'big-classic']);
    await a.ctl(['delete_queue', 'big-quorum']);
  });

  test('an attempt that times out has its node commands stopped before the retry starts', async () => {
    // rabbitmqctl and rabbitmq-diagnostics that hang: each starts a child that
    // outlives it unless its whole process group is stopped, records it, and
    // notes any earlier one still running when it starts (an attempt beside its retry).
    const cli = scratchDir('hanging-cli');
    const pids = path.join(cli, 'pids');
    const overlaps = path.join(cli, 'overlaps');
    const running = `state=$(cut -d' ' -f3 /proc/$p/stat 2>/dev/null); [ -n "$state" ] && [ "$state" != Z ]`;
    for (const tool of ['rabbitmqctl', 'rabbitmq-diagnostics']) {
      const script = `#!/bin/sh\nfor p in $(cat ${pids} 2>/dev/null); do if ${running}; then echo $p >> ${overlaps}; fi; done\nsleep 60 &\necho $! >> ${pids}\nwait\n`;
      writeFileSync(path.join(cli, tool), script, { mode: 0o755 });
    }
    const config = withCli(dataConfig([a]), cli);
    const h = await startDataHarness(config);
    const recorded = () => (existsSync(pids) ? readFileSync(pids, 'utf8').trim().split('\n').filter(Boolean).map(Number) : []);
    try {
      const attempts = 3;
      const handle = await h.client.workflow.start('backupDataDirectory', {
        taskQueue: config.temporal.taskQueue,
        workflowId: workflowId('attempt-timeout'),
        // The worker stops a command at the attempt's deadline counted from when the step
        // began there, a moment after the server's start: the 1 s backoff (the default is 2 s)
        // leaves room for that moment on a loaded machine.
        args: [{ cluster: 'c', heartbeatTimeoutSeconds: 5, retry: { initialIntervalSeconds: 1, maximumIntervalSeconds: 1, maximumAttempts: attempts, attemptTimeoutSeconds: 2 } }],
      });
      const failure = await failureOf(handle.result());
      assert.match(failure.message, /preflight of .+ failed: .*timeout.*nothing was stopped/i);
      assert.equal(recorded().length, attempts, `one hanging command per attempt: ${recorded().join(', ')}`);
      // The last attempt's command too, at its own deadline (it has no retry to race).
      for (const deadline = Date.now() + 5000; recorded().some(alive) && Date.now() < deadline; ) await new Promise((r) => setTimeout(r, 100));
      assert.deepEqual(recorded().filter(alive), [], 'every timed-out attempt\'s command (and its child) is stopped');
      assert.equal(existsSync(overlaps) ? readFileSync(overlaps, 'utf8').trim() : '', '', 'no attempt started while an earlier one\'s command ran');
    } finally {
      for (const pid of recorded()) if (alive(pid)) process.kill(pid, 'SIGKILL');
      await h.stop();
    }
  });

  test('a start_app slower than the heartbeat timeout: the step heartbeats through it in one attempt', async () => {
    // The real CLI, with start_app held 4 s (several heartbeat timeouts): a step
    // that heartbeats less often than its timeout is cancelled as silent, its
    // start_app stopped with it, and every retry ends the same way.
    const cli = scratchDir('slow-start-cli');
    const real = '/usr/lib/rabbitmq/bin';
    writeFileSync(path.join(cli, 'rabbitmqctl'), `#!/bin/sh\ncase " $* " in *" start_app "*) sleep 4;; esac\nexec ${real}/rabbitmqctl "$@"\n`, { mode: 0o755 });
    writeFileSync(path.join(cli, 'rabbitmq-diagnostics'), `#!/bin/sh\nexec ${real}/rabbitmq-diagnostics "$@"\n`, { mode: 0o755 });
    const config = withCli(dataConfig([a]), cli);
    const h = await startDataHarness(config);
    try {
      const handle = await h.client.workflow.start('backupDataDirectory', {
        taskQueue: config.temporal.taskQueue,
        workflowId: workflowId('slow-start'),
        args: [{ cluster: 'c', copy: 'while-stopped', heartbeatTimeoutSeconds: 1.5, nodeStartTimeoutSeconds: 20, retry: { initialIntervalSeconds: 0.2, maximumIntervalSeconds: 1, maximumAttempts: 2 } }],
      });
      const outcome = await handle.result().then(
        () => 'completed',
        (error: Error) => `failed: ${(error.cause as Error | undefined)?.message ?? error.message}`,
      );
      const { events } = await handle.fetchHistory();
      const startNodeApp = new Set((events ?? []).filter((e) => e.activityTaskScheduledEventAttributes?.activityType?.name === 'startNodeApp').map((e) => String(e.eventId)));
      const attempts = (events ?? []).filter((e) => e.activityTaskStartedEventAttributes && startNodeApp.has(String(e.activityTaskStartedEventAttributes.scheduledEventId))).map((e) => e.activityTaskStartedEventAttributes!.attempt);
      const timedOut = (events ?? []).filter((e) => e.activityTaskTimedOutEventAttributes && startNodeApp.has(String(e.activityTaskTimedOutEventAttributes.scheduledEventId)));
      assert.equal(outcome, 'completed');
      assert.deepEqual({ attempts, timedOut: timedOut.length }, { attempts: [1], timedOut: 0 }, 'start_app waited out in its first attempt');
      assert.ok(await appRunning(a), 'RabbitMQ runs');
    } finally {
      if (!(await appRunning(a))) await a.ctl(['start_app']);
      await h.stop();
    }
  });

  test('a VM that answers only seconds after rabbitmq-server -detached returns: the start waits for it', async () => {
    // On a loaded host a new VM registers its node name seconds after -detached
    // returns, and await_startup before that fails as unreachable: in CI every
    // VM start after a worker kill lost an attempt to it. The stand-in starts the
    // real VM 5 s after it returns.
    const cli = scratchDir('late-vm');
    const server = '/usr/lib/rabbitmq/bin/rabbitmq-server';
    writeFileSync(path.join(cli, 'rabbitmq-server'), `#!/bin/sh\ncd ${a.dir}\n( sleep 5; exec ${server} "$@" ) </dev/null >/dev/null 2>&1 &\n`, { mode: 0o755 });
    const config = withCli(dataConfig([a]), cli, 'rabbitmqServer');
    const node = rabbitNode(config, 'c', a.nodeName);
    await node.stopVm();
    try {
      assert.equal(await node.vmRunning(), false, 'the VM is down before the start');
      const began = Date.now();
      await node.startApp();
      assert.ok(Date.now() - began >= 5000, 'the start waited for the late VM');
      assert.ok(await appRunning(a), 'RabbitMQ runs');
    } finally {
      // A failed start leaves the late VM booting: wait for it before starting one.
      for (let i = 0; i < 30 && !(await a.isRunning()); i += 1) await new Promise((r) => setTimeout(r, 1000));
      if (!(await a.isRunning())) await a.start();
    }
  });

  test('corrupted, truncated and malicious archives are refused before the node is stopped', async () => {
    const config = dataConfig([a]);
    const h = await startDataHarness(config);
    const root = (config.storage.targets.local as { path: string }).path;
    const local = new LocalDirectoryStorage(root);
    try {
      const good = (await h.client.workflow.execute('backupDataDirectory', { taskQueue: config.temporal.taskQueue, workflowId: workflowId('good'), args: [{ cluster: 'c', ...quick }] })) as BackupDataDirectoryResult;
      const goodPrefix = `c/data-directory/${good.setId}`;
      const manifest = await readManifest(local, goodPrefix);
      const artifactName = manifest.artifacts[0]!.name;
      const goodBytes = readFileSync(local.locate(`${goodPrefix}/${artifactName}`));
      const work = scratchDir('evil');
      const zstdTar = (args: string[], cwd: string) => execFileSync('zstd', ['-q', '-c'], { input: execFileSync('tar', ['-cf', '-', ...args], { cwd }) });
      mkdirSync(path.join(work, 'tree'));
      writeFileSync(path.join(work, 'tree', 'file'), 'x');
      writeFileSync(path.join(work, 'evil-file'), 'x');
      symlinkSync('../../../../etc', path.join(work, 'tree', 'escape'));
      const cases: Array<[string, Buffer, RegExp, boolean]> = [
        ['dot-dot', zstdTar(['-P', '../evil-file'], path.join(work, 'tree')), /contains "\.\."/, true],
        ['absolute', zstdTar(['-P', path.join(work, 'tree', 'file')], work), /absolute path/, true],
        ['symlink', zstdTar(['-C', path.join(work, 'tree'), '.'], work), /symlink .*escape/, true],
        ['truncated', goodBytes.subarray(0, Math.floor(goodBytes.length / 2)), /corrupted or truncated|truncated/, true],
        ['corrupted', Buffer.concat([goodBytes.subarray(0, 1000), Buffer.from('garbage'), goodBytes.subarray(1007)]), /SHA-256/, false],
      ];
      for (const [label, bytes, expected, forgeChecksums] of cases) {
        const setId = `${good.setId.slice(0, 16)}-${createHash('sha256').update(label).digest('hex').slice(0, 8)}`;
        const prefix = `c/data-directory/${setId}`;
        mkdirSync(local.locate(prefix), { recursive: true });
        writeFileSync(local.locate(`${prefix}/${artifactName}`), bytes);
        const sha = (buf: Buffer) => createHash('sha256').update(buf).digest('hex');
        const forged = structuredClone(manifest);
        forged.setId = setId;
        if (forgeChecksums) {
          forged.artifacts[0] = { ...forged.artifacts[0]!, size: bytes.length, sha256: sha(bytes) };
          (forged.details as { nodes: Array<{ artifact: unknown }> }).nodes[0]!.artifact = forged.artifacts[0];
        }
        writeFileSync(local.locate(`${prefix}/manifest.json`), JSON.stringify(forged));
        const handle = await h.client.workflow.start('restoreDataDirectory', { taskQueue: config.temporal.taskQueue, workflowId: workflowId(`evil-${label}`), args: [{ cluster: 'c', from: setId, ...quick }] });
        const failure = await failureOf(handle.result());
        assert.match(failure.message, expected, `${label}: ${failure.message}`);
        assert.match(failure.message, /nothing was changed/, label);
        assert.ok(!(await eventTypes(handle)).includes('EVENT_TYPE_ACTIVITY_TASK_SCHEDULED:stopNodeApp'), `${label}: the node was never stopped`);
      }
      assert.ok(await appRunning(a));
      assert.deepEqual(await waitForCounts(a, { 'dd-classic': 100, 'dd-quorum': 20 }), { 'dd-classic': 100, 'dd-quorum': 20 });
    } finally {
      await h.stop();
    }
  });

  test('restore to a node with another name is refused with the reason and the alternative', async () => {
    const config = dataConfig([a]);
    const other = dataConfig([b]);
    const merged = { ...config, clusters: { ...config.clusters, other: other.clusters.c! } } as RabbitvaultConfig;
    const h = await startDataHarness(merged);
    const hb = await startHarness(merged, { taskQueue: localTaskQueue(other.clusters.c!.nodes[0]!) });
    try {
      await h.client.workflow.execute('backupDataDirectory', { taskQueue: merged.temporal.taskQueue, workflowId: workflowId('src'), args: [{ cluster: 'c', ...quick }] });
      const handle = await h.client.workflow.start('restoreDataDirectory', {
        taskQueue: merged.temporal.taskQueue,
        workflowId: workflowId('other-name'),
        args: [{ cluster: 'other', sourceCluster: 'c', from: 'latest', ...quick }],
      });
      const failure = await failureOf(handle.result());
      assert.equal(failure.type, 'DataDirectoryRestoreRefused');
      assert.match(failure.message, new RegExp(`the set has no data directory of node ${b.nodeName.replace(/[.]/g, '\\.')}`));
      assert.match(failure.message, /same node name and data-directory path/);
      assert.match(failure.message, /restore definitions and messages instead/);
      assert.ok(!(await eventTypes(handle)).includes('EVENT_TYPE_ACTIVITY_TASK_SCHEDULED:stopNodeApp'));
      assert.ok(await appRunning(b));
    } finally {
      await hb.stop();
      await h.stop();
    }
  });
});

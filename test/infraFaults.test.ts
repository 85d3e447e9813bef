// Issue 13, part 5: infrastructure faults beyond a cut connection. MinIO and
// the Temporal server here are the test's own (own port, own data), killed
// with SIGKILL and started again on the same port and data; the stack's
// shared ones are never touched.
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { execFileSync } from 'node:child_process';
import { closeSync, existsSync, openSync, readdirSync, readFileSync, statfsSync, writeSync } from 'node:fs';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { after, before, describe, test } from 'node:test';
import { CreateBucketCommand, ListMultipartUploadsCommand, ListObjectsV2Command, S3Client } from '@aws-sdk/client-s3';
import { Client, Connection, WorkflowFailedError, type WorkflowHandle } from '@temporalio/client';
import { NativeConnection } from '@temporalio/worker';
import type { ChannelModel } from 'amqplib';
import { RabbitvaultConfig } from '../config/schema';
import type { BackupMessagesResult } from '../contracts/messages';
import type { VerifyBackupResult } from '../contracts/backupSets';
import { listSets } from '../lib/backupSets/catalog';
import { storageOpener } from '../lib/storage/openStorage';
import { createWorker } from '../workers/createWorker';
import { MINIO_ROOT_PASSWORD, MINIO_ROOT_USER, startMinio, type RunningMinio } from '../scripts/devstack/minio';
import { freePort } from '../scripts/devstack/ports';
import { startTemporalDevServer, type RunningTemporal } from '../scripts/devstack/temporal';
import { depth, numbered, openAmqp, publishAll, type FixtureMessage } from '../bench/messages/amqpFixtures';
import { appRunning } from './dataDirectory.support';
import { clusterEntry, failureOf, startHarness, testConfig, workflowId } from './support/harness';
import { declareQueue, rabbitApi } from './support/rabbitHttp';
import { scratchDir, testNode, testStack } from './support/stack';
import { alive } from './support/processes';

const a = testNode(0);
const SET_ID = /\d{8}T\d{6}Z-[0-9a-f]{8}/;

// Incompressible bodies: what is read is what is uploaded, byte for byte after gzip.
function* randomMessages(count: number, size: number): Generator<FixtureMessage> {
  for (let i = 0; i < count; i++) yield { body: randomBytes(size), options: { persistent: true, messageId: String(i) } };
}

async function until(check: () => boolean | Promise<boolean>, what: string, timeoutMs = 120_000, everyMs = 50): Promise<void> {
  const end = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await sleep(everyMs);
  }
}

// The pid of the one process whose command line names `marker` (our MinIO's own data directory).
function pidWith(marker: string): number {
  const pids = readdirSync('/proc').filter((p) => /^\d+$/.test(p) && p !== String(process.pid));
  const found = pids.filter((p) => {
    try {
      return readFileSync(`/proc/${p}/cmdline`, 'utf8').split('\0').includes(marker);
    } catch {
      return false;
    }
  });
  assert.equal(found.length, 1, `exactly one process runs with ${marker}`);
  return Number(found[0]);
}

// Every file under dir, relative.
function filesUnder(dir: string): string[] {
  if (!existsSync(dir)) return [];
  return readdirSync(dir, { recursive: true, withFileTypes: true })
    .filter((e) => !e.isDirectory())
    .map((e) => path.relative(dir, path.join(e.parentPath, e.name)));
}

// Attempts per activity type, from a workflow's history.
async function attemptsOf(handle: WorkflowHandle): Promise<Map<string, number[]>> {
  const events = (await handle.fetchHistory()).events ?? [];
  const typeOf = new Map<string, string>();
  const attempts = new Map<string, number[]>();
  for (const e of events) {
    const scheduled = e.activityTaskScheduledEventAttributes;
    if (scheduled) typeOf.set(String(e.eventId), scheduled.activityType?.name ?? '?');
    const started = e.activityTaskStartedEventAttributes;
    if (started) {
      const type = typeOf.get(String(started.scheduledEventId)) ?? '?';
      attempts.set(type, [...(attempts.get(type) ?? []), started.attempt ?? 1]);
    }
  }
  return attempts;
}

describe('infrastructure faults (issue 13, part 5)', () => {
  let amqp: ChannelModel;
  before(async () => {
    amqp = await openAmqp(a.amqpUrl);
  });
  after(async () => {
    await amqp?.close();
  });

  test('MinIO SIGKILLed mid-upload and started again: the step starts over, one complete set that verifies, nothing torn', async (t) => {
    const N = 400;
    const queue = `infra.minio.${randomBytes(3).toString('hex')}`;
    await declareQueue(a, '/', queue);
    await publishAll(amqp, queue, randomMessages(N, 100 * 1024));

    const port = await freePort();
    const home = scratchDir('own-minio');
    const dataDir = path.join(home, 'data');
    const logFile = path.join(home, 'minio.log');
    let minio: RunningMinio = await startMinio({ port, dataDir, logFile });
    const bucket = 'infra-faults';
    const s3 = new S3Client({ endpoint: minio.endpoint, forcePathStyle: true, region: 'us-east-1', credentials: { accessKeyId: MINIO_ROOT_USER, secretAccessKey: MINIO_ROOT_PASSWORD } });
    await s3.send(new CreateBucketCommand({ Bucket: bucket }));
    const base = testConfig({ a: clusterEntry(a) });
    const config = RabbitvaultConfig.parse({
      ...base,
      storage: {
        default: 'own',
        targets: {
          own: { type: 's3', bucket, endpoint: minio.endpoint, forcePathStyle: true, accessKeyId: `value:${MINIO_ROOT_USER}`, secretAccessKey: `value:${MINIO_ROOT_PASSWORD}`, partSizeMiB: 5 },
        },
      },
    });
    const h = await startHarness(config);
    try {
      const handle = await h.client.workflow.start('backupMessages', {
        taskQueue: config.temporal.taskQueue,
        workflowId: workflowId('minio-kill'),
        // Retries often and long enough to outlast MinIO's absence.
        args: [{ cluster: 'a', queues: [queue], segmentMiB: 16, idleSeconds: 1, heartbeatTimeoutSeconds: 10, retry: { initialIntervalSeconds: 0.5, maximumIntervalSeconds: 1, maximumAttempts: 100, attemptTimeoutSeconds: 120 } }],
      });
      // Mid-upload: a segment's multipart upload is open in MinIO, and no manifest exists.
      const openUploads = async () => (await s3.send(new ListMultipartUploadsCommand({ Bucket: bucket }))).Uploads ?? [];
      await until(async () => (await openUploads()).length > 0, 'a multipart upload under way', 120_000, 20);
      const pid = pidWith(dataDir);
      process.kill(pid, 'SIGKILL');
      await until(() => !alive(pid), 'MinIO to die', 10_000);
      const read = N - (await depth(amqp, queue));
      t.diagnostic(`MinIO SIGKILLed with a multipart upload open and ${read} of ${N} messages (100 KiB each) delivered to the backup, unacked`);
      assert.equal(existsSync(path.join(dataDir, bucket, 'a', 'messages')) && filesUnder(path.join(dataDir, bucket, 'a', 'messages')).some((f) => f.includes('manifest.json')), false, 'killed before any manifest');
      await sleep(3000);
      minio = await startMinio({ port, dataDir, logFile });

      const result = (await handle.result()) as BackupMessagesResult;
      assert.deepEqual([result.totals.messages, result.totals.difference, result.storage], [N, 0, 'own']);
      const attempts = (await attemptsOf(handle)).get('backupQueueMessages') ?? [];
      assert.ok(Math.max(...attempts) > 1, `the step cut by the kill was retried (attempts ${attempts.join(', ')})`);

      // The product's own verification: every artifact's bytes against the manifest.
      const report = (await h.client.workflow.execute('verifyBackup', {
        taskQueue: config.temporal.taskQueue,
        workflowId: workflowId('minio-verify'),
        args: [{ cluster: 'a', component: 'messages', set: result.setId, storage: 'own' }],
      })) as VerifyBackupResult;
      assert.equal(report.ok, true, JSON.stringify(report.problems));

      // Exactly one set, complete; every object in the bucket is its manifest or an artifact it lists.
      const backend = storageOpener(config)('own').backend;
      const sets = await listSets(backend, { cluster: 'a' });
      assert.deepEqual(
        sets.map((s) => [s.setId, s.complete]),
        [[result.setId, true]],
      );
      const manifest = sets[0]!.manifest!;
      assert.equal(report.artifactsChecked, manifest.artifacts.length);
      const listed = new Set([`a/messages/${result.setId}/manifest.json`, ...manifest.artifacts.map((x) => `a/messages/${result.setId}/${x.name}`)]);
      const objects = (await s3.send(new ListObjectsV2Command({ Bucket: bucket }))).Contents ?? [];
      assert.deepEqual(
        objects.map((o) => o.Key).filter((k) => !listed.has(k!)),
        [],
        'no object outside the manifest',
      );
      assert.equal(objects.length, listed.size);
      // Parts of an upload the kill cut are invisible to readers (never an object, so never in a manifest): only counted.
      const uploads = (await s3.send(new ListMultipartUploadsCommand({ Bucket: bucket }))).Uploads ?? [];
      t.diagnostic(`multipart uploads left unfinished by the kill: ${uploads.length}${uploads.length ? ` (${uploads.map((u) => u.Key).join(', ')})` : ''}`);

      assert.equal(await depth(amqp, queue), N, 'the copy gave every message back');
      assert.ok(await appRunning(a), 'RabbitMQ runs');
    } finally {
      await h.stop();
      s3.destroy();
      await minio.stop();
      await rabbitApi(a, 'DELETE', `/api/queues/%2F/${encodeURIComponent(queue)}`);
    }
  });

  describe('a local target that fills up', () => {
    let dir: string;
    before(() => {
      dir = scratchDir('tiny-target');
      // We run as root (docs/testing.md): a failed mount fails the tests, it never skips them.
      execFileSync('mount', ['-t', 'tmpfs', '-o', 'size=1m', 'tmpfs', dir], { stdio: 'pipe' });
    });
    after(() => {
      if (dir) execFileSync('umount', [dir]);
    });

    const tinyConfig = () => {
      const base = testConfig({ a: clusterEntry(a) });
      return RabbitvaultConfig.parse({ ...base, storage: { default: 'tiny', targets: { ...base.storage.targets, tiny: { type: 'local', path: dir } } } });
    };
    const fullMessage = (key: RegExp) =>
      new RegExp(`storage target "tiny" \\(local directory ${dir.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}\\) is full: no space left on device writing ${key.source} \\(\\d+(\\.\\d)? (bytes|KiB) free of 1\\.0 MiB\\); free space there or point the target elsewhere, then run it again`);

    test('messages: one non-retried StorageError naming the target, its path and the free space; the partial set removed; the queues intact', async () => {
      const small = `fill.a.${randomBytes(3).toString('hex')}`;
      const big = `fill.b.${randomBytes(3).toString('hex')}`;
      await declareQueue(a, '/', small);
      await declareQueue(a, '/', big);
      await publishAll(amqp, small, randomMessages(20, 16 * 1024));
      await publishAll(amqp, big, randomMessages(160, 16 * 1024));
      const config = tinyConfig();
      const h = await startHarness(config);
      try {
        const handle = await h.client.workflow.start('backupMessages', {
          taskQueue: config.temporal.taskQueue,
          workflowId: workflowId('full-disk'),
          args: [{ cluster: 'a', queues: [small, big], segmentMiB: 0.125, idleSeconds: 1, heartbeatTimeoutSeconds: 10, retry: { initialIntervalSeconds: 0.2, maximumIntervalSeconds: 0.5, maximumAttempts: 5, attemptTimeoutSeconds: 60 } }],
        });
        const failure = await failureOf(handle.result());
        assert.equal(failure.type, 'StorageError', failure.message);
        const setId = SET_ID.exec(failure.message)?.[0];
        assert.ok(setId, failure.message);
        assert.match(failure.message, new RegExp(`^backing up queue "${big.replace(/\./g, '\\.')}" in vhost "/" failed: `));
        assert.match(failure.message, fullMessage(new RegExp(`a/messages/${setId}/q0001-\\d{6}\\.rvseg\\.gz`)));
        assert.match(failure.message, new RegExp(`; the partial set ${dir.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}/a/messages/${setId} was removed \\(\\d+ objects\\)$`));
        assert.equal(failure.message.split('is full').length, 2, 'one error, said once');

        const attempts = await attemptsOf(handle);
        assert.deepEqual(attempts.get('backupQueueMessages'), [1, 1], 'the full disk was not retried');
        assert.deepEqual(attempts.get('removeIncompleteSet'), [1], 'the partial set removed once');
        assert.deepEqual(filesUnder(dir), [], 'nothing of the set is left in the target');
        assert.equal(existsSync(path.join(dir, 'a', 'messages', setId)), false, 'not even its folder');
        const fs = statfsSync(dir);
        assert.ok(fs.bavail / fs.blocks > 0.95, 'the space is free again');

        assert.deepEqual([await depth(amqp, small), await depth(amqp, big)], [20, 160], 'a copy takes nothing off the queues');
        assert.ok(await appRunning(a), 'RabbitMQ runs');
      } finally {
        await h.stop();
        for (const q of [small, big]) await rabbitApi(a, 'DELETE', `/api/queues/%2F/${encodeURIComponent(q)}`);
      }
    });

    test('definitions: a target already full fails at once naming it, and leaves no set folder behind', async () => {
      // Fill the filesystem to the last block.
      const filler = path.join(dir, 'filler');
      const fd = openSync(filler, 'w');
      try {
        const block = Buffer.alloc(4096, 1);
        for (;;) writeSync(fd, block);
      } catch (error) {
        assert.equal((error as NodeJS.ErrnoException).code, 'ENOSPC');
      } finally {
        closeSync(fd);
      }
      const config = tinyConfig();
      const h = await startHarness(config);
      try {
        const handle = await h.client.workflow.start('backupDefinitions', {
          taskQueue: config.temporal.taskQueue,
          workflowId: workflowId('full-disk-definitions'),
          args: [{ cluster: 'a', retry: { initialIntervalSeconds: 0.2, maximumIntervalSeconds: 0.5, maximumAttempts: 5, attemptTimeoutSeconds: 60 } }],
        });
        const failure = await failureOf(handle.result());
        assert.equal(failure.type, 'StorageError', failure.message);
        assert.match(failure.message, /^exporting definitions of cluster a failed: /);
        assert.match(failure.message, fullMessage(new RegExp(`a/definitions/${SET_ID.source}/definitions\\.json`)));
        const attempts = await attemptsOf(handle);
        assert.deepEqual(attempts.get('exportDefinitions'), [1], 'not retried');
        assert.deepEqual(attempts.get('removeIncompleteSet'), [1], 'what the failed put left (its folder) removed');
        assert.deepEqual(filesUnder(dir), ['filler'], 'nothing of the set is left in the target');
        assert.deepEqual(readdirSync(path.join(dir, 'a', 'definitions')), [], 'no set folder left');
        assert.ok(await appRunning(a), 'RabbitMQ runs');
      } finally {
        await h.stop();
        execFileSync('rm', ['-f', filler]);
      }
    });
  });

  test('the Temporal server SIGKILLed mid-workflow and started again on its database: the worker reconnects and the workflow completes', async (t) => {
    const QUEUES = 6;
    const PER_QUEUE = 3000;
    const queues = Array.from({ length: QUEUES }, (_, i) => `infra.temporal.${i}.${randomBytes(2).toString('hex')}`);
    for (const q of queues) {
      await declareQueue(a, '/', q);
      await publishAll(amqp, q, numbered(PER_QUEUE, 1024));
    }
    const port = await freePort();
    const home = scratchDir('own-temporal');
    const dbFile = path.join(home, 'temporal.db');
    const logFile = path.join(home, 'temporal.log');
    let server: RunningTemporal = await startTemporalDevServer({ port, dbFile, logFile });
    const base = testConfig({ a: clusterEntry(a) });
    // Its own server has only the default namespace.
    const config = RabbitvaultConfig.parse({ ...base, temporal: { ...base.temporal, address: server.address, namespace: 'default' } });
    const nativeConnection = await NativeConnection.connect({ address: server.address });
    const worker = await createWorker({ config, connection: nativeConnection, workflowBundlePath: testStack().workflowBundlePath });
    let workerError: unknown;
    const running = worker.run().catch((error: unknown) => {
      workerError = error;
    });
    const connection = await Connection.connect({ address: server.address });
    try {
      const client = new Client({ connection });
      const id = workflowId('temporal-kill');
      await client.workflow.start('backupMessages', {
        taskQueue: config.temporal.taskQueue,
        workflowId: id,
        args: [{ cluster: 'a', queues, segmentMiB: 0.25, idleSeconds: 1, heartbeatTimeoutSeconds: 5, retry: { initialIntervalSeconds: 0.5, maximumIntervalSeconds: 2, maximumAttempts: 50, attemptTimeoutSeconds: 120 } }],
      });
      // Mid-workflow: the second queue is being read.
      const local = config.storage.targets.local;
      assert.ok(local?.type === 'local');
      await until(() => filesUnder(local.path).some((f) => f.includes('q0001-')), 'the second queue to be under way');
      const killedAt = Date.now();
      server.process.kill('SIGKILL');
      await until(() => server.process.exitCode !== null || server.process.signalCode !== null, 'the Temporal server to die', 10_000);
      await sleep(2000);
      server = await startTemporalDevServer({ port, dbFile, logFile });
      const backAt = Date.now();
      t.diagnostic(`Temporal server down ${((backAt - killedAt) / 1000).toFixed(1)} s`);

      // The client's own connection may have been reset: a fresh one reads the result.
      const result = await resultAfterRestart<BackupMessagesResult>(server.address, id);
      assert.deepEqual([result.totals.queues, result.totals.messages, result.totals.difference], [QUEUES, QUEUES * PER_QUEUE, 0]);
      assert.equal(workerError, undefined, `the worker kept running: ${String(workerError)}`);
      assert.equal(worker.getState(), 'RUNNING');

      const checker = new Client({ connection: await Connection.connect({ address: server.address }) });
      try {
        const events = (await checker.workflow.getHandle(id).fetchHistory()).events ?? [];
        const time = (e: (typeof events)[number]) => Number(e.eventTime?.seconds ?? 0) * 1000 + Math.floor((e.eventTime?.nanos ?? 0) / 1e6);
        const completedBefore = events.filter((e) => e.activityTaskCompletedEventAttributes && time(e) < killedAt).length;
        const done = events.find((e) => e.workflowExecutionCompletedEventAttributes);
        assert.ok(done && time(done) >= backAt - 1000, 'completed after the server was back');
        assert.ok(completedBefore < QUEUES + 2, `the kill landed mid-workflow (${completedBefore} steps done before it)`);
        t.diagnostic(`${completedBefore} steps completed before the kill, ${events.filter((e) => e.activityTaskCompletedEventAttributes).length} in all`);
        const report = (await checker.workflow.execute('verifyBackup', {
          taskQueue: config.temporal.taskQueue,
          workflowId: workflowId('temporal-verify'),
          args: [{ cluster: 'a', component: 'messages', set: result.setId }],
        })) as VerifyBackupResult;
        assert.equal(report.ok, true, JSON.stringify(report.problems));
      } finally {
        await checker.connection.close();
      }
      for (const q of queues) assert.equal(await depth(amqp, q), PER_QUEUE);
      assert.ok(await appRunning(a), 'RabbitMQ runs');
    } finally {
      if (worker.getState() === 'RUNNING') worker.shutdown();
      await running;
      await nativeConnection.close();
      await connection.close();
      await server.stop();
      for (const q of queues) await rabbitApi(a, 'DELETE', `/api/queues/%2F/${encodeURIComponent(q)}`);
    }
  });
});

// The workflow's result, through connections opened after the restart (retried while the server settles).
async function resultAfterRestart<T>(address: string, id: string): Promise<T> {
  const end = Date.now() + 120_000;
  for (;;) {
    const connection = await Connection.connect({ address }).catch(() => undefined);
    try {
      if (connection) return (await new Client({ connection }).workflow.getHandle(id).result()) as T;
    } catch (error) {
      if (error instanceof WorkflowFailedError || Date.now() > end) throw error;
    } finally {
      await connection?.close();
    }
    if (Date.now() > end) throw new Error(`no result of ${id} within 120 s of the restart`);
    await sleep(1000);
  }
}

import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { cpSync, existsSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { Readable } from 'node:stream';
import { after, before, describe, test } from 'node:test';
import type { WorkflowHandle } from '@temporalio/client';
import type { ChannelModel } from 'amqplib';
import { defaultDeps, type ActivityDeps } from '../activities/deps';
import { createMessageActivities } from '../activities/messages';
import { readQueue } from '../lib/messages/queueReader';
import { createMessageRestoreActivities } from '../activities/messages/messagesRestore';
import { fingerprint } from '../lib/messages/segmentFormat';
import { OpenSegment, type StoredSegment } from '../lib/messages/segmentWriter';
import { scanSegment, segmentRefusal } from '../lib/messages/storedSegments';
import type { StorageBackend } from '../lib/storage/backend';
import { LocalDirectoryStorage } from '../lib/storage/local';
import { newSetId } from '../common/names';
import type { BackupMessagesResult } from '../contracts/messages';
import { depth, numbered, openAmqp, peekAll, publishAll } from '../bench/messages/amqpFixtures';
import * as hostile from './fixtures/hostile/segments';
import { clusterEntry, failureOf, startHarness, testConfig, workflowId, type Harness } from './support/harness';
import { declareQueue, rabbitApi } from './support/rabbitHttp';
import { scratchDir, testNode } from './support/stack';

const a = testNode(0);
const b = testNode(1);
// Short retries: a failure that is wrongly retryable shows up as attempt > 1 within seconds.
const fast = { heartbeatTimeoutSeconds: 5, retry: { initialIntervalSeconds: 0.2, maximumIntervalSeconds: 0.5, maximumAttempts: 3, attemptTimeoutSeconds: 120 } };
const SEGMENT = 'q0000-000000.rvseg.gz';
const MiB = 1024 * 1024;

const sha256 = (bytes: Buffer) => createHash('sha256').update(bytes).digest('hex');

// Storage as the message activities see it: every key they read is recorded,
// and `swapped` keys return other bytes (a segment replaced after verification).
function watchedStorage(deps: ActivityDeps, reads: string[], swapped?: Map<string, Buffer>): ActivityDeps['openStorage'] {
  return (name) => {
    const opened = deps.openStorage(name);
    const real = opened.backend;
    const backend: StorageBackend = Object.create(real) as StorageBackend;
    backend.get = async (key) => {
      reads.push(key);
      const swap = swapped?.get(key);
      return swap ? Readable.from([swap]) : real.get(key);
    };
    return { name: opened.name, backend };
  };
}

describe('hostile message segments and queue indexes (issue 10, class 4)', () => {
  let h: Harness;
  let ca: ChannelModel;
  let cb: ChannelModel;
  let root: string;
  let baseSet: string;
  const reads: string[] = [];
  const swapped = new Map<string, Buffer>();

  before(async () => {
    await Promise.all([a.reset(), b.reset()]);
    const config = testConfig({ a: clusterEntry(a), b: clusterEntry(b) });
    const local = config.storage.targets.local;
    assert.ok(local?.type === 'local');
    root = local.path;
    const deps = defaultDeps(config);
    const watched = { ...deps, openStorage: watchedStorage(deps, reads) };
    const swapping = { ...deps, openStorage: watchedStorage(deps, reads, swapped) };
    h = await startHarness(config, {
      activityOverrides: { ...createMessageActivities(watched), restoreQueueMessages: createMessageRestoreActivities(swapping).restoreQueueMessages },
    });
    [ca, cb] = await Promise.all([openAmqp(a.amqpUrl), openAmqp(b.amqpUrl)]);
    await declareQueue(a, '/', 'hostile.src');
    await publishAll(ca, 'hostile.src', numbered(20, 64));
    const backup = (await h.client.workflow.execute('backupMessages', {
      taskQueue: h.config.temporal.taskQueue,
      workflowId: workflowId('hostile-base'),
      args: [{ ...fast, cluster: 'a', queues: ['hostile.src'] }],
    })) as BackupMessagesResult;
    assert.deepEqual([backup.totals.messages, backup.queues[0]!.segments], [20, 1], 'one segment to forge from');
    baseSet = backup.setId;
  });
  after(async () => {
    await Promise.all([ca.close(), cb.close()]);
    await h.stop();
  });

  const setDir = (setId: string) => path.join(root, 'a', 'messages', setId);

  // A copy of the valid set, forged the way someone who can write storage
  // would: the manifest's sizes and checksums rewritten to match.
  function forge(edit: { segment?: hostile.ForgedSegment; index?: (index: hostile.ForgeableIndex) => unknown }): string {
    const setId = newSetId(new Date(), randomBytes(4).toString('hex'));
    const dir = setDir(setId);
    cpSync(setDir(baseSet), dir, { recursive: true });
    const index = JSON.parse(readFileSync(path.join(dir, 'queues.json'), 'utf8')) as hostile.ForgeableIndex;
    const manifest = JSON.parse(readFileSync(path.join(dir, 'manifest.json'), 'utf8')) as { setId: string; artifacts: Array<{ name: string; size: number; sha256: string }> };
    const rewrite = (name: string, bytes: Buffer) => {
      writeFileSync(path.join(dir, name), bytes);
      const artifact = manifest.artifacts.find((x) => x.name === name)!;
      Object.assign(artifact, { size: bytes.length, sha256: sha256(bytes) });
      return artifact;
    };
    if (edit.segment) {
      const artifact = rewrite(SEGMENT, edit.segment.bytes);
      const queue = index.queues[0]!;
      queue.segments[0] = { artifact, messages: edit.segment.messages, bodyBytes: edit.segment.bodyBytes };
      Object.assign(queue, { messages: edit.segment.messages, bodyBytes: edit.segment.bodyBytes });
    }
    rewrite('queues.json', Buffer.from(JSON.stringify(edit.index ? edit.index(index) : index)));
    manifest.setId = setId;
    writeFileSync(path.join(dir, 'manifest.json'), JSON.stringify(manifest));
    return setId;
  }

  async function restore(setId: string, toQueue: string): Promise<{ failure: { message: string; type?: string }; attempts: number; ms: number }> {
    const started = Date.now();
    const handle: WorkflowHandle = await h.client.workflow.start('restoreMessages', {
      taskQueue: h.config.temporal.taskQueue,
      workflowId: workflowId('hostile-restore'),
      args: [{ ...fast, cluster: 'b', sourceCluster: 'a', from: setId, toQueue }],
    });
    const failure = await failureOf(handle.result());
    const ms = Date.now() - started;
    const attempts = (await handle.fetchHistory()).events?.map((e) => e.activityTaskStartedEventAttributes?.attempt ?? 0) ?? [];
    return { failure, attempts: Math.max(...attempts), ms };
  }

  async function queueExists(name: string): Promise<boolean> {
    return rabbitApi(b, 'GET', `/api/queues/%2F/${encodeURIComponent(name)}`).then(
      () => true,
      (error: Error) => (/404/.test(error.message) ? false : Promise.reject(error)),
    );
  }

  const malformed: Array<[string, () => hostile.ForgedSegment, RegExp]> = [
    ['a huge record bomb', hostile.hugeRecordBomb, /record 1 declares 4294967295 bytes, more than the \d+ the index leaves room for/],
    ['a body beyond the index (bomb)', hostile.bodyBeyondIndexBomb, /record 1 declares 104857611 bytes, more than the \d+ the index leaves room for \(10 body bytes/],
    ['a truncated record', hostile.truncatedRecord, /segment ends inside record 2 \(33 of the 38 bytes it declares\)/],
    ['an exchange name overrunning its record', hostile.exchangeOverrun, /record 1: exchange name at offset 2 runs past the end of the 27-byte record/],
    ['properties overrunning one frame', hostile.propertiesOverrun, /record 1: properties declare 1048576 bytes, more than the 131052/],
    ['a body length not adding up', hostile.bodyLengthMismatch, /record 1: body declares 20 bytes, but the record has 17 left/],
    ['properties that are not AMQP', hostile.malformedProperties, /record 1: properties are not AMQP basic properties \(headers value has unknown field type 0x5a\)/],
    ['a bad magic', hostile.badMagic, /not a rabbitvault message segment \(bad magic\)/],
    ['trailing garbage after the records', hostile.trailingGarbage, /segment ends inside the length of record 3/],
    ['trailing garbage after the gzip', hostile.garbageAfterGzip, /not valid gzip \(incorrect header check\)/],
    ['records smuggled beyond the index', hostile.smuggledRecords, /record 2 is beyond the 1 messages the index lists/],
  ];
  for (const [label, generate, reason] of malformed) {
    test(`a segment with ${label} is refused, SegmentMalformed, before the target is touched, not retried`, async () => {
      const setId = forge({ segment: generate() });
      const toQueue = `hostile.${label.replace(/\W+/g, '-')}`;
      const { failure, attempts } = await restore(setId, toQueue);
      assert.equal(failure.type, 'SegmentMalformed', failure.message);
      assert.match(failure.message, new RegExp(`^checking the message segments failed: backup set a/messages/${setId}, segment ${SEGMENT.replace(/\./g, '\\.')}: `));
      assert.match(failure.message, reason);
      assert.match(failure.message, /the target was not touched$/);
      assert.equal(attempts, 1, 'not retried');
      assert.equal(await queueExists(toQueue), false, 'nothing declared on the target');
    });
  }

  test('a gzip bomb (1 GiB of zeros behind a 4 GiB record) stops at the record header: memory stays flat', async () => {
    const bombs = [hostile.hugeRecordBomb(), hostile.bodyBeyondIndexBomb()];
    assert.ok(bombs.every((x) => x.bytes.length < 2 * MiB), 'small on disk');
    const sets = bombs.map((segment) => forge({ segment }));
    const baseline = process.memoryUsage().rss;
    let peak = baseline;
    const sampler = setInterval(() => (peak = Math.max(peak, process.memoryUsage().rss)), 10);
    try {
      for (const setId of sets) {
        const { failure, ms } = await restore(setId, 'hostile.bomb');
        assert.equal(failure.type, 'SegmentMalformed');
        assert.ok(ms < 30_000, `refused in ${ms} ms`);
      }
    } finally {
      clearInterval(sampler);
    }
    assert.ok(peak - baseline < 64 * MiB, `RSS grew by ${((peak - baseline) / MiB).toFixed(1)} MiB`);
  });

  test('a segment swapped in storage after verification: refused before its first message, zero published', async () => {
    const setId = forge({});
    await declareQueue(b, '/', 'hostile.swap');
    const swap = hostile.swappedSegment(20);
    swapped.set(`a/messages/${setId}/${SEGMENT}`, swap.bytes);
    try {
      const { failure, attempts } = await restore(setId, 'hostile.swap');
      assert.equal(failure.type, 'SegmentCorrupt', failure.message);
      // Size is compared first, then SHA-256: either way the swapped bytes are named as not the indexed ones.
      assert.match(failure.message, new RegExp(`backup set a/messages/${setId}, segment ${SEGMENT.replace(/\./g, '\\.')}: (is ${swap.bytes.length} bytes, the index lists \\d+|has SHA-256 ${sha256(swap.bytes)}, the index lists [0-9a-f]{64})`));
      assert.match(failure.message, /nothing was declared or published on the target; no earlier queue of this restore was published$/);
      assert.equal(attempts, 1, 'not retried');
    } finally {
      swapped.clear();
    }
    assert.equal(await depth(cb, 'hostile.swap'), 0, 'not one message published');
  });

  test('queues.json naming a segment outside the storage root is refused before any segment is read', async () => {
    const escape = '../../../../hostile-sentinel.rvseg.gz';
    const setId = forge({ index: (index) => hostile.traversalIndex(index, escape) });
    // A valid segment where the name points: publishing it would show.
    const sentinel = path.resolve(setDir(setId), escape);
    assert.ok(!sentinel.startsWith(`${root}${path.sep}`), 'the sentinel lies outside the storage root');
    writeFileSync(sentinel, hostile.swappedSegment(20).bytes);
    const before = statSync(sentinel).mtimeMs;
    reads.length = 0;
    const { failure, attempts } = await restore(setId, 'hostile.traversal');
    assert.equal(failure.type, 'ManifestInvalid', failure.message);
    assert.match(failure.message, new RegExp(`backup set a/messages/${setId}, queues\\.json: `));
    assert.match(failure.message, new RegExp(`queues\\.0\\.segments\\.0\\.artifact\\.name: must be q0000-000000\\.rvseg\\.gz \\(segment 0 of queue 0\\), not "\\.\\./\\.\\./\\.\\./\\.\\./hostile-sentinel\\.rvseg\\.gz"`));
    assert.match(failure.message, /the target was not touched$/);
    assert.equal(attempts, 1);
    assert.deepEqual(reads.filter((key) => key.includes('hostile-sentinel')), [], 'the named file was never opened');
    assert.deepEqual(reads, [`a/messages/${setId}/queues.json`], 'only the index was read by the message steps');
    assert.ok(existsSync(sentinel) && statSync(sentinel).mtimeMs === before);
    assert.equal(await queueExists('hostile.traversal'), false);
  });

  test('queues.json with wrong types is refused with every bad field named', async () => {
    const setId = forge({ index: hostile.wrongTypesIndex });
    const { failure, attempts } = await restore(setId, 'hostile.types');
    assert.equal(failure.type, 'ManifestInvalid', failure.message);
    assert.match(failure.message, new RegExp(`backup set a/messages/${setId}, queues\\.json: `));
    for (const field of ['queues.0.mode', 'queues.0.depthAtStart', 'queues.0.messages']) assert.ok(failure.message.includes(`${field}: `), `${field} named in: ${failure.message}`);
    assert.equal(attempts, 1);
    assert.equal(await queueExists('hostile.types'), false);
  });

  test('the untouched copy of the set still restores (the forging harness itself is sound)', async () => {
    const setId = forge({});
    const result = (await h.client.workflow.execute('restoreMessages', {
      taskQueue: h.config.temporal.taskQueue,
      workflowId: workflowId('hostile-control'),
      args: [{ ...fast, cluster: 'b', sourceCluster: 'a', from: setId, toQueue: 'hostile.control' }],
    })) as { totals: { confirmed: number } };
    assert.equal(result.totals.confirmed, 20);
    assert.deepEqual((await peekAll(cb, 'hostile.control')).map((m) => m.properties.messageId), Array.from({ length: 20 }, (_, i) => String(i)));
  });

  test('drain resume re-reads its own last segment through the same bounded parser', async () => {
    const backend = new LocalDirectoryStorage(scratchDir('hostile-scan'));
    await backend.put(`p/${SEGMENT}`, hostile.hugeRecordBomb().bytes);
    const error = await scanSegment(backend, 'p', SEGMENT, true, 8000).then(
      () => assert.fail('scanned a bomb'),
      (e: unknown) => e,
    );
    const failure = segmentRefusal('p', SEGMENT, error, 'the drain cannot resume from it');
    assert.equal(failure?.type, 'SegmentMalformed');
    assert.equal(failure?.nonRetryable, true);
    assert.match(failure?.message ?? '', /segment q0000-000000\.rvseg\.gz: record 1 declares 4294967295 bytes, more than the 134349301-byte cap/);
  });

  describe('drain dedupe after a crash with an uncertain last segment', () => {
    const tick = { body: Buffer.from('tick'), options: { contentType: 'text/plain' } };

    // The fingerprint the queue's copies of `tick` have, learnt from one that is then purged.
    async function tickFingerprint(queue: string): Promise<string> {
      await publishAll(ca, queue, [tick]);
      const [m] = await peekAll(ca, queue);
      await rabbitApi(a, 'DELETE', `/api/queues/%2F/${queue}/contents`);
      return fingerprint({ redelivered: false, exchange: m!.exchange, routingKey: m!.routingKey, properties: m!.rawProperties, body: m!.body });
    }

    async function drain(queue: string, uncertain: string[]) {
      const model = await openAmqp(a.amqpUrl);
      const backend = new LocalDirectoryStorage(scratchDir('hostile-dedupe'));
      const stored: StoredSegment[] = [];
      let next = 0;
      try {
        const result = await readQueue({
          model,
          channel: await model.createChannel(),
          queue,
          mode: 'drain',
          isStream: false,
          isQuorum: false,
          depth: 3,
          idleMs: 1000,
          segmentBytes: MiB,
          uncertain,
          openSegment: () => new OpenSegment(backend, 'set', 0, next++),
          onStored: (s) => stored.push(s),
          onProgress: () => undefined,
        });
        return { result, storedMessages: stored.reduce((n, s) => n + s.messages, 0) };
      } finally {
        await model.close();
      }
    }

    test('byte-identical fresh messages (ack of the segment had reached the broker) are stored, not acked away', async () => {
      await declareQueue(a, '/', 'dedupe.fresh');
      const fp = await tickFingerprint('dedupe.fresh');
      await publishAll(ca, 'dedupe.fresh', [tick, tick, tick]);
      const { result, storedMessages } = await drain('dedupe.fresh', [fp, fp, fp]);
      assert.deepEqual([result.duplicatesSkipped, storedMessages], [0, 3], 'never delivered before, so stored');
      assert.equal(await depth(ca, 'dedupe.fresh'), 0, 'acked once stored');
    });

    test('the same messages coming back redelivered (ack lost with the crash) are recognised and not stored twice', async () => {
      await declareQueue(a, '/', 'dedupe.back');
      const fp = await tickFingerprint('dedupe.back');
      await publishAll(ca, 'dedupe.back', [tick, tick, tick]);
      assert.equal((await peekAll(ca, 'dedupe.back')).length, 3, 'delivered once, unacked: they come back redelivered');
      const { result, storedMessages } = await drain('dedupe.back', [fp, fp, fp]);
      assert.deepEqual([result.duplicatesSkipped, storedMessages], [3, 0]);
      assert.equal(await depth(ca, 'dedupe.back'), 0);
    });
  });
});

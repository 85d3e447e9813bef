import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import type { ChannelModel } from 'amqplib';
import type { RabbitvaultConfig } from '../config/schema';
import type { BackupMessagesResult, RestoreMessagesResult } from '../contracts/messages';
import { depth, numbered, openAmqp, peekAll, publishAll, type FixtureMessage } from '../bench/messages/amqpFixtures';
import { clusterEntry, failureOf, startHarness, testConfig, workflowId, type Harness } from './support/harness';
import { declareQueue, rabbitApi } from './support/rabbitHttp';
import { startPartialListingProxy } from './support/partialListingProxy';
import { testNode } from './support/stack';

const a = testNode(0);
const b = testNode(1);

function fidelityMessages(): FixtureMessage[] {
  const allBytes = Buffer.from(Array.from({ length: 256 }, (_, i) => i));
  const big = Buffer.alloc(16 * 1024 * 1024);
  for (let i = 0; i < big.length; i += 4096) big.writeUInt32BE(i, i);
  return [
    { body: allBytes, options: { contentType: 'application/octet-stream', contentEncoding: 'identity', deliveryMode: 2, priority: 3, correlationId: 'corr-1', replyTo: 'billing.replies', expiration: '86400000', messageId: 'm-1', timestamp: 1764028800, type: 'order.created', userId: 'guest', appId: 'billing' } },
    { body: Buffer.alloc(0), options: { headers: {} } },
    { body: big, options: { persistent: true } },
    {
      body: Buffer.from('ünïcødé ✓ 日本語 🐇', 'utf8'),
      options: {
        headers: {
          'x-ünï': 'çødé ✓ 🐇',
          nested: { list: [1, 'two', { three: [true, null, 2.5] }], deep: { deeper: { deepest: 'yes' } } },
          int32: { '!': 'int32', value: 7 },
          int64: { '!': 'int64', value: 2 ** 40 },
          ts: { '!': 'timestamp', value: 1764028800 },
          dec: { '!': 'decimal', value: { places: 2, digits: 12345 } },
          bytes: Buffer.from([0, 255, 1, 254]),
        },
      },
    },
  ];
}

describe('message backup and restore', () => {
  let h: Harness;
  let ca: ChannelModel;
  let cb: ChannelModel;
  const run = <T>(type: string, input: unknown) =>
    h.client.workflow.execute(type, { taskQueue: h.config.temporal.taskQueue, workflowId: workflowId(type), args: [input] }) as Promise<T>;

  before(async () => {
    await Promise.all([a.reset(), b.reset()]);
    h = await startHarness(testConfig({ a: clusterEntry(a), b: clusterEntry(b) }));
    [ca, cb] = await Promise.all([openAmqp(a.amqpUrl), openAmqp(b.amqpUrl)]);
  });
  after(async () => {
    await Promise.all([ca.close(), cb.close()]);
    await h.stop();
  });

  test('copy backup keeps every message in place, bit for bit, and a restore into another node and queue reproduces them', async () => {
    await declareQueue(a, '/', 'fidelity');
    await publishAll(ca, 'fidelity', fidelityMessages());
    const before = await peekAll(ca, 'fidelity');
    assert.equal(before.length, 4);

    const backup = await run<BackupMessagesResult>('backupMessages', { cluster: 'a', queues: ['fidelity'], segmentMiB: 4 });
    assert.equal(backup.totals.messages, 4);
    assert.deepEqual(backup.queues.map((q) => [q.queue, q.depthAtStart, q.captured, q.difference]), [['fidelity', 4, 4, 0]]);
    assert.ok(backup.queues[0]!.segments >= 2, 'a 16 MiB body closes a 4 MiB segment');

    const still = await peekAll(ca, 'fidelity');
    assert.deepEqual(still.map((m) => [m.body, m.rawProperties]), before.map((m) => [m.body, m.rawProperties]), 'copy gave every message back in order');

    const restored = await run<RestoreMessagesResult>('restoreMessages', { cluster: 'b', sourceCluster: 'a', from: backup.setId, toQueue: 'fidelity.copy' });
    assert.deepEqual([restored.totals.published, restored.totals.confirmed, restored.queues[0]!.depthAfter, restored.queues[0]!.declared], [4, 4, 4, true]);
    const after = await peekAll(cb, 'fidelity.copy');
    assert.equal(after.length, 4);
    for (const [i, m] of after.entries()) {
      assert.ok(m.body.equals(before[i]!.body), `body ${i} byte for byte`);
      assert.ok(m.rawProperties.equals(before[i]!.rawProperties), `properties ${i} byte for byte`);
    }
    assert.equal((after[3]!.properties.headers as Record<string, unknown>)['x-ünï'], 'çødé ✓ 🐇');
  });

  test('drain moves the messages out; restore puts them back in order', async () => {
    await declareQueue(a, '/', 'drained', { 'x-queue-type': 'quorum' });
    await publishAll(ca, 'drained', numbered(3000, 200));
    const backup = await run<BackupMessagesResult>('backupMessages', { cluster: 'a', queues: ['drain*'], mode: 'drain', segmentMiB: 0.1 });
    assert.deepEqual([backup.totals.messages, backup.totals.difference], [3000, 0]);
    assert.ok(backup.queues[0]!.segments > 3);
    assert.equal(await depth(ca, 'drained'), 0);
    const restored = await run<RestoreMessagesResult>('restoreMessages', { cluster: 'a', from: 'latest' });
    assert.equal(restored.queues[0]!.depthAfter, 3000);
    const back = await peekAll(ca, 'drained');
    assert.deepEqual(back.map((m) => m.properties.messageId), Array.from({ length: 3000 }, (_, i) => String(i)));
  });

  test('copy gives a quorum queue its messages back in order, and reads a stream by offset', async () => {
    await declareQueue(a, '/', 'quorum.copy', { 'x-queue-type': 'quorum' });
    await declareQueue(a, '/', 'stream.copy', { 'x-queue-type': 'stream' });
    await publishAll(ca, 'quorum.copy', numbered(3000, 100));
    await publishAll(ca, 'stream.copy', numbered(500, 100));
    await new Promise((r) => setTimeout(r, 6000)); // the stream's length comes from management stats
    const backup = await run<BackupMessagesResult>('backupMessages', { cluster: 'a', queues: ['quorum.copy', 'stream.copy'] });
    assert.deepEqual(
      backup.queues.map((q) => [q.queue, q.captured, q.difference]),
      [
        ['quorum.copy', 3000, 0],
        ['stream.copy', 500, 0],
      ],
    );
    assert.deepEqual((await peekAll(ca, 'quorum.copy')).map((m) => m.properties.messageId), Array.from({ length: 3000 }, (_, i) => String(i)), 'same order after the copy');
    await declareQueue(b, '/', 'from.stream');
    const restored = await run<RestoreMessagesResult>('restoreMessages', { cluster: 'b', sourceCluster: 'a', from: backup.setId, queues: ['stream.copy'], toQueue: 'from.stream' });
    assert.equal(restored.queues[0]!.depthAfter, 500);
    assert.deepEqual((await peekAll(cb, 'from.stream')).map((m) => m.properties.messageId), Array.from({ length: 500 }, (_, i) => String(i)));
  });

  test('a queue that does not exist is a clear, non-retryable error', async () => {
    const failure = await failureOf(run('backupMessages', { cluster: 'a', queues: ['no.such.queue'] }));
    assert.equal(failure.type, 'QueueNotFound');
    assert.match(failure.message, /queue "no\.such\.queue" does not exist in any vhost of cluster a/);
  });

  test('a queue listing that lacks a durable queue (as for a moment after a node dies) is read again, never taken for the cluster: "all queues" leaves none out and an exact name is found', async () => {
    for (const q of ['listing.kept', 'listing.hidden']) {
      await declareQueue(a, '/', q);
      await publishAll(ca, q, numbered(5, 10));
    }
    const proxy = await startPartialListingProxy(a.options.managementPort, { hide: ['listing.hidden'], times: 2 });
    const base = testConfig({ a: clusterEntry(a) });
    const viaProxy = await startHarness({ ...base, clusters: { a: { ...base.clusters.a!, management: { ...base.clusters.a!.management, url: [proxy.url] } } } } as RabbitvaultConfig);
    try {
      for (const queues of [['listing.*'], ['listing.hidden']]) {
        const handle = await viaProxy.client.workflow.start('backupMessages', { taskQueue: viaProxy.config.temporal.taskQueue, workflowId: workflowId('listing'), args: [{ cluster: 'a', queues, retry: { initialIntervalSeconds: 0.2, maximumIntervalSeconds: 0.5 } }] });
        const result = (await handle.result()) as BackupMessagesResult;
        assert.deepEqual(result.queues.map((q) => q.queue).sort(), queues[0] === 'listing.*' ? ['listing.hidden', 'listing.kept'] : ['listing.hidden']);
        assert.ok(result.queues.every((q) => q.captured === 5), JSON.stringify(result.queues));
        // Retried attempts are not events: the started event of the attempt that
        // completed carries its number and the failure before it.
        const started = ((await handle.fetchHistory()).events ?? []).flatMap((e) => (e.activityTaskStartedEventAttributes ? [e.activityTaskStartedEventAttributes] : []));
        const listingStep = started[0]!;
        assert.equal(listingStep.attempt, queues[0] === 'listing.*' ? 3 : 1, 'the first run met both partial listings; the second none');
        if (queues[0] === 'listing.*') {
          assert.equal(listingStep.lastFailure?.applicationFailureInfo?.type, 'QueueListingIncomplete');
          assert.match(listingStep.lastFailure?.message ?? '', /the queue listing of cluster a lacks 1 durable queue\(s\) its definitions hold \("listing\.hidden" \(vhost "\/"\)\): a node may have just gone down/);
        }
      }
      assert.equal(proxy.partialAnswers(), 2);
    } finally {
      await viaProxy.stop();
      await proxy.close();
    }
  });

  test('copy refuses a quorum queue with a delivery limit, naming it', async () => {
    await declareQueue(a, '/', 'limited', { 'x-queue-type': 'quorum', 'x-delivery-limit': 5 });
    const failure = await failureOf(run('backupMessages', { cluster: 'a', queues: ['limited'] }));
    assert.equal(failure.type, 'CopyWouldDeadLetter');
    assert.match(failure.message, /quorum queue "limited" in vhost "\/" has a delivery limit of 5/);
  });

  test('a target in a disk alarm (its publishers would block) is refused by /api/health/checks before anything is declared or published', async () => {
    await declareQueue(a, '/', 'alarmed');
    await publishAll(ca, 'alarmed', numbered(10, 10));
    const backup = await run<BackupMessagesResult>('backupMessages', { cluster: 'a', queues: ['alarmed'] });
    await b.ctl(['set_disk_free_limit', '100000GB']);
    try {
      const deadline = Date.now() + 30_000;
      while (Date.now() < deadline && !((await rabbitApi(b, 'GET', '/api/nodes')) as Array<{ disk_free_alarm: boolean }>)[0]?.disk_free_alarm) await new Promise((r) => setTimeout(r, 500));
      const failure = await failureOf(run('restoreMessages', { cluster: 'b', sourceCluster: 'a', from: backup.setId, toQueue: 'alarmed.copy' }));
      assert.match(failure.message, /cluster b fails its health checks \(alarms: [^)]*\): nothing was declared or published on queue "alarmed\.copy"/);
      const ch = await cb.createChannel();
      ch.on('error', () => undefined);
      await assert.rejects(ch.checkQueue('alarmed.copy'), /NOT_FOUND/, 'the queue was not declared');
    } finally {
      await b.ctl(['set_disk_free_limit', '50MB']);
    }
  });
});

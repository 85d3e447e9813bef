// Message backup/restore beside the bare references, in one run (issue 4):
//   npm run bench:messages  [-- --messages 100000 --memory-messages 1000000]
import { spawnSync } from 'node:child_process';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { Client, Connection } from '@temporalio/client';
import type { ChannelModel, ConsumeMessage } from 'amqplib';
import type { BackupMessagesResult, RestoreMessagesResult } from '../contracts/messages';
import { depth, openAmqp, publishAll, type FixtureMessage } from './messages/amqpFixtures';
import { autoAckConsumer, cpuSeconds, parallelConsumers, pythonStartupSeconds } from './messages/ceiling';
import { ensurePythonPika, rssBytes, startMessageBenchStack, type MessageBenchStack } from './messages/stack';

const { values } = parseArgs({ options: { messages: { type: 'string', default: '100000' }, 'memory-messages': { type: 'string', default: '1000000' } } });
const N = Number(values.messages);
const MEMORY_N = Number(values['memory-messages']);

// 1 KiB persistent bodies of printable ASCII (the guide's script decodes bodies as text).
function* kib(count: number): Generator<FixtureMessage> {
  const alphabet = 'abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789';
  let seed = 12345;
  for (let i = 0; i < count; i++) {
    const body = Buffer.allocUnsafe(1024);
    for (let j = 0; j < 1024; j++) {
      seed = (seed * 1103515245 + 12345) & 0x7fffffff;
      body[j] = alphabet.charCodeAt(seed % alphabet.length);
    }
    yield { body, options: { persistent: true, contentType: 'text/plain', messageId: String(i) } };
  }
}

// The guide's "Option C" script, verbatim except where it connects (our isolated node, not the machine's broker) and its queue.
const guideScript = (port: number, queue: string) => `#!/usr/bin/env python3
import pika
import json

connection = pika.BlockingConnection(pika.ConnectionParameters('127.0.0.1', ${port}))
channel = connection.channel()

messages = []
for method_frame, properties, body in channel.consume('${queue}', auto_ack=False):
    messages.append({
        'body': body.decode(),
        'properties': {
            'content_type': properties.content_type,
            'delivery_mode': properties.delivery_mode,
            'headers': properties.headers
        }
    })
    channel.basic_ack(method_frame.delivery_tag)
    if method_frame.delivery_tag >= 1000:  # Limit
        break

with open('messages_backup.json', 'w') as f:
    json.dump(messages, f, indent=2)

connection.close()
`;

async function timed<T>(fn: () => Promise<T>): Promise<{ seconds: number; value: T }> {
  const start = process.hrtime.bigint();
  const value = await fn();
  return { seconds: Number(process.hrtime.bigint() - start) / 1e9, value };
}

async function bareConsumer(model: ChannelModel, queue: string, count: number): Promise<void> {
  const ch = await model.createChannel();
  await ch.prefetch(1000);
  let seen = 0;
  await new Promise<void>((resolve) => {
    void ch.consume(queue, (msg: ConsumeMessage | null) => {
      if (!msg) return;
      ch.ack(msg);
      if (++seen === count) resolve();
    });
  });
  await ch.close();
}

async function main(): Promise<void> {
  const python = ensurePythonPika();
  const stack: MessageBenchStack = await startMessageBenchStack();
  const connection = await Connection.connect({ address: stack.config.temporal.address });
  const client = new Client({ connection });
  const amqp = await openAmqp(`amqp://127.0.0.1:${stack.node.options.amqpPort}`);
  const run = <T>(type: string, input: object) =>
    client.workflow.execute(type, { taskQueue: stack.config.temporal.taskQueue, workflowId: `${type}-${Date.now()}`, args: [input] }) as Promise<T>;
  const declare = async (queue: string) => {
    const ch = await amqp.createChannel();
    await ch.assertQueue(queue, { durable: true });
    await ch.close();
  };
  try {
    console.error(`publishing ${N} persistent 1 KiB messages`);
    await declare('bench.rate');
    await publishAll(amqp, 'bench.rate', kib(N));

    // Cores the broker and our worker keep busy meanwhile (CPU seconds over wall seconds; the machine has 2).
    const brokerPid = Number(readFileSync(path.join(stack.node.dir, 'pid'), 'utf8').trim());
    const withCpu = async <T>(pid: number, fn: () => Promise<{ seconds: number; value: T }>) => {
      const before = cpuSeconds(pid);
      const result = await fn();
      return { ...result, cores: (cpuSeconds(pid) - before) / result.seconds };
    };
    const workerBefore = cpuSeconds(stack.worker.pid!);
    const ours = await withCpu(brokerPid, () => timed(() => run<BackupMessagesResult>('backupMessages', { cluster: 'bench', queues: ['bench.rate'] })));
    const oursWorkerCores = (cpuSeconds(stack.worker.pid!) - workerBefore) / ours.seconds;
    if (ours.value.totals.messages !== N || (await depth(amqp, 'bench.rate')) !== N) throw new Error('copy backup did not capture every message or did not give them back');
    const bare = await withCpu(brokerPid, () => timed(() => bareConsumer(amqp, 'bench.rate', N)));

    await declare('bench.pika');
    await publishAll(amqp, 'bench.pika', kib(1001));
    const pikaDir = path.join(stack.runDir, 'pika');
    mkdirSync(pikaDir, { recursive: true });
    writeFileSync(path.join(pikaDir, 'backup.py'), guideScript(stack.node.options.amqpPort, 'bench.pika'));
    const pika = await timed(async () => {
      const r = spawnSync(python, ['backup.py'], { cwd: pikaDir, encoding: 'utf8' });
      if (r.status !== 0) throw new Error(`the guide's script failed: ${r.stderr}`);
    });
    const pikaMessages = 1000;

    // Where the single-queue ceiling is: automatic acks, two consumers sharing the queue, Python's start-up.
    console.error('ceiling: auto-ack consumer, two consumers, Python start-up');
    await declare('bench.auto-ack');
    await publishAll(amqp, 'bench.auto-ack', kib(N));
    const autoAck = await withCpu(brokerPid, () => timed(() => autoAckConsumer(amqp, 'bench.auto-ack', N)));
    await declare('bench.two-consumers');
    await publishAll(amqp, 'bench.two-consumers', kib(N));
    const twoConsumers = await withCpu(brokerPid, () => timed(() => parallelConsumers(`amqp://127.0.0.1:${stack.node.options.amqpPort}`, 'bench.two-consumers', N, 2)));
    const pythonStartup = pythonStartupSeconds(python);

    const restore = await timed(() => run<RestoreMessagesResult>('restoreMessages', { cluster: 'bench', from: ours.value.setId, toQueue: 'bench.restored' }));
    if (restore.value.queues[0]!.depthAfter !== N) throw new Error('restore did not land every message');
    await declare('bench.bare-publish');
    const barePublish = await timed(() => publishAll(amqp, 'bench.bare-publish', kib(N), 2000));

    console.error(`publishing ${MEMORY_N} persistent 1 KiB messages for the memory run`);
    await declare('bench.memory');
    await publishAll(amqp, 'bench.memory', kib(MEMORY_N));
    const pid = stack.worker.pid!;
    const idleRss = rssBytes(pid);
    let peak = idleRss;
    const sampler = setInterval(() => (peak = Math.max(peak, rssBytes(pid))), 50);
    const memory = await timed(() => run<BackupMessagesResult>('backupMessages', { cluster: 'bench', queues: ['bench.memory'] }));
    clearInterval(sampler);
    peak = Math.max(peak, rssBytes(pid));
    if (memory.value.totals.messages !== MEMORY_N) throw new Error(`memory run captured ${memory.value.totals.messages} of ${MEMORY_N}`);

    const rate = (n: number, s: number) => Math.round(n / s);
    const results = {
      date: new Date().toISOString(),
      rabbitmq: 'isolated node of the bench (RabbitMQ 3.10 here)',
      messages: N,
      copyBackup: { seconds: ours.seconds, perSecond: rate(N, ours.seconds), segments: ours.value.queues[0]!.segments, brokerCoresBusy: ours.cores, workerCoresBusy: oursWorkerCores },
      bareConsumer: { seconds: bare.seconds, perSecond: rate(N, bare.seconds), brokerCoresBusy: bare.cores },
      guidePikaScript: {
        messages: pikaMessages,
        seconds: pika.seconds,
        perSecond: rate(pikaMessages, pika.seconds),
        pythonStartupSeconds: pythonStartup,
        // Its consume loop alone, start-up taken off.
        loopPerSecond: rate(pikaMessages, Math.max(1e-3, pika.seconds - pythonStartup)),
      },
      ceiling: {
        autoAckConsumer: { seconds: autoAck.seconds, perSecond: rate(N, autoAck.seconds), brokerCoresBusy: autoAck.cores },
        twoConsumers: { seconds: twoConsumers.seconds, perSecond: rate(N, twoConsumers.seconds), brokerCoresBusy: twoConsumers.cores },
      },
      restore: { seconds: restore.seconds, perSecond: rate(N, restore.seconds) },
      barePublisherWithConfirms: { seconds: barePublish.seconds, perSecond: rate(N, barePublish.seconds) },
      memory: { messages: MEMORY_N, seconds: memory.seconds, perSecond: rate(MEMORY_N, memory.seconds), workerIdleRssMiB: idleRss / 2 ** 20, workerPeakRssMiB: peak / 2 ** 20 },
      ratios: {
        copyVsBareConsumer: ours.seconds ? bare.seconds / ours.seconds : 0,
        copyVsGuidePika: rate(N, ours.seconds) / rate(pikaMessages, pika.seconds),
        // The ceiling for the one above: what the broker delivers to one consumer that stores nothing.
        bareConsumerVsGuidePika: rate(N, bare.seconds) / rate(pikaMessages, pika.seconds),
        autoAckConsumerVsGuidePika: rate(N, autoAck.seconds) / rate(pikaMessages, pika.seconds),
        twoConsumersVsGuidePika: rate(N, twoConsumers.seconds) / rate(pikaMessages, pika.seconds),
        restoreVsBarePublisher: barePublish.seconds / restore.seconds,
      },
      goals: { copyVsBareConsumer: 0.7, copyVsGuidePika: 10, restoreVsBarePublisher: 0.7, workerPeakRssMiB: 256 },
    };
    const out = path.join(__dirname, 'results', `messages-${results.date.slice(0, 10)}.json`);
    mkdirSync(path.dirname(out), { recursive: true });
    writeFileSync(out, `${JSON.stringify(results, null, 2)}\n`);
    const f = (x: number) => x.toFixed(2);
    console.log(`copy backup      ${results.copyBackup.perSecond} msg/s (${f(ours.seconds)} s, whole workflow; broker ${f(ours.cores)} cores busy, worker ${f(oursWorkerCores)})`);
    console.log(`bare consumer    ${results.bareConsumer.perSecond} msg/s (${f(bare.seconds)} s; broker ${f(bare.cores)} cores busy)   ours/bare = ${f(results.ratios.copyVsBareConsumer)} (goal >= 0.7)`);
    console.log(`guide pika       ${results.guidePikaScript.perSecond} msg/s (${pikaMessages} messages, ${f(pika.seconds)} s, whole script; Python start-up ${f(pythonStartup)} s, loop alone ${results.guidePikaScript.loopPerSecond} msg/s)   ours/pika = ${f(results.ratios.copyVsGuidePika)} (goal >= 10)`);
    console.log(`ceiling          bare consumer/pika = ${f(results.ratios.bareConsumerVsGuidePika)}; auto-ack consumer ${results.ceiling.autoAckConsumer.perSecond} msg/s (/pika = ${f(results.ratios.autoAckConsumerVsGuidePika)}; broker ${f(autoAck.cores)} cores); two consumers ${results.ceiling.twoConsumers.perSecond} msg/s (/pika = ${f(results.ratios.twoConsumersVsGuidePika)}; broker ${f(twoConsumers.cores)} cores)`);
    console.log(`restore          ${results.restore.perSecond} msg/s (${f(restore.seconds)} s, whole workflow)`);
    console.log(`bare publisher   ${results.barePublisherWithConfirms.perSecond} msg/s (${f(barePublish.seconds)} s)   ours/bare = ${f(results.ratios.restoreVsBarePublisher)} (goal >= 0.7)`);
    console.log(`memory run       ${MEMORY_N} messages in ${f(memory.seconds)} s; worker RSS idle ${f(results.memory.workerIdleRssMiB)} MiB, peak ${f(results.memory.workerPeakRssMiB)} MiB (goal <= 256)`);
    console.log(`results: ${out}`);
  } finally {
    await amqp.close().catch(() => undefined);
    await connection.close();
    await stack.stop();
  }
}

main().catch((error: unknown) => {
  console.error(error);
  process.exit(1);
});

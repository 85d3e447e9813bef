import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import type { ChannelModel, ConsumeMessage } from 'amqplib';
import { openAmqp } from './amqpFixtures';

// Probes of where the single-queue read rate stops, for the bench's "ceiling"
// lines: what the broker delivers at best, whether more consumers raise it,
// how busy the broker is meanwhile, and how much of the guide script's time
// is Python starting up.

// User + system CPU seconds a process has used so far (/proc/<pid>/stat, clock ticks of 1/100 s).
export function cpuSeconds(pid: number): number {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  // Fields after the command name, which is in parentheses and may hold spaces.
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return (Number(fields[11]) + Number(fields[12])) / 100;
}

// Consumes `count` messages with automatic acks and no prefetch limit: the
// fastest one consumer can be fed, storing nothing (destructive).
export async function autoAckConsumer(model: ChannelModel, queue: string, count: number): Promise<void> {
  const ch = await model.createChannel();
  let seen = 0;
  await new Promise<void>((resolve) => {
    void ch.consume(queue, () => {
      if (++seen === count) resolve();
    }, { noAck: true });
  });
  await ch.close();
}

// `consumers` manual-ack consumers (prefetch 1000), each on its own connection,
// sharing one queue until `count` messages are acked between them.
export async function parallelConsumers(url: string, queue: string, count: number, consumers: number): Promise<void> {
  const models = await Promise.all(Array.from({ length: consumers }, () => openAmqp(url)));
  let seen = 0;
  try {
    await new Promise<void>((resolve) => {
      for (const model of models) {
        void model.createChannel().then(async (ch) => {
          await ch.prefetch(1000);
          await ch.consume(queue, (msg: ConsumeMessage | null) => {
            if (!msg) return;
            ch.ack(msg);
            if (++seen === count) resolve();
          });
        });
      }
    });
  } finally {
    await Promise.all(models.map((m) => m.close().catch(() => undefined)));
  }
}

// Seconds the guide script spends before its first message: the interpreter
// starting and importing what the script imports (best of three).
export function pythonStartupSeconds(python: string): number {
  const samples = [0, 1, 2].map(() => {
    const started = process.hrtime.bigint();
    const r = spawnSync(python, ['-c', 'import pika\nimport json'], { stdio: 'ignore' });
    if (r.status !== 0) throw new Error(`${python} could not import pika`);
    return Number(process.hrtime.bigint() - started) / 1e9;
  });
  return Math.min(...samples);
}

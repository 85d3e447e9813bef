// Issue 14's replication goal, in one run: the rate of a shovel set up by
// rabbitvault (setupReplication's two activities) against one set up by hand
// with the guide's curl body ("Option B"), same nodes, same message count,
// alternating, fresh queues each round. The data path is RabbitMQ's own in both.
//   npm run bench:replication  [-- --messages 50000 --rounds 3]
import { execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { RabbitvaultConfig } from '../config/schema';
import { defaultDeps } from '../activities/deps';
import { createReplicationActivities } from '../activities/replication/replication';
import { freePort } from '../scripts/devstack/ports';
import { IsolatedRabbitNode } from '../scripts/devstack/rabbitmqNode';
import { depth, openAmqp, publishAll, type FixtureMessage } from './messages/amqpFixtures';

const { values } = parseArgs({ options: { messages: { type: 'string', default: '50000' }, rounds: { type: 'string', default: '3' } } });
const N = Number(values.messages);
const ROUNDS = Number(values.rounds);
const PLUGINS = ['rabbitmq_shovel', 'rabbitmq_shovel_management'];

function* kib(count: number): Generator<FixtureMessage> {
  const body = Buffer.alloc(1024, 'x');
  for (let i = 0; i < count; i++) yield { body, options: { persistent: true, messageId: String(i) } };
}

async function node(name: string, dir: string): Promise<IsolatedRabbitNode> {
  const n = new IsolatedRabbitNode({ name, baseDir: dir, amqpPort: await freePort(), managementPort: await freePort(), distPort: await freePort(), plugins: PLUGINS });
  await n.start();
  return n;
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;

async function main(): Promise<void> {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'rabbitvault-bench-replication-'));
  const [src, dst] = [await node(`rv-bench-src-${process.pid}`, dir), await node(`rv-bench-dst-${process.pid}`, dir)];
  try {
    const entry = (n: IsolatedRabbitNode) => ({
      management: { url: n.managementUrl, username: 'guest', password: 'value:guest' },
      amqp: { url: `amqp://127.0.0.1:${n.options.amqpPort}`, username: 'guest', password: 'value:guest' },
    });
    const config = RabbitvaultConfig.parse({ storage: { default: 'local', targets: { local: { type: 'local', path: path.join(dir, 'backups') } } }, clusters: { src: entry(src), dst: entry(dst) } });
    const act = createReplicationActivities(defaultDeps(config));
    const [s, d] = await Promise.all([openAmqp(src.amqpUrl), openAmqp(dst.amqpUrl)]);
    const auth = `Basic ${Buffer.from('guest:guest').toString('base64')}`;
    const api = (n: IsolatedRabbitNode, method: string, p: string, body?: unknown) =>
      fetch(`${n.managementUrl}${p}`, { method, headers: { authorization: auth, 'content-type': 'application/json' }, body: body === undefined ? undefined : JSON.stringify(body) }).then(async (r) => {
        if (!r.ok) throw new Error(`${method} ${p}: ${r.status} ${await r.text()}`);
      });

    // Seconds from the shovel's creation until the destination holds every message.
    async function drain(queue: string, create: () => Promise<void>): Promise<number> {
      await api(src, 'PUT', `/api/queues/%2F/${queue}`, { durable: true });
      await api(dst, 'PUT', `/api/queues/%2F/${queue}`, { durable: true });
      await publishAll(s, queue, kib(N));
      const started = process.hrtime.bigint();
      await create();
      while ((await depth(d, queue)) < N) await new Promise((r) => setTimeout(r, 50));
      return Number(process.hrtime.bigint() - started) / 1e9;
    }

    const samples = { ours: [] as number[], guide: [] as number[] };
    for (let round = 0; round < ROUNDS; round++) {
      for (const side of round % 2 === 0 ? (['ours', 'guide'] as const) : (['guide', 'ours'] as const)) {
        const queue = `bench-${side}-${round}`;
        const seconds = await drain(queue, async () => {
          if (side === 'ours') {
            const targets = await act.prepareReplication({ source: 'src', destination: 'dst', method: 'shovel', vhosts: ['/'], queues: [queue], exchanges: [] });
            await act.configureReplication({ source: 'src', destination: 'dst', method: 'shovel', targets });
          } else {
            // The guide's body: src-uri localhost, dest-uri the backup broker, defaults for the rest.
            await api(src, 'PUT', `/api/parameters/shovel/%2F/guide-${queue}`, {
              value: { 'src-uri': `amqp://guest:guest@127.0.0.1:${src.options.amqpPort}`, 'src-queue': queue, 'dest-uri': `amqp://guest:guest@127.0.0.1:${dst.options.amqpPort}`, 'dest-queue': queue },
            });
          }
        });
        samples[side].push(N / seconds);
        console.log(`round ${round + 1} ${side}: ${N} messages in ${seconds.toFixed(2)} s (${Math.round(N / seconds)} msg/s)`);
      }
      await act.removeReplication({ source: 'src', destination: 'dst' });
    }
    const ours = median(samples.ours);
    const guide = median(samples.guide);
    const result = { date: new Date().toISOString(), rabbitmq: execFileSync('dpkg-query', ['-W', '-f=${Version}', 'rabbitmq-server']).toString(), messages: N, bodyBytes: 1024, rounds: ROUNDS, medianRate: { ours, guide }, ratio: ours / guide, goal: '>= 0.95', goalMet: ours / guide >= 0.95, samples };
    console.log(`\nshovel rate, median of ${ROUNDS}: rabbitvault ${Math.round(ours)} msg/s, the guide's curl ${Math.round(guide)} msg/s, ratio ${(ours / guide).toFixed(3)} (goal >= 0.95: ${result.goalMet ? 'met' : 'NOT met'})`);
    const out = path.join(__dirname, 'results');
    mkdirSync(out, { recursive: true });
    writeFileSync(path.join(out, `replication-${result.date.slice(0, 10)}.json`), `${JSON.stringify(result, null, 2)}\n`);
    await Promise.all([s.close(), d.close()]);
  } finally {
    await Promise.all([src.stop(), dst.stop()]);
    rmSync(dir, { recursive: true, force: true });
  }
}

main().catch((error: unknown) => {
  console.error(error);
  process.exit(1);
});

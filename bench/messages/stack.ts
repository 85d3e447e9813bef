import { spawnSync, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { stringify } from 'yaml';
import { RabbitvaultConfig } from '../../config/schema';
import { ensureWorkerBuilt, spawnCompiledWorker } from '../../cli/compiledWorker';
import { freePort } from '../../scripts/devstack/ports';
import { step } from '../../scripts/devstack/progress';
import { IsolatedRabbitNode } from '../../scripts/devstack/rabbitmqNode';
import { startTemporalDevServer, type RunningTemporal } from '../../scripts/devstack/temporal';

export interface MessageBenchStack {
  runDir: string;
  node: IsolatedRabbitNode;
  config: RabbitvaultConfig;
  worker: ChildProcess;
  stop(): Promise<void>;
}

// The bench's own isolated RabbitMQ node and Temporal dev server on free ports,
// and our production worker as a separate process so its memory can be measured.
export async function startMessageBenchStack(): Promise<MessageBenchStack> {
  const runDir = mkdtempSync(path.join(os.tmpdir(), 'rabbitvault-msgbench-'));
  const node = new IsolatedRabbitNode({ name: `rv-msgbench-${process.pid}`, baseDir: path.join(runDir, 'rabbitmq'), amqpPort: await freePort(), managementPort: await freePort(), distPort: await freePort() });
  let temporal: RunningTemporal | undefined;
  let worker: ChildProcess | undefined;
  const stop = async () => {
    step('bench: tearing the stack down');
    if (worker && worker.exitCode === null) {
      const exited = new Promise((r) => worker!.once('exit', r));
      worker.kill('SIGTERM');
      await Promise.race([exited, new Promise((r) => setTimeout(r, 15_000))]);
      if (worker.exitCode === null) worker.kill('SIGKILL');
    }
    await temporal?.stop().catch(() => undefined);
    await node.stop().catch(() => undefined);
    rmSync(runDir, { recursive: true, force: true });
  };
  try {
    [temporal] = await Promise.all([startTemporalDevServer({ port: await freePort(), logFile: path.join(runDir, 'temporal.log') }), node.start()]);
    const config = RabbitvaultConfig.parse({
      temporal: { address: temporal.address, taskQueue: 'msgbench' },
      storage: { default: 'local', targets: { local: { type: 'local', path: path.join(runDir, 'backups') } } },
      clusters: {
        bench: {
          management: { url: node.managementUrl, username: 'guest', password: 'value:guest' },
          amqp: { url: `amqp://127.0.0.1:${node.options.amqpPort}`, username: 'guest', password: 'value:guest' },
        },
      },
    });
    const configFile = path.join(runDir, 'rabbitvault.yaml');
    writeFileSync(configFile, stringify(config));
    worker = await spawnWorkerProcess(configFile);
    return { runDir, node, config, worker, stop };
  } catch (error) {
    await stop();
    throw error;
  }
}

// The production worker as `rabbitvault worker` runs it: dist/ (built first when stale).
async function spawnWorkerProcess(configFile: string): Promise<ChildProcess> {
  if (!ensureWorkerBuilt().ok) throw new Error('building the worker failed (see above)');
  // Through workers/worker.sh, so its memory settings are what is measured; try
  // others with MALLOC_ARENA_MAX and RABBITVAULT_WORKER_NODE_FLAGS.
  const child = spawnCompiledWorker(['--config', configFile], { stdio: ['ignore', 'ignore', 'pipe'] });
  let stderr = '';
  await new Promise<void>((resolve, reject) => {
    child.stderr!.on('data', (chunk: Buffer) => {
      stderr += chunk.toString();
      if (stderr.includes('worker polling task queue')) resolve();
    });
    child.once('exit', (code) => reject(new Error(`worker exited with ${code}: ${stderr.slice(-2000)}`)));
  });
  return child;
}

// Resident set size of a process now, from /proc (bytes).
export function rssBytes(pid: number): number {
  const line = readFileSync(`/proc/${pid}/status`, 'utf8').split('\n').find((l) => l.startsWith('VmRSS:'));
  return Number(line?.split(/\s+/)[1] ?? 0) * 1024;
}

// Debian's python3-pika for the guide's script, installed the ordinary way when missing.
export function ensurePythonPika(): string {
  const python = '/usr/bin/python3';
  const has = () => spawnSync(python, ['-c', 'import pika'], { stdio: 'ignore' }).status === 0;
  if (has()) return python;
  step('python3-pika missing: installing it with apt-get');
  spawnSync('apt-get', ['update', '-q'], { stdio: 'inherit', env: { ...process.env, DEBIAN_FRONTEND: 'noninteractive' } });
  spawnSync('apt-get', ['install', '-y', '-q', 'python3-pika'], { stdio: 'inherit', env: { ...process.env, DEBIAN_FRONTEND: 'noninteractive' } });
  if (!has()) throw new Error('python3-pika could not be installed: apt-get install python3-pika');
  return python;
}

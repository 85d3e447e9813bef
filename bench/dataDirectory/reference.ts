import { execFileSync, execSync } from 'node:child_process';
import { cpSync, mkdirSync, rmSync } from 'node:fs';
import path from 'node:path';
import type { IsolatedRabbitNode } from '../../scripts/devstack/rabbitmqNode';

const seconds = (from: bigint) => Number(process.hrtime.bigint() - from) / 1e9;

// The floor: reading and compressing the data directory, output thrown away.
export function floorSeconds(dataDir: string, compressor: string): number {
  const t = process.hrtime.bigint();
  execSync(`tar -C '${dataDir}' --sort=name -cf - . | ${compressor} > /dev/null`, { stdio: 'ignore', shell: '/bin/bash' });
  return seconds(t);
}

// The guide's Option B: stop_app; tar czf to a temp file; copy it; start_app.
export async function guideProcedure(node: IsolatedRabbitNode, dataDir: string, workDir: string): Promise<{ stopWindowSeconds: number; totalSeconds: number; bytes: number }> {
  mkdirSync(path.join(workDir, 'copy'), { recursive: true });
  const tmp = path.join(workDir, 'rabbitmq-backup.tar.gz');
  const t = process.hrtime.bigint();
  await node.ctl(['stop_app']);
  execFileSync('tar', ['czf', tmp, '-C', dataDir, '.']);
  cpSync(tmp, path.join(workDir, 'copy', 'rabbitmq-backup.tar.gz'));
  await node.ctl(['start_app']);
  const stopWindowSeconds = seconds(t);
  await node.ctl(['await_startup']);
  const bytes = Number(execFileSync('stat', ['-c', '%s', tmp]).toString().trim());
  rmSync(workDir, { recursive: true, force: true });
  return { stopWindowSeconds, totalSeconds: seconds(t), bytes };
}

// RabbitMQ's own fixed cost of a stop window: stop_app, start_app and
// await_startup with nothing in between (each a rabbitmqctl process, as ours runs them).
export async function bareStopStart(node: IsolatedRabbitNode): Promise<{ stopAppSeconds: number; startAppSeconds: number; awaitStartupSeconds: number; totalSeconds: number }> {
  const t = process.hrtime.bigint();
  await node.ctl(['stop_app'], 300_000);
  const stopAppSeconds = seconds(t);
  const s = process.hrtime.bigint();
  await node.ctl(['start_app'], 300_000);
  const startAppSeconds = seconds(s);
  const w = process.hrtime.bigint();
  await node.ctl(['await_startup'], 300_000);
  const awaitStartupSeconds = seconds(w);
  return { stopAppSeconds, startAppSeconds, awaitStartupSeconds, totalSeconds: seconds(t) };
}

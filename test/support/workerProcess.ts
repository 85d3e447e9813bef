import type { ChildProcess } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { stringify } from 'yaml';
import type { RabbitvaultConfig } from '../../config/schema';
import { ensureWorkerBuilt, spawnCompiledWorker } from '../../cli/compiledWorker';

export function writeConfigFile(config: RabbitvaultConfig, file: string): string {
  writeFileSync(file, stringify(config));
  return file;
}

// The production worker (dist/, built by scripts/setup/build-worker.mjs; a no-op
// when fresh) in its own process, so a test can SIGKILL it.
export async function spawnWorker(configFile: string, env: NodeJS.ProcessEnv = {}): Promise<ChildProcess> {
  const build = ensureWorkerBuilt('pipe');
  if (!build.ok) throw new Error(`building the worker failed: ${build.stderr}`);
  const child = spawnCompiledWorker(['--config', configFile], {
    env: { ...process.env, ...env },
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  await workerPolling(child);
  return child;
}

export function killHard(child: ChildProcess): Promise<void> {
  return new Promise((resolve) => {
    if (child.exitCode !== null || child.signalCode !== null) return resolve();
    child.once('exit', () => resolve());
    child.kill('SIGKILL');
  });
}

// Resolves once a spawned worker process polls its task queue (stderr says so); rejects if it exits first.
export async function workerPolling(child: ChildProcess): Promise<void> {
  let stderr = '';
  await new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`worker did not start within 120 s: ${stderr}`)), 120_000);
    child.stderr!.on('data', (chunk: Buffer) => {
      stderr += chunk.toString();
      if (stderr.includes('worker polling task queue')) {
        clearTimeout(timer);
        resolve();
      }
    });
    child.once('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`worker exited with ${code}: ${stderr}`));
    });
  });
  child.removeAllListeners('exit');
}

import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { stringify } from 'yaml';
import type { RabbitvaultConfig } from '../../config/schema';

const root = path.resolve(__dirname, '..', '..');

export function writeConfigFile(config: RabbitvaultConfig, file: string): string {
  writeFileSync(file, stringify(config));
  return file;
}

// The production worker (dist/, built by scripts/setup/build-worker.mjs; a no-op
// when fresh) in its own process, so a test can SIGKILL it.
export async function spawnWorker(configFile: string, env: NodeJS.ProcessEnv = {}): Promise<ChildProcess> {
  const build = spawnSync(process.execPath, [path.join(root, 'scripts', 'setup', 'build-worker.mjs')], { cwd: root, encoding: 'utf8' });
  if (build.status !== 0) throw new Error(`building the worker failed: ${build.stderr}`);
  const child = spawn(process.execPath, [path.join(root, 'dist', 'workers', 'main.js'), '--config', configFile], {
    cwd: root,
    env: { ...process.env, ...env },
    stdio: ['ignore', 'ignore', 'pipe'],
  });
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
    child.on('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`worker exited with ${code}: ${stderr}`));
    });
  });
  child.removeAllListeners('exit');
  return child;
}

export function killHard(child: ChildProcess): Promise<void> {
  return new Promise((resolve) => {
    if (child.exitCode !== null || child.signalCode !== null) return resolve();
    child.once('exit', () => resolve());
    child.kill('SIGKILL');
  });
}

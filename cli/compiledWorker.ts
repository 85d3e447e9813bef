import { spawn, spawnSync, type ChildProcess, type SpawnOptions } from 'node:child_process';
import { existsSync } from 'node:fs';
import path from 'node:path';

const root = path.resolve(__dirname, '..');
// The production worker's launcher: dist/workers/main.js (built by
// scripts/setup/build-worker.mjs) with the worker's memory settings.
export const WORKER_LAUNCHER = path.join(root, 'workers', 'worker.sh');

// The production worker as a process, on this process's node binary.
export function spawnCompiledWorker(args: string[], options: SpawnOptions = {}): ChildProcess {
  return spawn(WORKER_LAUNCHER, args, { cwd: root, ...options, env: { ...(options.env ?? process.env), RABBITVAULT_NODE: process.execPath } });
}

// Builds dist/ when stale (a no-op when fresh); stderr: where the build's progress goes.
// An image ships dist/ prebuilt and no scripts/ (Dockerfile): nothing to build there.
export function ensureWorkerBuilt(stderr: 'inherit' | 'pipe' = 'inherit'): { ok: boolean; stderr: string } {
  const builder = path.join(root, 'scripts', 'setup', 'build-worker.mjs');
  if (!existsSync(builder)) return { ok: true, stderr: '' };
  const build = spawnSync(process.execPath, [builder], { cwd: root, stdio: ['ignore', 'inherit', stderr], encoding: 'utf8' });
  return { ok: build.status === 0, stderr: build.stderr ?? '' };
}

// `rabbitvault worker` runs the production build (dist/), built or refreshed
// first, in a child process: plain Node keeps the worker's memory down, where
// this CLI runs its TypeScript through tsx.
export async function runCompiledWorker(args: string[]): Promise<number> {
  if (!ensureWorkerBuilt().ok) return 1;
  const child = spawnCompiledWorker(args, { stdio: 'inherit', cwd: process.cwd() });
  // Ctrl-C reaches the child through the terminal's process group; a SIGTERM sent to this process alone is passed on.
  const forward = () => child.kill('SIGTERM');
  process.on('SIGTERM', forward);
  process.on('SIGINT', () => undefined);
  const code = await new Promise<number>((resolve) => child.on('exit', (c, signal) => resolve(c ?? (signal ? 1 : 0))));
  process.off('SIGTERM', forward);
  return code;
}

import { spawn, spawnSync } from 'node:child_process';
import path from 'node:path';

const root = path.resolve(__dirname, '..', '..');

// `rabbitvault worker` runs the production build (dist/), built or refreshed
// first, in a child process: plain Node keeps the worker's memory down, where
// this CLI runs its TypeScript through tsx.
export async function runCompiledWorker(args: string[]): Promise<number> {
  const build = spawnSync(process.execPath, [path.join(root, 'scripts', 'setup', 'build-worker.mjs')], { cwd: root, stdio: 'inherit' });
  if (build.status !== 0) return 1;
  const child = spawn(process.execPath, [path.join(root, 'dist', 'workers', 'main.js'), ...args], { stdio: 'inherit' });
  // Ctrl-C reaches the child through the terminal's process group; a SIGTERM sent to this process alone is passed on.
  const forward = () => child.kill('SIGTERM');
  process.on('SIGTERM', forward);
  process.on('SIGINT', () => undefined);
  const code = await new Promise<number>((resolve) => child.on('exit', (c, signal) => resolve(c ?? (signal ? 1 : 0))));
  process.off('SIGTERM', forward);
  return code;
}

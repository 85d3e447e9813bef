// Installs node_modules on a fresh clone (and after package-lock.json changes),
// with npm's own progress; a warm run costs one stat.
import { spawnSync } from 'node:child_process';
import { existsSync, statSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');
const lock = path.join(root, 'package-lock.json');
const marker = path.join(root, 'node_modules', '.package-lock.json');

const major = Number(process.versions.node.split('.')[0]);
const minor = Number(process.versions.node.split('.')[1]);
if (major < 20 || (major === 20 && minor < 3)) {
  console.error(`rabbitvault: Node.js >= 20.3 is needed (found ${process.versions.node}): install a newer Node.js`);
  process.exit(1);
}

const stale = !existsSync(marker) || statSync(lock).mtimeMs > statSync(marker).mtimeMs;
if (stale) {
  console.error('[rabbitvault] installing npm dependencies (npm ci)');
  const result = spawnSync('npm', ['ci', '--no-audit', '--no-fund'], { cwd: root, stdio: 'inherit' });
  if (result.status !== 0) {
    console.error('rabbitvault: npm ci failed: check the npm registry is reachable and rerun');
    process.exit(1);
  }
}

// workers/worker.sh, the one launcher of the production worker, run as a
// process in a scratch install whose dist/workers/main.js reports what it got.
// (test/metrics.test.ts checks the real worker it starts, through /proc.)
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { copyFileSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, describe, test } from 'node:test';
import { memorySettingsLine } from '../workers/memorySettings';

const install = mkdtempSync(path.join(os.tmpdir(), 'rabbitvault-launcher-'));
after(() => rmSync(install, { recursive: true, force: true }));
mkdirSync(path.join(install, 'workers'));
copyFileSync(path.join(__dirname, '..', 'workers', 'worker.sh'), path.join(install, 'workers', 'worker.sh'));
const launcher = path.join(install, 'workers', 'worker.sh');
const mainJs = path.join(install, 'dist', 'workers', 'main.js');

function launch(env: NodeJS.ProcessEnv, args: string[] = []) {
  const base = Object.fromEntries(Object.entries(process.env).filter(([k]) => k !== 'MALLOC_ARENA_MAX' && k !== 'RABBITVAULT_WORKER_NODE_FLAGS'));
  const r = spawnSync('sh', [launcher, ...args], { env: { ...base, RABBITVAULT_NODE: process.execPath, ...env }, encoding: 'utf8' });
  return { status: r.status, stdout: r.stdout, stderr: r.stderr };
}

describe('the worker launcher (workers/worker.sh)', () => {
  test('without a build it fails with one line that says what to run', () => {
    const r = launch({});
    assert.equal(r.status, 1);
    assert.equal(r.stderr.trim().split('\n').length, 1);
    assert.match(r.stderr, /dist\/workers\/main\.js is missing: run `npm run build`/);
  });

  test('runs dist/workers/main.js with the memory settings, its arguments, and the operator overrides', () => {
    mkdirSync(path.dirname(mainJs), { recursive: true });
    writeFileSync(mainJs, 'console.log(JSON.stringify({ execArgv: process.execArgv, arenas: process.env.MALLOC_ARENA_MAX ?? null, args: process.argv.slice(2) }));\n');
    const defaults = launch({}, ['--config', 'my config.yaml']);
    assert.equal(defaults.status, 0, defaults.stderr);
    assert.deepEqual(JSON.parse(defaults.stdout), { execArgv: ['--max-semi-space-size=4'], arenas: '2', args: ['--config', 'my config.yaml'] });

    const overridden = launch({ MALLOC_ARENA_MAX: '4', RABBITVAULT_WORKER_NODE_FLAGS: '--max-semi-space-size=8 --max-old-space-size=512' });
    assert.deepEqual(JSON.parse(overridden.stdout), { execArgv: ['--max-semi-space-size=8', '--max-old-space-size=512'], arenas: '4', args: [] });

    // Set but empty: V8's defaults.
    assert.deepEqual(JSON.parse(launch({ RABBITVAULT_WORKER_NODE_FLAGS: '' }).stdout).execArgv, []);
  });
});

describe('the start-up line about memory settings', () => {
  test('names what the process got, and what is missing', () => {
    assert.equal(memorySettingsLine({ MALLOC_ARENA_MAX: '2' }, ['--max-semi-space-size=4']), 'memory settings: MALLOC_ARENA_MAX=2 --max-semi-space-size=4');
    assert.equal(memorySettingsLine({ MALLOC_ARENA_MAX: '2', NODE_OPTIONS: '--enable-source-maps --max-semi-space-size=2' }, []), 'memory settings: MALLOC_ARENA_MAX=2 --max-semi-space-size=2');
    assert.match(memorySettingsLine({}, []), /^memory settings: MALLOC_ARENA_MAX and --max-semi-space-size not set \(start the worker with workers\/worker\.sh/);
    assert.match(memorySettingsLine({}, ['--max-semi-space-size=4']), /^memory settings: MALLOC_ARENA_MAX not set/);
  });
});

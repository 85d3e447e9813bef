import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { test } from 'node:test';
import { claimRunDir, RUN_DIR_PREFIX, sweepStaleTestRuns } from '../scripts/devstack/staleRuns';
import { scratchDir } from './support/stack';

const exited = (child: ReturnType<typeof spawn>) => new Promise<void>((resolve) => (child.exitCode !== null || child.signalCode !== null ? resolve() : child.once('exit', () => resolve())));

test('a run killed before its teardown: its processes are stopped and its directory removed; a live run and an unclaimed directory are left alone', async () => {
  const tmp = scratchDir('stale-runs');
  const deadPid = spawnSync('true').pid!;
  const stale = mkdtempSync(path.join(tmp, RUN_DIR_PREFIX));
  writeFileSync(path.join(stale, 'owner.pid'), `${deadPid}\n`);
  mkdirSync(path.join(stale, 'rabbitmq'));
  const live = mkdtempSync(path.join(tmp, RUN_DIR_PREFIX));
  claimRunDir(live);
  const unclaimed = mkdtempSync(path.join(tmp, RUN_DIR_PREFIX));
  // What a killed run leaves: a server working in its directory, one with it on the command line.
  const inCwd = spawn('sleep', ['600'], { cwd: path.join(stale, 'rabbitmq'), stdio: 'ignore' });
  const onCmdline = spawn('sh', ['-c', `sleep 600; echo ${stale}`], { stdio: 'ignore' });
  const bystander = spawn('sleep', ['600'], { cwd: live, stdio: 'ignore' });
  try {
    sweepStaleTestRuns(tmp);
    await Promise.race([Promise.all([exited(inCwd), exited(onCmdline)]), new Promise((_, reject) => setTimeout(() => reject(new Error('the stale processes still run 5 s after the sweep')), 5000))]);
    assert.equal(inCwd.signalCode, 'SIGKILL');
    assert.equal(onCmdline.signalCode, 'SIGKILL');
    assert.equal(existsSync(stale), false, 'the dead run\'s directory is removed');
    assert.equal(existsSync(live), true, 'a live run is left alone');
    assert.equal(existsSync(unclaimed), true, 'a directory without an owner is left alone');
    assert.equal(bystander.exitCode === null && bystander.signalCode === null, true, 'processes of a live run keep running');
  } finally {
    for (const c of [inCwd, onCmdline, bystander]) c.kill('SIGKILL');
  }
});

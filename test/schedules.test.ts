import assert from 'node:assert/strict';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { desiredSchedules, ScheduleConfigError } from '../lib/schedules/desired';
import { RabbitvaultConfig } from '../config/schema';
import { main } from '../cli/rabbitvault';
import { clusterEntry, startHarness, testConfig, type Harness } from './support/harness';
import { ensureTestBucket } from './support/minioBucket';
import { scratchDir, testNode } from './support/stack';
import { writeConfigFile } from './support/workerProcess';

// The component backup workflow the first schedule's scheduledBackup runs.
function scheduledBackupType(config: RabbitvaultConfig): string {
  const [first] = desiredSchedules(config);
  assert.equal(first?.workflowType, 'scheduledBackup');
  return first.input.workflowType;
}

describe('schedule config', () => {
  const base = () => testConfig({ a: clusterEntry(testNode(0)) });

  test('each component schedules its built-in backup workflow unless workflowType or componentWorkflows names another', () => {
    const config = RabbitvaultConfig.parse({ ...base(), schedules: { backups: { a: { configuration: { every: '1d' } } } } });
    assert.equal(scheduledBackupType(config), 'backupConfiguration');
    const plugged = RabbitvaultConfig.parse({ ...base(), componentWorkflows: { configuration: { backup: 'myConfigBackup' } }, schedules: { backups: { a: { configuration: { every: '1d' } } } } });
    assert.equal(scheduledBackupType(plugged), 'myConfigBackup');
    const named = RabbitvaultConfig.parse({ ...base(), schedules: { backups: { a: { configuration: { every: '1d', workflowType: 'other' } } } } });
    assert.equal(scheduledBackupType(named), 'other');
    const unknown = RabbitvaultConfig.parse({ ...base(), schedules: { backups: { nope: { definitions: { every: '1d' } } } } });
    assert.throws(() => desiredSchedules(unknown), (e: Error) => e instanceof ScheduleConfigError && /schedules\.backups\.nope: no such cluster/.test(e.message));
    const dataDirectory = RabbitvaultConfig.parse({ ...base(), schedules: { backups: { a: { 'data-directory': { every: '1d' } } } } });
    assert.equal(scheduledBackupType(dataDirectory), 'backupDataDirectory');
  });

  test('every xor cron, durations and the off-site target are checked with their paths', () => {
    const problems = (extra: Record<string, unknown>) => {
      const parsed = RabbitvaultConfig.safeParse({ ...base(), ...extra });
      return parsed.success ? [] : parsed.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`);
    };
    assert.deepEqual(problems({ schedules: { prune: { every: '1d', cron: '0 3 * * *' } } }), ['schedules.prune: give exactly one of "every" and "cron"']);
    assert.deepEqual(problems({ schedules: { prune: { every: 'daily' } } }), ['schedules.prune.every: must be a duration like 30s, 15m, 6h or 1d']);
    assert.deepEqual(problems({ offsite: { target: 'local' } }), ['offsite.target: must name a storage target other than storage.default']);
    assert.deepEqual(problems({ offsite: { target: 'minio' } }), []);
  });
});

describe('rabbitvault schedules / prune (CLI)', () => {
  let h: Harness;
  let file: string;
  const run = async (...args: string[]) => {
    const lines: string[] = [];
    const code = await main([...args, '--config', file], (l) => lines.push(l), (l) => lines.push(l));
    return { code, text: lines.join('\n') };
  };

  before(async () => {
    await ensureTestBucket();
    const config = RabbitvaultConfig.parse({
      ...testConfig({ a: clusterEntry(testNode(0)) }),
      schedules: { backups: { a: { definitions: { every: '6h', jitter: '5m' } } }, prune: { every: '1d' } },
    });
    h = await startHarness(config);
    file = writeConfigFile(config, path.join(scratchDir('schedules'), 'rabbitvault.yaml'));
  });
  after(async () => {
    await run('schedules', 'apply').catch(() => undefined);
    for await (const s of h.client.schedule.list()) if (s.scheduleId.includes(h.config.temporal.taskQueue)) await h.client.schedule.getHandle(s.scheduleId).delete();
    await h.stop();
  });

  test('apply converges idempotently; pause survives an unchanged apply; trigger starts a searchable run; prune is a dry run by default', async () => {
    assert.match((await run('schedules', 'apply')).text, /2 created, 0 updated, 0 unchanged, 0 deleted/);
    assert.match((await run('schedules', 'apply')).text, /0 created, 0 updated, 2 unchanged, 0 deleted/);
    const prefix = `rabbitvault:${h.config.temporal.taskQueue}:`;

    assert.equal((await run('schedules', 'pause', 'backup:a:definitions')).code, 0);
    assert.match((await run('schedules', 'apply')).text, /2 unchanged/);
    assert.equal((await h.client.schedule.getHandle(`${prefix}backup:a:definitions`).describe()).state.paused, true, 'an unchanged apply keeps the pause');
    assert.equal((await run('schedules', 'unpause', 'backup:a:definitions')).code, 0);

    assert.equal((await run('schedules', 'trigger', `${prefix}backup:a:definitions`)).code, 0);
    const child = await (async () => {
      for (let i = 0; i < 60; i++) {
        for await (const w of h.client.workflow.list({ query: `WorkflowType = 'backupDefinitions' AND RabbitvaultCluster = 'a' AND RabbitvaultComponent = 'definitions' AND ExecutionStatus = 'Completed'` })) {
          if (w.workflowId.startsWith('scheduled-backup-a-definitions') && w.taskQueue === h.config.temporal.taskQueue) return w;
        }
        await new Promise((r) => setTimeout(r, 500));
      }
      return undefined;
    })();
    assert.ok(child, 'the triggered run completed a backup, searchable by cluster and component');

    const listed = await run('schedules', 'list');
    assert.match(listed.text, new RegExp(`${prefix}backup:a:definitions  scheduledBackup  every 6h.*active`));
    assert.match(listed.text, new RegExp(`${prefix}prune  pruneBackups`));

    const dry = await run('prune', '--cluster', 'a');
    assert.equal(dry.code, 0, dry.text);
    assert.match(dry.text, /dry run: nothing deleted; rerun with --apply: 0 sets/);
  });
});

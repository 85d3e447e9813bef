// `rabbitvault status` against the real stack (Temporal dev server, a real
// RabbitMQ node, local storage): healthy, paused schedule, stale past its RPO,
// failing with the failure's message; in text and --json, with the exit code
// cron or a readiness probe reads. The worker's /metrics agree with it.
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { RabbitvaultConfig } from '../config/schema';
import type { BackupHealth, ComponentHealth } from '../lib/status/backupHealth';
import { main } from '../cli/rabbitvault';
import { collectSamples } from '../workers/metrics/collect';
import { clusterEntry, failureOf, startHarness, testConfig, type Harness } from './support/harness';
import { ensureTestBucket } from './support/minioBucket';
import { scratchDir, testNode } from './support/stack';
import { writeConfigFile } from './support/workerProcess';

const suffix = randomBytes(3).toString('hex');
const ok = `status-ok-${suffix}`;
const bad = `status-bad-${suffix}`;

describe('rabbitvault status (real stack)', () => {
  let h: Harness;
  let file: string;
  let staleFile: string;
  const run = async (configFile: string, ...args: string[]) => {
    const lines: string[] = [];
    const code = await main([...args, '--config', configFile], (l) => lines.push(l), (l) => lines.push(l));
    return { code, text: lines.join('\n') };
  };
  const json = async (configFile: string, cluster: string) => {
    const r = await run(configFile, 'status', '--cluster', cluster, '--json');
    return { code: r.code, health: JSON.parse(r.text) as BackupHealth };
  };
  const definitionsOf = (health: BackupHealth): ComponentHealth => health.clusters[0]!.components.find((c) => c.component === 'definitions')!;

  before(async () => {
    await ensureTestBucket();
    const node = testNode(0);
    const base = testConfig({ [ok]: clusterEntry(node), [bad]: clusterEntry(node, 'value:status-wrong-password') });
    // A yearly cron: applied and planned, never due while the test runs.
    const config = RabbitvaultConfig.parse({ ...base, schedules: { backups: { [ok]: { definitions: { cron: '0 0 1 1 *' } } } } });
    h = await startHarness(config);
    const dir = scratchDir('status');
    file = writeConfigFile(config, path.join(dir, 'rabbitvault.yaml'));
    // Same storage and Temporal, with a definitions RPO of 1.8 seconds.
    staleFile = writeConfigFile(RabbitvaultConfig.parse({ ...config, validation: { components: { definitions: { rpoHours: 0.0005 } } } }), path.join(dir, 'stale.yaml'));
  });
  after(async () => {
    for await (const s of h.client.schedule.list()) if (s.scheduleId.includes(h.config.temporal.taskQueue)) await h.client.schedule.getHandle(s.scheduleId).delete();
    await h.stop();
  });

  test('healthy: newest set within its RPO, schedule planned, exit 0; the metrics say the same', async () => {
    const backup = await run(file, 'backup', 'definitions', '--cluster', ok, '--wait');
    assert.equal(backup.code, 0, backup.text);
    assert.equal((await run(file, 'schedules', 'apply')).code, 0);

    const text = await run(file, 'status', '--cluster', ok);
    assert.equal(text.code, 0, text.text);
    assert.match(text.text, new RegExp(`^cluster ${ok}: healthy$`, 'm'));
    assert.match(text.text, /^ {2}definitions +ok +newest \d{8}T\d{6}Z-[0-9a-f]{8}, \d+ s ago \(RPO 6 h: within\), [\d.]+ (?:B|KiB) in [\d.]+ s$/m);
    assert.match(text.text, /next run \d{4}-01-01T00:00:00\.000Z/);
    assert.match(text.text, /not backed up and not scheduled: messages, configuration, data-directory/);
    assert.match(text.text, /^storage local \(default\): \d+ complete set/m);
    assert.match(text.text, /^status: healthy$/m);

    const { code, health } = await json(file, ok);
    assert.equal(code, 0);
    assert.equal(health.healthy, true);
    const d = definitionsOf(health);
    assert.equal(d.withinRpo, true);
    assert.equal(d.rpoSeconds, 6 * 3600);
    assert.equal(d.storage.local?.completeSets, 1);
    assert.equal(d.schedule?.applied, true);
    assert.equal(d.schedule?.paused, false);
    assert.deepEqual(d.failures, { total: 0, sinceLastSuccess: 0 });

    const samples = await collectSamples(h.config, async () => h.client);
    const value = (name: string, cluster: string) => samples.find((s) => s.name === name && s.labels.cluster === cluster && s.labels.component === 'definitions')?.value;
    assert.equal(value('rabbitmq_backup_healthy', ok), 1);
    assert.equal(value('rabbitmq_backup_last_success_timestamp_seconds', ok), Date.parse(d.newest!.finishedAt) / 1000);
    assert.equal(value('rabbitmq_backup_schedule_paused', ok), 0);
  });

  test('paused schedule: a warning with the reason, still exit 0', async () => {
    assert.equal((await run(file, 'schedules', 'pause', `backup:${ok}:definitions`, '--reason', 'maintenance window')).code, 0);
    const text = await run(file, 'status', '--cluster', ok);
    assert.equal(text.code, 0, text.text);
    assert.match(text.text, /^ {2}definitions +warn /m);
    assert.match(text.text, /schedule PAUSED/);
    assert.match(text.text, /warning: schedule paused \(maintenance window\)/);
    const { health } = await json(file, ok);
    assert.equal(definitionsOf(health).schedule?.paused, true);
    assert.equal(health.healthy, true);
    assert.equal((await collectSamples(h.config, async () => h.client)).find((s) => s.name === 'rabbitmq_backup_schedule_paused' && s.labels.cluster === ok)?.value, 1);
    assert.equal((await run(file, 'schedules', 'unpause', `backup:${ok}:definitions`)).code, 0);
  });

  test('stale: past its RPO is a problem and exit 1', async () => {
    const { health: before } = await json(file, ok);
    const wait = 2000 - definitionsOf(before).newest!.ageSeconds * 1000;
    if (wait > 0) await new Promise((r) => setTimeout(r, wait + 100));
    const text = await run(staleFile, 'status', '--cluster', ok);
    assert.equal(text.code, 1, text.text);
    assert.match(text.text, new RegExp(`^cluster ${ok}: FAILING$`, 'm'));
    assert.match(text.text, /\(RPO \d+ s: PAST\)/);
    assert.match(text.text, /problem: newest set is \d+ s old, past its RPO of 2 s/);
    assert.match(text.text, /^status: 1 problem\(s\)$/m);
    const { code, health } = await json(staleFile, ok);
    assert.equal(code, 1);
    assert.equal(health.healthy, false);
    assert.equal(definitionsOf(health).withinRpo, false);
  });

  test("failing: the newest failure's message and Web UI link, exit 1; no secret in the output", async () => {
    const backup = await run(file, 'backup', 'definitions', '--cluster', bad, '--wait');
    assert.equal(backup.code, 1, backup.text);
    const { code, health } = await json(file, bad);
    assert.equal(code, 1);
    const d = definitionsOf(health);
    assert.equal(d.failures?.total, 1);
    assert.equal(d.failures?.sinceLastSuccess, 1);
    const newest = d.failures!.newest!;
    const expected = await failureOf(h.client.workflow.getHandle(newest.workflowId, newest.runId).result());
    assert.equal(newest.message, expected.message);
    assert.match(newest.webUiUrl, new RegExp(`/workflows/${newest.workflowId}/${newest.runId}/history$`));
    assert.deepEqual(d.problems, ['no complete set on the default storage', `1 failed run since the last success, newest: ${expected.message}`]);

    const text = await run(file, 'status', '--cluster', bad);
    assert.equal(text.code, 1, text.text);
    assert.ok(text.text.includes(`problem: 1 failed run since the last success, newest: ${expected.message}`), text.text);
    assert.ok(text.text.includes(`newest failure ${newest.closedAt}: ${newest.webUiUrl}`), text.text);
    assert.ok(!text.text.includes('status-wrong-password') && !JSON.stringify(health).includes('status-wrong-password'), 'the password is in the status output');
    assert.equal((await collectSamples(h.config, async () => h.client)).find((s) => s.name === 'rabbitmq_backup_healthy' && s.labels.cluster === bad && s.labels.component === 'definitions')?.value, 0);
  });

  test('an unknown --cluster is a usage error naming the flag (exit 2), not a verdict', async () => {
    const r = await run(file, 'status', '--cluster', 'nope');
    assert.equal(r.code, 2, r.text);
    assert.match(r.text, /--cluster: no cluster "nope"/);
  });
});

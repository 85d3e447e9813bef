import assert from 'node:assert/strict';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { ScheduleNotFoundError } from '@temporalio/client';
import { listSets } from '../lib/backupSets/catalog';
import { applySchedules } from '../lib/schedules/apply';
import { storageOpener } from '../lib/storage/openStorage';
import type { ValidationReport } from '../contracts/validation';
import { RabbitvaultConfig } from '../config/schema';
import type { BackupDefinitionsResult } from '../contracts/definitions';
import type { RestoreDrillResult } from '../contracts/drills';
import { main } from '../cli/rabbitvault';
import { clusterEntry, failureOf, startHarness, testConfig, workflowId, type Harness } from './support/harness';
import { declareQueue, liveDefinitions } from './support/rabbitHttp';
import { ensureTestBucket } from './support/minioBucket';
import { testNode } from './support/stack';
import { writeConfigFile } from './support/workerProcess';

const nodeA = testNode(0);
const nodeB = testNode(1);
let h: Harness;
let base: RabbitvaultConfig;

function withAutomation(extra: Record<string, unknown>): RabbitvaultConfig {
  return RabbitvaultConfig.parse({ ...base, offsite: { target: 'minio' }, validation: { restoreInto: 'b' }, drills: { targetCluster: 'b' }, ...extra });
}

async function until<T>(what: string, probe: () => Promise<T | undefined>, timeoutMs = 60_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await probe();
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 500));
  }
}

function backup(): Promise<BackupDefinitionsResult> {
  return h.client.workflow.execute('backupDefinitions', { taskQueue: h.config.temporal.taskQueue, workflowId: workflowId('backup'), args: [{ cluster: 'a' }] });
}

describe('automation: schedules, off-site copies, validation, drills', () => {
  before(async () => {
    await ensureTestBucket();
    await Promise.all([nodeA.reset(), nodeB.reset()]);
    await declareQueue(nodeA, '/', 'automation.orders');
    base = testConfig({ a: clusterEntry(nodeA), b: clusterEntry(nodeB) });
    h = await startHarness(withAutomation({}));
  });
  after(async () => {
    await applySchedules(h.client, base).catch(() => undefined);
    await h.stop();
  });

  test('a schedule with a short interval really runs: complete sets, copied off-site and verified, searchable by cluster and component', async () => {
    const config = withAutomation({ schedules: { backups: { a: { definitions: { every: '2s' } } }, validate: { every: '1d', paused: true } } });
    const first = await applySchedules(h.client, config);
    assert.equal(first.created.length, 2);
    const prefix = `rabbitvault:${config.temporal.taskQueue}:`;
    const described = await h.client.schedule.getHandle(`${prefix}backup:a:definitions`).describe();
    assert.equal(described.policies.overlap, 'SKIP');
    assert.equal(described.state.paused, false);
    assert.equal((await h.client.schedule.getHandle(`${prefix}validate`).describe()).state.paused, true);

    const again = await applySchedules(h.client, config);
    assert.deepEqual(again, { created: [], updated: [], unchanged: [`${prefix}backup:a:definitions`, `${prefix}validate`], deleted: [] }, 'apply twice = same state');
    const redescribed = await h.client.schedule.getHandle(`${prefix}backup:a:definitions`).describe();
    assert.deepEqual(redescribed.spec, described.spec);
    assert.deepEqual(redescribed.action, described.action);

    const open = storageOpener(config);
    const copied = await until('a scheduled set copied off-site', async () => {
      const local = (await listSets(open('local').backend, { cluster: 'a', component: 'definitions' })).filter((s) => s.complete);
      const remote = new Set((await listSets(open('minio').backend, { cluster: 'a', component: 'definitions' })).filter((s) => s.complete).map((s) => s.setId));
      return local.find((s) => remote.has(s.setId));
    });
    assert.equal(copied.manifest?.workflow.workflowId.startsWith('scheduled-backup-a-definitions'), true, 'written by the scheduled run');
    const searchable = await until('a searchable scheduled run', async () => {
      const n = (await h.client.workflow.count(`WorkflowType = 'backupDefinitions' AND RabbitvaultCluster = 'a' AND RabbitvaultComponent = 'definitions' AND ExecutionStatus = 'Completed'`)).count;
      return n > 0 ? n : undefined;
    });
    assert.ok(searchable >= 1);

    // `backups list --all-storage` shows where each set lives.
    const lines: string[] = [];
    const file = writeConfigFile(config, path.join(path.dirname(open('local').backend.locate('x')), 'automation.yaml'));
    assert.equal(await main(['backups', 'list', '--all-storage', '--cluster', 'a', '--config', file], (l) => lines.push(l)), 0);
    assert.ok(lines.some((l) => l.includes(copied.setId) && /on local, minio/.test(l)), lines.join('\n'));

    // Removing a schedule from the config deletes it; the rest is updated only when changed.
    const fewer = withAutomation({ schedules: { validate: { every: '12h', paused: true } } });
    const converged = await applySchedules(h.client, fewer);
    assert.deepEqual(converged.updated, [`${prefix}validate`]);
    assert.deepEqual(converged.deleted, [`${prefix}backup:a:definitions`]);
    await assert.rejects(h.client.schedule.getHandle(`${prefix}backup:a:definitions`).describe(), ScheduleNotFoundError);
    await applySchedules(h.client, base);
    await assert.rejects(h.client.schedule.getHandle(`${prefix}validate`).describe(), ScheduleNotFoundError);
  });

  test('validateBackups: the newest set passes every check and test-restores into the throwaway node; a tampered set fails naming the artifact', async () => {
    await nodeB.reset();
    const set = await backup();
    const report: ValidationReport = await h.client.workflow.execute('validateBackups', {
      taskQueue: h.config.temporal.taskQueue,
      workflowId: workflowId('validate'),
      args: [{ clusters: ['a'], components: ['definitions'] }],
    });
    assert.equal(report.ok, true);
    const result = report.results[0]!;
    assert.equal(result.setId, set.setId);
    assert.deepEqual(
      result.checks.map((c) => [c.check, c.ok]),
      [
        ['manifest parses', true],
        ['required artifacts', true],
        ['checksums', true],
        ['size floor', true],
        ['age under RPO', true],
        ['required keys', true],
        ['counts vs live cluster', true],
        ['test restore', true],
      ],
    );
    assert.ok((await liveDefinitions(nodeB)).queues?.some((q) => (q as { name: string }).name === 'automation.orders'), 'restored into the throwaway node');
    assert.ok(existsSync(report.reportLocations[0]!));

    const artifact = path.join(set.location, 'definitions.json');
    const bytes = readFileSync(artifact);
    bytes[bytes.indexOf('automation.orders')] = 'A'.charCodeAt(0);
    writeFileSync(artifact, bytes);
    const failure = await failureOf(
      h.client.workflow.execute('validateBackups', { taskQueue: h.config.temporal.taskQueue, workflowId: workflowId('validate-tampered'), args: [{ clusters: ['a'], components: ['definitions'] }] }),
    );
    assert.equal(failure.type, 'BackupValidationFailed');
    assert.match(failure.message, new RegExp(`a definitions set ${set.setId}: checksums \\(definitions\\.json: SHA-256 [0-9a-f]{64}, manifest says`));
  });

  test('restoreDrill restores the newest sets into the drill node and stores a Markdown + JSON report with RTO and RPO', async () => {
    await nodeB.reset();
    const set = await backup();
    const drill: RestoreDrillResult = await h.client.workflow.execute('restoreDrill', {
      taskQueue: h.config.temporal.taskQueue,
      workflowId: workflowId('drill'),
      args: [{ cluster: 'a' }],
    });
    assert.equal(drill.target, 'b');
    assert.equal(drill.passed, true);
    const definitions = drill.components.find((c) => c.component === 'definitions')!;
    assert.equal(definitions.status, 'restored');
    assert.equal(definitions.setId, set.setId);
    assert.ok(definitions.rpoSeconds! >= 0 && definitions.rpoSeconds! < 600);
    assert.equal(definitions.rpoTargetSeconds, 6 * 3600);
    assert.equal(definitions.rtoTargetSeconds, 15 * 60);
    assert.ok(drill.rtoSeconds > 0 && drill.rtoSeconds < drill.rtoTargetSeconds);
    assert.match(drill.reportJson, /a\/drills\/\d{8}T\d{6}Z\/report\.json$/);
    const stored = JSON.parse(readFileSync(drill.reportJson, 'utf8'));
    assert.equal(stored.rtoSeconds, drill.rtoSeconds);
    const markdown = readFileSync(drill.reportMarkdown, 'utf8');
    assert.match(markdown, /# Restore drill: a -> b/);
    assert.match(markdown, /\| definitions \| restored \| \d{8}T\d{6}Z-[0-9a-f]{8} \| [\d.]+ s \| 15\.0 min \| met \| [\d.]+ h \| 6\.00 h \| met \|/);
    assert.ok((await liveDefinitions(nodeB)).queues?.some((q) => (q as { name: string }).name === 'automation.orders'));
    // Reports beside the backups are not backup sets.
    assert.ok((await listSets(storageOpener(h.config)('local').backend, { cluster: 'a' })).every((s) => s.component === 'definitions'));
  });

  test('a drill without a target fails at once, naming what to configure', async () => {
    const failure = await failureOf(
      h.client.workflow.execute('restoreDrill', { taskQueue: h.config.temporal.taskQueue, workflowId: workflowId('drill-bad'), args: [{ cluster: 'a', target: 'a' }] }),
    );
    assert.equal(failure.type, 'InvalidInput');
    assert.match(failure.message, /target: must differ from cluster/);
  });
});

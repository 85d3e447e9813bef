import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { describe, test } from 'node:test';
import { promisify } from 'node:util';
import { parse } from 'yaml';
import { ensureDebianPackage } from '../scripts/devstack/debianPackages';
import { HELP } from '../workers/metrics/collect';

const rulesFile = path.join(__dirname, '..', 'deploy', 'prometheus', 'alerts.yml');

describe('Prometheus alert rules (deploy/prometheus/alerts.yml)', () => {
  test('promtool (Debian package prometheus) accepts them', async () => {
    const promtool = await ensureDebianPackage('promtool', 'prometheus');
    const { stdout } = await promisify(execFile)(promtool, ['check', 'rules', rulesFile]);
    assert.match(stdout, /SUCCESS: 12 rules found/);
  });

  test("the guide's RabbitMQBackupFailed, stale verification and failed drill are there, on metrics the worker serves", () => {
    const rules = (parse(readFileSync(rulesFile, 'utf8')) as { groups: Array<{ rules: Array<{ alert: string; expr: string }> }> }).groups.flatMap((g) => g.rules);
    const byName = new Map(rules.map((r) => [r.alert, r.expr]));
    assert.equal(byName.get('RabbitMQBackupFailed'), 'time() - rabbitmq_backup_last_success_timestamp_seconds > 86400');
    for (const name of ['RabbitMQBackupVerificationStale', 'RabbitMQRestoreDrillFailed', 'RabbitMQBackupRunFailed']) assert.ok(byName.has(name), name);
    for (const rule of rules) {
      for (const metric of rule.expr.match(/rabbitmq_backup_[a-z_]+/g) ?? []) {
        assert.ok(metric in HELP, `${rule.alert} uses ${metric}, which workers/metrics/collect.ts does not serve`);
      }
    }
  });
});

// deploy/grafana/rabbitvault.json: a dashboard Grafana imports, over the
// metrics the worker serves (workers/metrics/collect.ts HELP), every query
// parsed by Prometheus' own parser (promtool, as for the alert rules).
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { describe, test } from 'node:test';
import { promisify } from 'node:util';
import { stringify } from 'yaml';
import { z } from 'zod';
import { HELP } from '../workers/metrics/collect';
import { ensureDebianPackage } from '../scripts/devstack/debianPackages';

const file = path.join(__dirname, '..', 'deploy', 'grafana', 'rabbitvault.json');
const PROMETHEUS = z.object({ type: z.literal('prometheus'), uid: z.literal('${datasource}') });

// The parts of Grafana's dashboard model (schemaVersion 39) an import needs.
const Dashboard = z.object({
  title: z.string().min(1),
  uid: z.string().regex(/^[A-Za-z0-9_-]{1,40}$/),
  schemaVersion: z.number().int().min(36),
  time: z.object({ from: z.string(), to: z.string() }),
  templating: z.object({
    list: z.array(z.object({ name: z.string(), type: z.enum(['datasource', 'query', 'custom']), query: z.union([z.string(), z.object({ query: z.string() })]) })),
  }),
  panels: z
    .array(
      z.object({
        id: z.number().int().positive(),
        type: z.enum(['timeseries', 'stat', 'table', 'gauge']),
        title: z.string().min(1),
        datasource: PROMETHEUS,
        gridPos: z.object({ x: z.number().int().min(0), y: z.number().int().min(0), w: z.number().int().min(1), h: z.number().int().min(1) }).refine((g) => g.x + g.w <= 24, 'x + w must fit the 24-column grid'),
        targets: z.array(z.object({ refId: z.string(), expr: z.string().min(1) })).min(1),
      }),
    )
    .min(1),
});

const dashboard = Dashboard.parse(JSON.parse(readFileSync(file, 'utf8')));
const exprs = dashboard.panels.flatMap((p) => p.targets.map((t) => ({ panel: p.title, expr: t.expr })));
const variableQueries = dashboard.templating.list.filter((v) => v.type === 'query').map((v) => (typeof v.query === 'string' ? v.query : v.query.query));
const metricsIn = (text: string) => text.match(/rabbitmq_backup_[a-z_]+/g) ?? [];

describe('Grafana dashboard (deploy/grafana/rabbitvault.json)', () => {
  test('parses as a dashboard: unique panel ids, every panel on the ${datasource} Prometheus, no two panels overlapping', () => {
    const ids = dashboard.panels.map((p) => p.id);
    assert.equal(new Set(ids).size, ids.length, 'panel ids are unique');
    assert.ok(dashboard.templating.list.some((v) => v.name === 'datasource' && v.type === 'datasource'));
    for (const a of dashboard.panels) {
      for (const b of dashboard.panels) {
        if (a === b) continue;
        const apart = a.gridPos.x + a.gridPos.w <= b.gridPos.x || b.gridPos.x + b.gridPos.w <= a.gridPos.x || a.gridPos.y + a.gridPos.h <= b.gridPos.y || b.gridPos.y + b.gridPos.h <= a.gridPos.y;
        assert.ok(apart, `"${a.title}" and "${b.title}" overlap`);
      }
    }
  });

  test('every query names only metrics the worker serves, and every served metric is on the dashboard', () => {
    const served = new Set(Object.keys(HELP));
    const used = new Set<string>();
    for (const { panel, expr } of exprs) {
      assert.ok(metricsIn(expr).length > 0, `"${panel}" queries no rabbitvault metric: ${expr}`);
      for (const metric of metricsIn(expr)) {
        assert.ok(served.has(metric), `"${panel}" uses ${metric}, which workers/metrics/collect.ts does not serve`);
        used.add(metric);
      }
    }
    for (const q of variableQueries) for (const metric of metricsIn(q)) assert.ok(served.has(metric), `variable query uses ${metric}`);
    assert.deepEqual([...served].filter((m) => !used.has(m)), [], 'served metrics with no panel');
  });

  test("Prometheus' parser (promtool) accepts every query, with the dashboard's variables as Grafana substitutes them", async () => {
    const promtool = await ensureDebianPackage('promtool', 'prometheus');
    const dir = mkdtempSync(path.join(os.tmpdir(), 'rabbitvault-dashboard-'));
    try {
      const rules = exprs.map((e, i) => ({ record: `rabbitvault:dashboard:query_${i}`, expr: e.expr.replaceAll('$cluster', 'prod|staging') }));
      const rulesFile = path.join(dir, 'queries.yml');
      writeFileSync(rulesFile, stringify({ groups: [{ name: 'dashboard', rules }] }));
      const { stdout } = await promisify(execFile)(promtool, ['check', 'rules', rulesFile]);
      assert.match(stdout, new RegExp(`SUCCESS: ${rules.length} rules found`));
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

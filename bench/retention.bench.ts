// Retention benchmark: rabbitvault's prune (catalog read, per-component policy,
// manifest-first deletes) beside the guide's retention script
// (`find $BACKUP_DIR -type f -mtime +30 -delete`) on identical trees, in one run.
// Run: npm run bench:retention  (SETS=5000 by default). Writes bench/results/retention-<date>.json.
import { execFileSync } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { mkdirSync, mkdtempSync, rmSync, utimesSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import { MockActivityEnvironment } from '@temporalio/testing';
import { defaultDeps } from '../activities/deps';
import { createRetentionActivities } from '../activities/retention/retentionPrune';
import { compactUtc } from '../common/names';
import { RabbitvaultConfig } from '../config/schema';

const SETS = Number(process.env.SETS ?? 5000);
const DAY = 86_400_000;
const now = Date.now();

// SETS definitions sets spread evenly over 100 days, each definitions.json + manifest.json.
function makeTree(root: string): void {
  for (let i = 0; i < SETS; i++) {
    const at = new Date(now - Math.floor((i / SETS) * 100 * DAY) - 60_000);
    const setId = `${compactUtc(at)}-${randomBytes(4).toString('hex')}`;
    const dir = path.join(root, 'prod', 'definitions', setId);
    mkdirSync(dir, { recursive: true });
    const body = Buffer.from('{"users":[],"vhosts":[],"permissions":[],"queues":[],"exchanges":[],"bindings":[]}');
    writeFileSync(path.join(dir, 'definitions.json'), body);
    const manifest = {
      schemaVersion: 1, cluster: 'prod', component: 'definitions', setId, rabbitmqVersion: '3.13.7',
      artifacts: [{ name: 'definitions.json', size: body.length, sha256: createHash('sha256').update(body).digest('hex') }],
      workflow: { workflowId: 'bench', runId: 'bench' }, startedAt: at.toISOString(), finishedAt: at.toISOString(), toolVersion: 'bench', details: {},
    };
    writeFileSync(path.join(dir, 'manifest.json'), JSON.stringify(manifest));
    for (const f of ['definitions.json', 'manifest.json']) utimesSync(path.join(dir, f), at, at);
  }
}

function inActivity<A, R>(fn: (input: A) => Promise<R>, input: A): Promise<R> {
  return new MockActivityEnvironment().run(fn, input) as Promise<R>;
}

function countFiles(root: string): number {
  return Number(execFileSync('sh', ['-c', `find "${root}" -type f | wc -l`]).toString().trim());
}

async function main(): Promise<void> {
  const work = mkdtempSync(path.join(os.tmpdir(), 'rv-bench-retention-'));
  try {
    const oursDir = path.join(work, 'ours');
    const refDir = path.join(work, 'reference');
    makeTree(oursDir);
    makeTree(refDir);

    const refStart = performance.now();
    execFileSync('find', [refDir, '-type', 'f', '-mtime', '+30', '-delete']);
    const referenceMs = performance.now() - refStart;

    const config = RabbitvaultConfig.parse({
      storage: { default: 'local', targets: { local: { type: 'local', path: oursDir } } },
      clusters: { prod: { management: { url: 'http://127.0.0.1:15672', username: 'guest', password: 'value:guest' } } },
    });
    // No Temporal here: the re-check of running restores before each delete asks a stand-in (its count is reported).
    const act = createRetentionActivities(defaultDeps(config), { cacheDir: path.join(work, 'cache'), restoresInUse: async () => [] });
    const rssBefore = process.memoryUsage().rss;
    const oursStart = performance.now();
    // Heartbeats need an activity context; the mock one costs nothing measurable.
    const plan = await inActivity(act.planPrune, { storage: 'local', inUse: [], now: new Date(now).toISOString() });
    const doomed = plan.decisions.filter((d) => d.action === 'delete').map((d) => d.prefix);
    const planMs = performance.now() - oursStart;
    const deleted = await inActivity(act.deleteBackupSets, { storage: 'local', prefixes: doomed });
    const oursMs = performance.now() - oursStart;
    const rssGrowthMiB = (process.memoryUsage().rss - rssBefore) / 1048576;

    const result = {
      date: new Date().toISOString(),
      sets: SETS,
      files: SETS * 2,
      reference: { command: 'find DIR -type f -mtime +30 -delete', ms: Math.round(referenceMs), filesLeft: countFiles(refDir) },
      ours: { ms: Math.round(oursMs), planMs: Math.round(planMs), setsVerified: plan.setsVerified, restoreChecks: deleted.restoreChecks, setsDeleted: doomed.length, filesLeft: countFiles(oursDir), rssGrowthMiB: Math.round(rssGrowthMiB) },
      ratio: Number((oursMs / referenceMs).toFixed(2)),
      machine: { cpus: os.cpus().length, node: process.version },
    };
    console.log(`retention of ${SETS} sets (${SETS * 2} files) over 100 days, keeping 30 days:`);
    console.log(`  reference (find -mtime +30 -delete): ${result.reference.ms} ms, ${result.reference.filesLeft} files left`);
    console.log(`  rabbitvault prune:                   ${result.ours.ms} ms (plan ${result.ours.planMs} ms, ${result.ours.setsVerified} sets verified; ${result.ours.restoreChecks} restore re-checks), ${result.ours.filesLeft} files left, RSS +${result.ours.rssGrowthMiB} MiB`);
    console.log(`  ratio ours/reference: ${result.ratio}`);
    const out = path.join(__dirname, 'results', `retention-${result.date.slice(0, 10)}.json`);
    mkdirSync(path.dirname(out), { recursive: true });
    writeFileSync(out, `${JSON.stringify(result, null, 2)}\n`);
    console.log(`results: ${out}`);
  } finally {
    rmSync(work, { recursive: true, force: true });
  }
}

main().catch((error: unknown) => {
  console.error(error);
  process.exit(1);
});

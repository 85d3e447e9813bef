import { duration as age, type BackupHealth, type ComponentHealth } from '../../lib/status/backupHealth';

const KiB = 1024;
export function bytes(n: number): string {
  const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB'];
  let v = n;
  let u = 0;
  while (v >= KiB && u < units.length - 1) {
    v /= KiB;
    u += 1;
  }
  return u === 0 ? `${n} B` : `${v.toFixed(1)} ${units[u]}`;
}


const since = (iso: string, now: number) => age(Math.max(0, (now - Date.parse(iso)) / 1000));

function componentLines(c: ComponentHealth, now: number): string[] {
  const verdict = c.problems.length > 0 ? 'FAILING' : c.warnings.length > 0 ? 'warn' : 'ok';
  const lines: string[] = [];
  if (c.newest) {
    lines.push(
      `  ${c.component.padEnd(15)} ${verdict.padEnd(7)} newest ${c.newest.setId}, ${age(c.newest.ageSeconds)} ago (RPO ${age(c.rpoSeconds)}: ${c.withinRpo ? 'within' : 'PAST'}), ${bytes(c.newest.sizeBytes)} in ${c.newest.durationSeconds.toFixed(1)} s`,
    );
  } else {
    lines.push(`  ${c.component.padEnd(15)} ${verdict.padEnd(7)} no complete set on ${Object.keys(c.storage).length > 0 ? 'the default storage' : 'any storage'}`);
  }
  const facts: string[] = [];
  if (c.validation) facts.push(`validated ${since(c.validation.checkedAt, now)} ago: ${c.validation.status}`);
  if (c.schedule) {
    facts.push(
      !c.schedule.applied
        ? 'schedule not applied'
        : c.schedule.paused
          ? 'schedule PAUSED'
          : `next run ${c.schedule.nextRunAt ?? 'none planned'}`,
    );
  } else facts.push('not scheduled');
  if (c.offsite) facts.push(`off-site ${c.offsite.storage}: ${c.offsite.holdsNewest ? 'holds the newest set' : c.offsite.newestSetId ? `behind (newest ${c.offsite.newestSetId})` : 'no copy'}`);
  if (c.failures && c.failures.total > 0) facts.push(`${c.failures.total} failed run(s) in Temporal, ${c.failures.sinceLastSuccess} since the last success`);
  lines.push(`  ${''.padEnd(15)} ${''.padEnd(7)} ${facts.join('; ')}`);
  for (const p of c.problems) lines.push(`    problem: ${p}`);
  if (c.failures?.newest && c.failures.sinceLastSuccess > 0) lines.push(`    newest failure ${c.failures.newest.closedAt}: ${c.failures.newest.webUiUrl}`);
  for (const w of c.warnings) lines.push(`    warning: ${w}`);
  return lines;
}

// One screen: a block per cluster, a line pair per component, then storage and the verdict.
export function statusText(health: BackupHealth): string[] {
  const now = Date.parse(health.generatedAt);
  const lines: string[] = [];
  for (const cluster of health.clusters) {
    const failing = cluster.problems.length > 0 || cluster.components.some((c) => c.problems.length > 0);
    lines.push(`cluster ${cluster.cluster}: ${failing ? 'FAILING' : 'healthy'}`);
    // Components never backed up and not scheduled or failing: one line, not a block each.
    const idle = cluster.components.filter((c) => !c.newest && Object.keys(c.storage).length === 0 && !c.schedule && !(c.failures?.total ?? 0));
    for (const c of cluster.components.filter((k) => !idle.includes(k))) lines.push(...componentLines(c, now));
    if (idle.length > 0) lines.push(`  not backed up and not scheduled: ${idle.map((c) => c.component).join(', ')}`);
    const drill = cluster.drill;
    if (drill) {
      lines.push(
        `  drill ${drill.passed ? 'passed' : 'FAILED'} ${since(drill.finishedAt, now)} ago, RTO ${age(drill.rtoSeconds)}${drill.rtoTargetSeconds !== undefined ? ` (target ${age(drill.rtoTargetSeconds)})` : ''}`,
      );
    } else lines.push('  drill: none yet');
    for (const p of cluster.problems) lines.push(`    problem: ${p}`);
  }
  for (const r of health.replication) {
    const lag = r.links.reduce((n, l) => n + (l.lagMessages ?? 0), 0);
    const lastTransfer = r.links.map((l) => l.lastTransferAt).filter((t): t is string => t !== undefined).sort().pop();
    lines.push(
      `replication ${r.source} -> ${r.destination}: ${r.problems.length ? 'FAILING' : 'up'}${r.checkedAt ? `, ${r.links.length} link(s), lag ${lag} message(s)${lastTransfer ? `, last transfer ${since(lastTransfer, now)} ago` : ''}, checked ${age(r.ageSeconds ?? 0)} ago` : ''}`,
    );
    for (const p of r.problems) lines.push(`    problem: ${p}`);
  }
  for (const s of health.storage) {
    lines.push(`storage ${s.storage}${s.default ? ' (default)' : ''}: ${s.completeSets} complete set(s)${s.resticRepositoryBytes !== undefined ? `; restic repository ${bytes(s.resticRepositoryBytes)}` : ''}`);
  }
  for (const e of health.sourceErrors) lines.push(`cannot read ${e.source}: ${e.message}`);
  const problems =
    health.clusters.reduce((n, c) => n + c.problems.length + c.components.reduce((m, k) => m + k.problems.length, 0), 0) +
    health.replication.reduce((n, r) => n + r.problems.length, 0) +
    health.sourceErrors.length;
  lines.push(health.healthy ? 'status: healthy' : `status: ${problems} problem(s)`);
  return lines;
}

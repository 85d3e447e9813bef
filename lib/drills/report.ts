import type { DrillReport } from '../../contracts/drills';

const minutes = (s: number | undefined) => (s === undefined ? 'n/a' : s < 120 ? `${s.toFixed(1)} s` : `${(s / 60).toFixed(1)} min`);
const hours = (s: number | undefined) => (s === undefined ? 'n/a' : `${(s / 3600).toFixed(2)} h`);
const mark = (ok: boolean | undefined) => (ok === undefined ? 'n/a' : ok ? 'met' : 'MISSED');

// The drill report an operator reads: the guide's RTO/RPO table with our figures.
export function drillMarkdown(r: DrillReport): string {
  const lines = [
    `# Restore drill: ${r.cluster} -> ${r.target}`,
    '',
    `- started: ${r.startedAt}`,
    `- finished: ${r.finishedAt}`,
    `- storage: ${r.storage ?? 'default'}`,
    `- result: **${r.passed ? 'PASSED' : 'FAILED'}**`,
    `- RTO (whole drill): ${minutes(r.rtoSeconds)} against the guide's full-recovery target ${minutes(r.rtoTargetSeconds)}: ${mark(r.rtoSeconds <= r.rtoTargetSeconds)}`,
    '',
    '| component | status | set | RTO (restore) | RTO target | RTO | RPO (set age) | RPO target | RPO | detail |',
    '| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |',
    ...r.components.map(
      (c) =>
        `| ${c.component} | ${c.status} | ${c.setId ?? ''} | ${minutes(c.restoreSeconds)} | ${minutes(c.rtoTargetSeconds)} | ${mark(c.rtoMet)} | ${hours(c.rpoSeconds)} | ${hours(c.rpoTargetSeconds)} | ${mark(c.rpoMet)} | ${c.detail.replace(/\|/g, '/')} |`,
    ),
    '',
  ];
  return lines.join('\n');
}

import type { BenchResults } from './results';

const signed = (s: number) => `${s >= 0 ? '+' : ''}${s.toFixed(2)}`;
const verdict = (met: boolean) => (met ? 'met' : 'NOT met');
const WIDTHS = [9, 10, 12, 8, 8, 10, 10, 17];

function row(cells: string[]): string {
  return cells.map((c, i) => (i < 2 ? c.padEnd(WIDTHS[i]!) : c.padStart(WIDTHS[i]!))).join('  ');
}

function stepLines(results: BenchResults): string[] {
  return (['backup', 'restore'] as const).flatMap((op) =>
    (['inProcess', 'cli'] as const).map((side) => {
      const steps = Object.entries(results.medianStepsMs[op][side]).map(([name, ms]) => `${name} ${ms.toFixed(0)}`);
      return `  ${op} ${side === 'inProcess' ? 'in-process' : 'cli'}: ${steps.join(', ')}`;
    }),
  );
}

export function formatTable(results: BenchResults): string {
  const c = results.definitions.counts;
  return [
    `definitions: ${results.definitions.bytes} bytes (RabbitMQ ${results.rabbitmqVersion ?? 'unknown'}): ${c.vhosts} vhosts, ${c.queues} queues, ` +
      `${c.bindings} bindings, ${c.exchanges} exchanges, ${c.policies} policies, ${c.permissions} permissions, ${c.users} users`,
    `medians of ${results.runs.backup} backup and ${results.runs.restore} restore run(s) per side; ${results.host.cpus} CPUs, Node ${results.host.node}; ` +
      `ours = ${results.source.commit?.slice(0, 7) ?? 'unknown commit'}${results.source.modifiedOutsideBench ? ' + uncommitted changes' : ''}; ` +
      `load average ${results.host.loadAverageAtStart.join(' ')} at start, ${results.host.loadAverageAtEnd.join(' ')} at end`,
    '',
    row(['operation', 'variant', 'reference ms', 'ours ms', 'ours/ref', 'overhead s', 'paired s', 'goal < 2 s (o/p)']),
    ...results.comparisons.map((r) =>
      row([
        r.operation,
        r.variant,
        r.referenceMedianMs.toFixed(0),
        r.oursMedianMs.toFixed(0),
        `${r.ratio.toFixed(2)}x`,
        signed(r.overheadSeconds),
        signed(r.pairedOverheadSeconds),
        `${verdict(r.goalMet)} / ${verdict(r.pairedGoalMet)}`,
      ]),
    ),
    '',
    'overhead s: ours median - reference median. paired s: median over runs of ours minus its own exportDefinitions/',
    "importDefinitions step's last attempt (the bare call inside ours), which RabbitMQ's run-to-run noise does not reach; failed",
    'earlier attempts of it count as overhead. goal: o = overhead, p = paired.',
    '',
    ...(['backup', 'restore'] as const).map(
      (op) => `${op} samples ms: ${Object.entries(results.samplesMs[op]).map(([side, s]) => `${side} [${s.map((x) => x.toFixed(0)).join(', ')}]`).join('; ')}`,
    ),
    '',
    'where our time went (median ms per step, from the workflow histories):',
    ...stepLines(results),
    ...(results.warnings.length ? ['', ...results.warnings.map((w) => `WARNING ${w}`)] : []),
    '',
    `total runtime: ${results.totalRuntimeSeconds.toFixed(1)} s`,
  ].join('\n');
}

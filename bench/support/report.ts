import { mkdirSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { DefinitionsCounts } from '../../activities/definitions/model';
import { median } from './timing';
import type { OurSide, Side } from './operations';
import type { StepTimings } from './workflowSteps';

// The goal under test: our workflow adds less than this over the bare management API calls.
export const OVERHEAD_GOAL_MS = 2_000;

export type Samples = Record<Side, number[]>;

export interface Comparison {
  operation: 'backup' | 'restore';
  variant: 'in-process' | 'cli';
  referenceMedianMs: number;
  oursMedianMs: number;
  ratio: number;
  overheadSeconds: number;
  goalMet: boolean;
  // Per run: ours minus the activity that wraps the bare call in that same run.
  // RabbitMQ's import time varies by seconds between runs; this does not.
  pairedOverheadSeconds: number;
}

export interface BenchResults {
  date: string;
  runs: number;
  host: { cpus: number; node: string; platform: string };
  rabbitmqVersion: string | null;
  definitions: { bytes: number; counts: DefinitionsCounts; seedImportSeconds: number };
  samplesMs: { backup: Samples; restore: Samples };
  comparisons: Comparison[];
  // Where our time went, per workflow step, from the workflows' own histories.
  medianStepsMs: Record<'backup' | 'restore', Record<OurSide, StepTimings>>;
  goal: string;
  totalRuntimeSeconds: number;
}

const round = (n: number, digits: number) => Number(n.toFixed(digits));

// The activity of ours that makes the bare management API call.
const BARE_CALL_STEP = { backup: 'exportDefinitions', restore: 'importDefinitions' } as const;

export function compare(operation: Comparison['operation'], samples: Samples, steps: Record<OurSide, StepTimings[]>): Comparison[] {
  const reference = median(samples.reference);
  return (['inProcess', 'cli'] as const).map((side) => {
    const ours = median(samples[side]);
    const paired = samples[side].map((ms, run) => ms - (steps[side][run]?.[BARE_CALL_STEP[operation]] ?? Number.NaN));
    return {
      operation,
      variant: side === 'inProcess' ? 'in-process' : 'cli',
      referenceMedianMs: round(reference, 1),
      oursMedianMs: round(ours, 1),
      ratio: round(ours / reference, 2),
      overheadSeconds: round((ours - reference) / 1000, 3),
      goalMet: ours - reference < OVERHEAD_GOAL_MS,
      pairedOverheadSeconds: round(median(paired) / 1000, 3),
    };
  });
}

export function hostInfo(): BenchResults['host'] {
  return { cpus: os.cpus().length, node: process.version, platform: `${os.platform()} ${os.release()}` };
}

const signed = (s: number) => `${s >= 0 ? '+' : ''}${s.toFixed(2)}`;

function row(cells: string[], widths: number[]): string {
  return cells.map((c, i) => (i < 2 ? c.padEnd(widths[i]!) : c.padStart(widths[i]!))).join('  ');
}

export function formatTable(results: BenchResults): string {
  const c = results.definitions.counts;
  const widths = [9, 10, 12, 10, 9, 11, 22, 18];
  const lines = [
    `definitions: ${results.definitions.bytes.toLocaleString('en-US')} bytes (RabbitMQ ${results.rabbitmqVersion ?? 'unknown'}): ${c.vhosts} vhosts, ${c.queues} queues, ${c.bindings} bindings, ${c.exchanges} exchanges, ${c.policies} policies, ${c.permissions} permissions, ${c.users} users`,
    `median of ${results.runs} run(s) each; ${results.host.cpus} CPUs, Node ${results.host.node}`,
    '',
    row(['operation', 'variant', 'reference ms', 'ours ms', 'ours/ref', 'overhead s', 'goal: overhead < 2 s', 'paired overhead s'], widths),
    ...results.comparisons.map((r) =>
      row(
        [
          r.operation,
          r.variant,
          r.referenceMedianMs.toFixed(0),
          r.oursMedianMs.toFixed(0),
          `${r.ratio.toFixed(2)}x`,
          signed(r.overheadSeconds),
          r.goalMet ? 'met' : 'NOT met',
          signed(r.pairedOverheadSeconds),
        ],
        widths,
      ),
    ),
    'overhead s = ours median - reference median; paired overhead s = median over runs of (ours - its own',
    `exportDefinitions/importDefinitions step), i.e. our time beside the bare call, free of RabbitMQ's run-to-run noise`,
    '',
    ...(['backup', 'restore'] as const).map(
      (op) =>
        `${op} samples ms: ${Object.entries(results.samplesMs[op])
          .map(([side, s]) => `${side} [${s.map((x) => x.toFixed(0)).join(', ')}]`)
          .join('; ')}`,
    ),
    '',
    'where our time went (median ms per step, from the workflow histories):',
    ...(['backup', 'restore'] as const).flatMap((op) =>
      (['inProcess', 'cli'] as const).map(
        (side) =>
          `  ${op} ${side === 'inProcess' ? 'in-process' : 'cli'}: ${Object.entries(results.medianStepsMs[op][side])
            .map(([name, ms]) => `${name} ${ms.toFixed(0)}`)
            .join(', ')}`,
      ),
    ),
    `total runtime: ${results.totalRuntimeSeconds.toFixed(1)} s`,
  ];
  return lines.join('\n');
}

export function writeResults(results: BenchResults): string {
  const dir = path.resolve(__dirname, '../results');
  mkdirSync(dir, { recursive: true });
  const file = path.join(dir, `definitions-${results.date.slice(0, 10)}.json`);
  writeFileSync(file, `${JSON.stringify(results, null, 2)}\n`);
  return file;
}

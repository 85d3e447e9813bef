import { mkdirSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { DefinitionsCounts } from '../../lib/definitions/model';
import type { RabbitvaultConfig } from '../../config/schema';
import type { OurSide, Side } from './operations';
import type { SeededSource } from './seedSource';
import { sourceVersion } from './sourceVersion';
import { median } from './timing';
import { medianSteps, type RunSteps, type StepTimings } from './workflowSteps';

// The goal under test: our workflow adds less than this over the bare management API calls.
export const OVERHEAD_GOAL_MS = 2_000;

export type Operation = 'backup' | 'restore';
export type Samples = Record<Side, number[]>;

export interface Comparison {
  operation: Operation;
  variant: 'in-process' | 'cli';
  referenceMedianMs: number;
  oursMedianMs: number;
  ratio: number;
  overheadSeconds: number;
  goalMet: boolean;
  // Per run: ours minus the activity that wraps the bare call in that same run.
  // RabbitMQ's import time varies by seconds between runs; this does not.
  pairedOverheadSeconds: number;
  pairedGoalMet: boolean;
}

export interface BenchResults {
  date: string;
  source: ReturnType<typeof sourceVersion>;
  runs: Record<Operation, number>;
  // Load averages before and after: other work on the machine shows up as noise here.
  host: { cpus: number; node: string; platform: string; loadAverageAtStart: number[]; loadAverageAtEnd: number[] };
  rabbitmqVersion: string | null;
  definitions: { bytes: number; counts: DefinitionsCounts; seedImportSeconds: number };
  samplesMs: Record<Operation, Samples>;
  comparisons: Comparison[];
  // Where our time went, per workflow step, from the workflows' own histories.
  medianStepsMs: Record<Operation, Record<OurSide, StepTimings>>;
  stepsPerRun: Record<Operation, Record<OurSide, RunSteps[]>>;
  warnings: string[];
  goal: string;
  totalRuntimeSeconds: number;
}

const round = (n: number, digits: number) => Number(n.toFixed(digits));

export const loadAverage = () => os.loadavg().map((l) => round(l, 2));

// The activity of ours that makes the bare management API call.
const BARE_CALL_STEP = { backup: 'exportDefinitions', restore: 'importDefinitions' } as const;

export function compare(operation: Operation, samples: Samples, steps: Record<OurSide, RunSteps[]>): Comparison[] {
  const reference = median(samples.reference);
  return (['inProcess', 'cli'] as const).map((side) => {
    const ours = median(samples[side]);
    const paired = median(samples[side].map((ms, run) => ms - (steps[side][run]?.ms[BARE_CALL_STEP[operation]] ?? Number.NaN)));
    return {
      operation,
      variant: side === 'inProcess' ? 'in-process' : 'cli',
      referenceMedianMs: round(reference, 1),
      oursMedianMs: round(ours, 1),
      ratio: round(ours / reference, 2),
      overheadSeconds: round((ours - reference) / 1000, 3),
      goalMet: ours - reference < OVERHEAD_GOAL_MS,
      pairedOverheadSeconds: round(paired / 1000, 3),
      pairedGoalMet: paired < OVERHEAD_GOAL_MS,
    };
  });
}

// What an operator of this size should know: imports near the management API
// timeout (ours would give up and retry) and steps that were retried.
export function findWarnings(samples: Samples, steps: Record<OurSide, RunSteps[]>, managementTimeoutSeconds: number, op: Operation): string[] {
  const warnings: string[] = [];
  const step = BARE_CALL_STEP[op];
  const ours = [...steps.inProcess, ...steps.cli].map((s) => s.ms[step] ?? 0);
  const longest = Math.max(...samples.reference, ...ours);
  if (longest > managementTimeoutSeconds * 1000 * 0.75) {
    warnings.push(
      `${op}: the longest ${step === 'importDefinitions' ? 'POST' : 'GET'} /api/definitions took ${(longest / 1000).toFixed(1)} s ` +
        `(reference max ${(Math.max(...samples.reference) / 1000).toFixed(1)} s, ours max ${(Math.max(...ours) / 1000).toFixed(1)} s), ` +
        `against clusters.<name>.management.timeoutSeconds = ${managementTimeoutSeconds} s, which bounds the whole call`,
    );
  }
  const retries = [...steps.inProcess, ...steps.cli].reduce((n, s) => n + s.retries, 0);
  if (retries > 0) warnings.push(`${op}: ${retries} activity attempt(s) were retried; see stepsPerRun`);
  return warnings;
}

export interface Measured {
  runs: BenchResults['runs'];
  loadAverageAtStart: number[];
  seeded: SeededSource;
  samples: Record<Operation, Samples>;
  steps: Record<Operation, Record<OurSide, RunSteps[]>>;
  config: RabbitvaultConfig;
}

export function buildResults({ runs, loadAverageAtStart, seeded, samples, steps, config }: Measured, totalRuntimeSeconds: number): BenchResults {
  const perSide = (op: Operation) => ({ inProcess: medianSteps(steps[op].inProcess), cli: medianSteps(steps[op].cli) });
  return {
    date: new Date().toISOString(),
    source: sourceVersion(),
    runs,
    host: {
      cpus: os.cpus().length,
      node: process.version,
      platform: `${os.platform()} ${os.release()}`,
      loadAverageAtStart,
      loadAverageAtEnd: loadAverage(),
    },
    rabbitmqVersion: seeded.rabbitmqVersion,
    definitions: { bytes: seeded.exported.length, counts: seeded.counts, seedImportSeconds: round(seeded.importMs / 1000, 1) },
    samplesMs: samples,
    comparisons: [...compare('backup', samples.backup, steps.backup), ...compare('restore', samples.restore, steps.restore)],
    medianStepsMs: { backup: perSide('backup'), restore: perSide('restore') },
    stepsPerRun: steps,
    warnings: [
      ...findWarnings(samples.backup, steps.backup, config.clusters.source?.management.timeoutSeconds ?? 30, 'backup'),
      ...findWarnings(samples.restore, steps.restore, config.clusters.target?.management.timeoutSeconds ?? 30, 'restore'),
    ],
    goal: 'under 2 s of workflow overhead over the bare management API calls: checked on ours median - reference median, and paired',
    totalRuntimeSeconds: round(totalRuntimeSeconds, 1),
  };
}

export function writeResults(results: BenchResults): string {
  const dir = path.resolve(__dirname, '../results');
  mkdirSync(dir, { recursive: true });
  const file = path.join(dir, `definitions-${results.date.slice(0, 10)}.json`);
  writeFileSync(file, `${JSON.stringify(results, null, 2)}\n`);
  return file;
}

// `npm run bench`: definitions backup and restore of 10,000 queues, ours
// (in-process worker, and the CLI end to end) against bare management API
// calls, on a stack of the bench's own. BENCH_RUNS sets the runs per side
// (default: 5 backups, 3 restores).
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import { SetupError, step } from '../scripts/devstack/progress';
import { writeBenchConfig } from './support/benchConfig';
import { quietTemporalRuntime, startInProcessWorker } from './support/inProcessWorker';
import { backupOperations, checkTargetRestored, restoreOperations, SIDES, type BenchContext, type Side, type TimedCall } from './support/operations';
import { buildResults, loadAverage, writeResults, type Measured, type Samples } from './support/results';
import { seedSource } from './support/seedSource';
import { startBenchStack, type BenchStack } from './support/stack';
import { formatTable } from './support/table';
import { runsFromEnv, timed } from './support/timing';
import { stepTimingsOf } from './support/workflowSteps';

interface AroundEachCall {
  before?: () => Promise<void>;
  after?: (side: Side) => Promise<void>;
}

// Sides interleave within each run so drift on the machine hits all of them alike.
async function measure(label: string, runs: number, calls: Record<Side, TimedCall>, around: AroundEachCall = {}): Promise<Samples> {
  const samples: Samples = { reference: [], inProcess: [], cli: [] };
  for (let run = 1; run <= runs; run += 1) {
    for (const side of SIDES) {
      const prepared = around.before ? await timed(around.before) : 0;
      const ms = await timed(calls[side]);
      samples[side].push(ms);
      await around.after?.(side);
      step(`bench: ${label} run ${run}/${runs} ${side}: ${ms.toFixed(0)} ms${prepared ? ` (after ${(prepared / 1000).toFixed(1)} s resetting the target)` : ''}`);
    }
  }
  return samples;
}

async function bench(stack: BenchStack, runs: Measured['runs'], loadAverageAtStart: number[]): Promise<Measured> {
  const { config, file: configFile } = writeBenchConfig(stack);
  const seeded = await seedSource(stack.source);
  step('bench: starting the in-process worker (bundling workflows)');
  const worker = await startInProcessWorker(config);
  try {
    const ctx: BenchContext = {
      stack,
      config,
      configFile,
      client: worker.client,
      referenceFile: path.join(stack.runDir, 'reference-definitions.json'),
      referenceBytes: seeded.exported,
      expected: seeded.counts,
      workflowRuns: { backup: { inProcess: [], cli: [] }, restore: { inProcess: [], cli: [] } },
    };
    const backup = await measure('backup', runs.backup, backupOperations(ctx));
    const restore = await measure('restore', runs.restore, restoreOperations(ctx), {
      before: () => stack.target.reset(),
      after: (side) => checkTargetRestored(ctx, side),
    });
    step('bench: reading step timings from the workflow histories');
    const steps = {
      backup: await stepTimingsOf(worker.client, ctx.workflowRuns.backup),
      restore: await stepTimingsOf(worker.client, ctx.workflowRuns.restore),
    };
    return { runs, loadAverageAtStart, seeded, samples: { backup, restore }, steps, config };
  } finally {
    await worker.stop();
  }
}

async function main(): Promise<void> {
  const startedAt = performance.now();
  const loadAverageAtStart = loadAverage();
  const runs = runsFromEnv({ backup: 5, restore: 3 });
  quietTemporalRuntime();
  const stack = await startBenchStack();
  let measured: Measured;
  try {
    measured = await bench(stack, runs, loadAverageAtStart);
  } finally {
    await stack.stop();
  }
  const results = buildResults(measured, (performance.now() - startedAt) / 1000);
  const file = writeResults(results);
  process.stdout.write(`\n${formatTable(results)}\nresults: ${path.relative(process.cwd(), file)}\n`);
}

main().catch((error: unknown) => {
  process.stderr.write(`bench failed: ${error instanceof SetupError ? error.message : String((error as Error)?.stack ?? error)}\n`);
  process.exit(1);
});

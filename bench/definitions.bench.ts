// `npm run bench`: definitions backup and restore of 10,000 queues, ours
// (in-process worker, and the CLI end to end) against bare management API
// calls, on a stack of the bench's own. BENCH_RUNS sets the runs per side.
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import { SetupError, step } from '../scripts/devstack/progress';
import { writeBenchConfig } from './support/benchConfig';
import { quietTemporalRuntime, startInProcessWorker } from './support/inProcessWorker';
import { backupOperations, checkTargetRestored, restoreOperations, SIDES, type BenchContext, type Operation, type Side } from './support/operations';
import { compare, formatTable, hostInfo, writeResults, type BenchResults, type Samples } from './support/report';
import { seedSource } from './support/seedSource';
import { startBenchStack, type BenchStack } from './support/stack';
import { runsFromEnv, timed } from './support/timing';
import { medianSteps, stepTimingsOf } from './support/workflowSteps';

const emptySamples = (): Samples => ({ reference: [], inProcess: [], cli: [] });

// Sides interleave within each run so drift on the machine hits all of them alike.
async function measure(label: string, runs: number, operations: Record<Side, Operation>, around: { before?: () => Promise<void>; after?: (side: Side) => Promise<void> } = {}): Promise<Samples> {
  const samples = emptySamples();
  for (let run = 1; run <= runs; run += 1) {
    for (const side of SIDES) {
      const prepared = around.before ? await timed(around.before) : 0;
      const ms = await timed(operations[side]);
      samples[side].push(ms);
      await around.after?.(side);
      step(`bench: ${label} run ${run}/${runs} ${side}: ${ms.toFixed(0)} ms${prepared ? ` (after ${(prepared / 1000).toFixed(1)} s resetting the target)` : ''}`);
    }
  }
  return samples;
}

async function bench(stack: BenchStack, runs: number, startedAt: number): Promise<BenchResults> {
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
    const backup = await measure('backup', runs, backupOperations(ctx));
    const restore = await measure('restore', runs, restoreOperations(ctx), {
      before: () => stack.target.reset(),
      after: (side) => checkTargetRestored(ctx, side),
    });
    step('bench: reading step timings from the workflow histories');
    const steps = { backup: await stepTimingsOf(worker.client, ctx.workflowRuns.backup), restore: await stepTimingsOf(worker.client, ctx.workflowRuns.restore) };
    return {
      date: new Date().toISOString(),
      runs,
      host: hostInfo(),
      rabbitmqVersion: seeded.rabbitmqVersion,
      definitions: { bytes: seeded.exported.length, counts: seeded.counts, seedImportSeconds: Number((seeded.importMs / 1000).toFixed(1)) },
      samplesMs: { backup, restore },
      comparisons: [...compare('backup', backup, steps.backup), ...compare('restore', restore, steps.restore)],
      medianStepsMs: {
        backup: { inProcess: medianSteps(steps.backup.inProcess), cli: medianSteps(steps.backup.cli) },
        restore: { inProcess: medianSteps(steps.restore.inProcess), cli: medianSteps(steps.restore.cli) },
      },
      goal: 'ours median - reference median < 2 s (workflow overhead over the bare management API calls)',
      totalRuntimeSeconds: (performance.now() - startedAt) / 1000,
    };
  } finally {
    await worker.stop();
  }
}

async function main(): Promise<void> {
  const startedAt = performance.now();
  const runs = runsFromEnv(5);
  quietTemporalRuntime();
  const stack = await startBenchStack();
  for (const signal of ['SIGINT', 'SIGTERM'] as const) {
    process.once(signal, () => void stack.stop().then(() => process.exit(130)));
  }
  let results: BenchResults;
  try {
    results = await bench(stack, runs, startedAt);
  } finally {
    await stack.stop();
  }
  results.totalRuntimeSeconds = Number(((performance.now() - startedAt) / 1000).toFixed(1));
  const file = writeResults(results);
  process.stdout.write(`\n${formatTable(results)}\nresults: ${path.relative(process.cwd(), file)}\n`);
}

main().catch((error: unknown) => {
  process.stderr.write(`bench failed: ${error instanceof SetupError ? error.message : String((error as Error)?.stack ?? error)}\n`);
  process.exit(1);
});

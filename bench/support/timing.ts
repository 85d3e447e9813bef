import { performance } from 'node:perf_hooks';

export async function timed(fn: () => Promise<unknown>): Promise<number> {
  const started = performance.now();
  await fn();
  return performance.now() - started;
}

export function median(samples: number[]): number {
  if (samples.length === 0) throw new Error('median of no samples');
  const sorted = [...samples].sort((a, b) => a - b);
  const mid = Math.floor(sorted.length / 2);
  return sorted.length % 2 === 1 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2;
}

// BENCH_RUNS sets every side's runs; unset, restores (about 30 s of RabbitMQ
// import plus a 9 s reset per sample here) run fewer times than backups to
// keep the bench under 10 minutes on 2 cores.
export function runsFromEnv(fallback: { backup: number; restore: number }): { backup: number; restore: number } {
  const raw = process.env.BENCH_RUNS;
  if (raw === undefined || raw === '') return fallback;
  const runs = Number(raw);
  if (!Number.isInteger(runs) || runs < 1) throw new Error(`BENCH_RUNS must be a whole number >= 1, got "${raw}"`);
  return { backup: runs, restore: runs };
}

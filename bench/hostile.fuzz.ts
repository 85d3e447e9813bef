// `npm run fuzz:hostile [-- --seconds 120 --iterations 20000 --seed 1]`:
// random mutations of valid archives, segments, manifests and queue indexes fed
// to the parsers a restore uses. Every input must be accepted or refused by
// name; a crash (any other error), a hang, or anything unsafe that GNU tar
// extracts from what the guard passed fails the run. Bounded in count and time.
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { mutate, mutateJson, Rng } from './fuzz/mutate';
import { manifestTarget, queueIndexTarget, segmentTarget, tarTarget, type FuzzTarget, type Outcome } from './fuzz/targets';

function arg(name: string, fallback: number): number {
  const i = process.argv.indexOf(`--${name}`);
  return i > 0 ? Number(process.argv[i + 1]) : fallback;
}

const CASE_TIMEOUT_MS = 10_000;

async function withTimeout(run: Promise<Outcome>): Promise<Outcome> {
  let timer: NodeJS.Timeout | undefined;
  const hang = new Promise<Outcome>((resolve) => (timer = setTimeout(() => resolve({ kind: 'crashed', error: `no answer within ${CASE_TIMEOUT_MS} ms (hang)` }), CASE_TIMEOUT_MS)));
  try {
    return await Promise.race([run, hang]);
  } finally {
    clearTimeout(timer);
  }
}

async function main(): Promise<number> {
  const seconds = arg('seconds', 120);
  const iterations = arg('iterations', 20_000);
  const seed = arg('seed', Date.now() % 0xffffffff);
  const rng = new Rng(seed);
  const workDir = mkdtempSync(path.join(os.tmpdir(), 'rv-fuzz-'));
  const tar = tarTarget(workDir);
  const targets: FuzzTarget[] = [tar, segmentTarget(), manifestTarget(mutateJson), queueIndexTarget(mutateJson)];
  const tally = new Map(targets.map((t) => [t.name, { runs: 0, accepted: 0, refused: 0, failures: [] as string[] }]));
  const rssStart = process.memoryUsage().rss;
  let rssPeak = rssStart;
  const deadline = Date.now() + seconds * 1000;
  console.log(`fuzz: seed ${seed}, at most ${iterations} inputs or ${seconds} s`);
  let i = 0;
  try {
    for (; i < iterations && Date.now() < deadline; i += 1) {
      const target = targets[i % targets.length]!;
      const { bytes, applied } = mutate(rng.pick(target.seeds), rng);
      const input = target.repair ? target.repair(bytes, rng) : bytes;
      const outcome = await withTimeout(target.run(input, rng).catch((error: unknown) => ({ kind: 'crashed', error: String(error) }) as Outcome));
      const t = tally.get(target.name)!;
      t.runs += 1;
      if (outcome.kind === 'accepted') t.accepted += 1;
      else if (outcome.kind === 'refused') t.refused += 1;
      else {
        const file = path.join(workDir, `failure-${i}.bin`);
        writeFileSync(file, input);
        t.failures.push(`#${i} (${applied.join(', ')}): ${outcome.kind === 'crashed' ? outcome.error : outcome.problem}`);
      }
      if (i % 50 === 0) rssPeak = Math.max(rssPeak, process.memoryUsage().rss);
    }
  } finally {
    rssPeak = Math.max(rssPeak, process.memoryUsage().rss);
  }
  const failures = [...tally.values()].reduce((n, t) => n + t.failures.length, 0);
  console.log(`\n${'target'.padEnd(58)} ${'inputs'.padStart(7)} ${'accepted'.padStart(9)} ${'refused'.padStart(8)} ${'failed'.padStart(7)}`);
  for (const [name, t] of tally) console.log(`${name.padEnd(58)} ${String(t.runs).padStart(7)} ${String(t.accepted).padStart(9)} ${String(t.refused).padStart(8)} ${String(t.failures.length).padStart(7)}`);
  console.log(`\naccepted archives extracted with GNU tar: ${tar.extractions} (tar itself refused ${tar.tarRefusedGuardOutput} of the guard's outputs${tar.tarRefusal ? `, first: ${tar.tarRefusal}` : ''})`);
  console.log(`inputs: ${i}; RSS ${(rssStart / 2 ** 20).toFixed(0)} MiB at start, peak ${(rssPeak / 2 ** 20).toFixed(0)} MiB`);
  for (const t of tally.values()) for (const f of t.failures.slice(0, 5)) console.log(`FAILED ${f}`);
  const results = { date: new Date().toISOString(), seed, inputs: i, seconds, rssStartMiB: rssStart / 2 ** 20, rssPeakMiB: rssPeak / 2 ** 20, tarExtractions: tar.extractions, targets: Object.fromEntries(tally) };
  const dir = path.join(__dirname, 'results');
  mkdirSync(dir, { recursive: true });
  writeFileSync(path.join(dir, `fuzz-hostile-${results.date.slice(0, 10)}.json`), `${JSON.stringify(results, null, 2)}\n`);
  if (failures === 0) rmSync(workDir, { recursive: true, force: true });
  else console.log(`failing inputs kept in ${workDir}; replay with --seed ${seed}`);
  console.log(`${i - failures} passed, ${failures} failed`);
  return failures === 0 ? 0 : 1;
}

main().then(
  (code) => process.exit(code),
  (error: unknown) => {
    console.error(error);
    process.exit(1);
  },
);

// Runs test files in lanes side by side. Most of a test's time is spent waiting
// on RabbitMQ (stop_app, boot, Raft elections) or on a killed worker's timeout,
// not on the CPU, so two lanes on two cores finish in a little over half the time
// of one. Each lane has its own RabbitMQ nodes, Temporal namespace and bucket
// (TestStackInfo.lane); a lane runs one file at a time, longest first, and a file
// that uses the shared Kubernetes API server runs in lane 1 only.
import { spawn, type ChildProcess } from 'node:child_process';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { step } from './progress';
import { TEST_STACK_ENV, type TestStackInfo } from './testStack';

export interface FileOutcome {
  file: string;
  lane: number;
  seconds: number;
  exitCode: number;
  counts: { tests: number; pass: number; fail: number; cancelled: number; skipped: number; todo: number };
}

// Files that reach the Kubernetes API server (its port-forwards land on lane 1's node a).
export function needsLaneOne(file: string): boolean {
  return /testStack\(\)\.kubernetes|support\/kubernetes|snapshotController|statefulSetController/.test(readFileSync(file, 'utf8'));
}

// Seconds each file took in a warm run (test/timings.json): longest first keeps the
// lanes even at the end. A file not listed counts as short.
function expectedSeconds(root: string): (file: string) => number {
  let timings: Record<string, number> = {};
  try {
    timings = JSON.parse(readFileSync(path.join(root, 'test', 'timings.json'), 'utf8')) as Record<string, number>;
  } catch {
    // No timings: alphabetical order, still correct.
  }
  return (file) => timings[path.basename(file)] ?? 5;
}

function tapCounts(output: string): FileOutcome['counts'] {
  const count = (name: string) => Number(new RegExp(`^# ${name} (\\d+)$`, 'm').exec(output)?.[1] ?? 0);
  return { tests: count('tests'), pass: count('pass'), fail: count('fail'), cancelled: count('cancelled'), skipped: count('skipped'), todo: count('todo') };
}

export async function runInLanes(options: { root: string; files: string[]; lanes: TestStackInfo[]; env: NodeJS.ProcessEnv }): Promise<FileOutcome[]> {
  const seconds = expectedSeconds(options.root);
  const queue = options.files.map((file) => ({ file, laneOne: options.lanes.length > 1 && needsLaneOne(file), expected: seconds(file) }));
  queue.sort((x, y) => y.expected - x.expected || x.file.localeCompare(y.file));
  const outcomes: FileOutcome[] = [];
  const running = new Set<ChildProcess>();
  const stopAll = () => running.forEach((c) => c.kill('SIGTERM'));
  process.once('SIGINT', stopAll);

  const next = (lane: number) => {
    // Lane 1 takes its own files first so lane 2 is never left idle waiting for them.
    const pick = lane === 1 ? (queue.findIndex((q) => q.laneOne) >= 0 ? queue.findIndex((q) => q.laneOne) : 0) : queue.findIndex((q) => !q.laneOne);
    return pick >= 0 && pick < queue.length ? queue.splice(pick, 1)[0] : undefined;
  };

  const runLane = async (info: TestStackInfo) => {
    for (let item = next(info.lane.number); item; item = next(info.lane.number)) {
      const name = path.relative(options.root, item.file);
      step(`lane ${info.lane.number}: ${name} started (${queue.length} waiting)`);
      const started = Date.now();
      const child = spawn(process.execPath, ['--import', 'tsx', '--test', '--test-reporter=tap', '--test-timeout=600000', item.file], {
        cwd: options.root,
        env: { ...options.env, [TEST_STACK_ENV]: JSON.stringify(info) },
        stdio: ['ignore', 'pipe', 'pipe'],
      });
      running.add(child);
      let output = '';
      child.stdout.on('data', (c: Buffer) => (output += c.toString()));
      child.stderr.on('data', (c: Buffer) => (output += c.toString()));
      const exitCode = await new Promise<number>((resolve) => child.on('close', (code, signal) => resolve(code ?? (signal ? 1 : 0))));
      running.delete(child);
      const outcome: FileOutcome = { file: name, lane: info.lane.number, seconds: (Date.now() - started) / 1000, exitCode, counts: tapCounts(output) };
      outcomes.push(outcome);
      const failed = exitCode !== 0 || outcome.counts.fail > 0 || outcome.counts.cancelled > 0;
      // The whole file's output at once, so two lanes never interleave lines.
      process.stdout.write(`\n──── ${name} (lane ${outcome.lane}, ${outcome.seconds.toFixed(0)} s) ────\n${output}`);
      step(`lane ${outcome.lane}: ${name} ${failed ? 'FAILED' : 'passed'} in ${outcome.seconds.toFixed(0)} s (${outcome.counts.pass} passed, ${outcome.counts.fail} failed)`);
    }
  };
  try {
    await Promise.all(options.lanes.map(runLane));
  } finally {
    process.removeListener('SIGINT', stopAll);
  }
  return outcomes;
}

export function summary(outcomes: FileOutcome[], wallSeconds: number): { text: string; ok: boolean } {
  const sorted = [...outcomes].sort((x, y) => y.seconds - x.seconds);
  const total = (k: keyof FileOutcome['counts']) => outcomes.reduce((n, o) => n + o.counts[k], 0);
  const failedFiles = outcomes.filter((o) => o.exitCode !== 0 || o.counts.fail > 0 || o.counts.cancelled > 0);
  const lines = sorted.map((o) => `${o.seconds.toFixed(0).padStart(6)} s  lane ${o.lane}  ${o.exitCode === 0 && o.counts.fail === 0 ? 'ok  ' : 'FAIL'}  ${o.file} (${o.counts.pass}/${o.counts.tests})`);
  const text = [
    '',
    'test files, slowest first:',
    ...lines,
    `tests ${total('tests')}, passed ${total('pass')}, failed ${total('fail')}, cancelled ${total('cancelled')}, skipped ${total('skipped')}, todo ${total('todo')}; ${outcomes.length} files in ${(wallSeconds / 60).toFixed(1)} min`,
    ...failedFiles.map((o) => `FAILED: ${o.file}`),
    '',
  ].join('\n');
  return { text, ok: failedFiles.length === 0 && total('skipped') === 0 && total('todo') === 0 };
}

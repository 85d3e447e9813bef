// "Crash at every step": runs a workflow once per activity boundary, SIGKILLing
// the worker process right after that activity starts (and, in another run,
// right after it completes), restarts the worker, and checks the caller's
// invariants after each run. The boundaries come from the history of one clean
// run, so a new activity in a workflow is covered without editing any test.
import type { ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import path from 'node:path';
import { WorkflowFailedError, type Client, type WorkflowHandle } from '@temporalio/client';
import { ApplicationFailure } from '@temporalio/common';
import { temporal } from '@temporalio/proto';
import { ensureWorkerBuilt, spawnCompiledWorker } from '../../cli/compiledWorker';
import { killHard, workerPolling } from './workerProcess';

const { EventType, PendingActivityState } = temporal.api.enums.v1;
type HistoryEvent = temporal.api.history.v1.IHistoryEvent;

// One activity the workflow scheduled: its type and which call of that type it is (1-based).
export interface Boundary {
  ordinal: number;
  activityType: string;
  occurrence: number;
  // How long the clean run's attempt took (start to completion), when the history says.
  cleanMs: number | null;
}

export type Phase = 'started' | 'completed';

export interface KillPoint {
  boundary: Boundary;
  phase: Phase;
  label: string;
}

export interface RunOutcome<R> {
  ok: boolean;
  result?: R;
  failure?: { message: string; type?: string };
}

export interface PointReport<R> extends RunOutcome<R> {
  point: KillPoint;
  hit: boolean;
  // Why a point was not caught, or where the kill landed.
  note: string;
  seconds: number;
  problems: string[];
}

export interface CrashLoopReport<R> {
  workflowType: string;
  boundaries: Boundary[];
  clean: { seconds: number; problems: string[]; outcome: RunOutcome<R> };
  points: Array<PointReport<R>>;
  seconds: number;
}

export interface CrashLoopOptions<S, R> {
  client: Client;
  taskQueue: string;
  workflowType: string;
  // Starts the production worker process (serving every queue the workflow uses).
  spawnWorker: () => Promise<ChildProcess>;
  // Sets up the state before a run; what it returns is handed to check().
  prepare: (run: string) => Promise<S>;
  input: (state: S) => object;
  // Asserts the invariants after a run (throws on a violation); may also restore state for the next run.
  check: (run: { label: string; state: S; outcome: RunOutcome<R>; handle: WorkflowHandle; point?: KillPoint; hit: boolean }) => Promise<void>;
  // Waited for before each run (e.g. a cluster lock of the previous run to end).
  beforeStart?: () => Promise<void>;
  pollMs?: number;
  runTimeoutMs?: number;
  // Called with each finished point (progress lines).
  onPoint?: (line: string) => void;
  workflowTaskTimeout?: string;
  // Kill points per run, in workflow order (1: one run per point; more: the worker
  // is killed at each point of the group within one run, invariants checked after it).
  pointsPerRun?: number;
  // Fail the attempts the killed worker was running at once (default) instead of
  // waiting out their heartbeat or attempt timeout.
  failOrphanedAttempts?: boolean;
  // Only these points (a closer look at one, or a stretch of the workflow; default: all).
  only?: (point: KillPoint, boundaries: Boundary[]) => boolean;
}

// The production worker (dist/) as a process, built at most once per test file:
// sources another engineer edits meanwhile must not rebuild it between two
// kills (a minute each, and new workflow code under a running workflow).
let built = false;
export async function spawnBuiltWorker(configFile: string, env: NodeJS.ProcessEnv = {}): Promise<ChildProcess> {
  if (!built) {
    // Others edit the shared tree: a build broken for a moment is tried again, then an existing build is used.
    for (let attempt = 1; !built; attempt += 1) {
      const build = ensureWorkerBuilt('pipe');
      if (build.ok) built = true;
      else if (attempt < 3) await new Promise((r) => setTimeout(r, 20_000));
      else if (existsSync(path.join(__dirname, '..', '..', 'dist', 'workers', 'main.js'))) {
        process.stderr.write(`crash harness: building the worker failed, using the existing dist/: ${build.stderr.slice(-500)}\n`);
        built = true;
      } else throw new Error(`building the worker failed: ${build.stderr}`);
    }
  }
  const child = spawnCompiledWorker(['--config', configFile], { env: { ...process.env, ...env }, stdio: ['ignore', 'ignore', 'pipe'] });
  await workerPolling(child);
  // Keep draining stderr so the worker never blocks on a full pipe.
  child.stderr!.removeAllListeners('data');
  child.stderr!.resume();
  return child;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

function eventTypeOf(e: HistoryEvent): number {
  const t = e.eventType as unknown;
  if (typeof t === 'number') return t;
  return EventType[String(t) as keyof typeof EventType] as number;
}

function millis(ts: HistoryEvent['eventTime']): number {
  if (!ts) return NaN;
  return Number(ts.seconds?.toString() ?? 0) * 1000 + (ts.nanos ?? 0) / 1e6;
}

const WORKFLOW_CLOSED = new Set<number>([
  EventType.EVENT_TYPE_WORKFLOW_EXECUTION_COMPLETED,
  EventType.EVENT_TYPE_WORKFLOW_EXECUTION_FAILED,
  EventType.EVENT_TYPE_WORKFLOW_EXECUTION_TIMED_OUT,
  EventType.EVENT_TYPE_WORKFLOW_EXECUTION_TERMINATED,
  EventType.EVENT_TYPE_WORKFLOW_EXECUTION_CANCELED,
  EventType.EVENT_TYPE_WORKFLOW_EXECUTION_CONTINUED_AS_NEW,
]);

function closingOf(e: HistoryEvent): { scheduledEventId: string } | undefined {
  const a = e.activityTaskCompletedEventAttributes ?? e.activityTaskFailedEventAttributes ?? e.activityTaskTimedOutEventAttributes ?? e.activityTaskCanceledEventAttributes;
  return a?.scheduledEventId != null ? { scheduledEventId: a.scheduledEventId.toString() } : undefined;
}

// How long an activity took from its scheduling to this closing, and in which attempt.
function took(closing: HistoryEvent, history: HistoryEvent[]): string {
  const a = closing.activityTaskCompletedEventAttributes ?? closing.activityTaskTimedOutEventAttributes ?? closing.activityTaskFailedEventAttributes;
  const scheduledId = a?.scheduledEventId?.toString();
  const scheduled = history.find((e) => e.eventId?.toString() === scheduledId);
  const attempt = history.find((e) => e.activityTaskStartedEventAttributes?.scheduledEventId?.toString() === scheduledId)?.activityTaskStartedEventAttributes?.attempt;
  const seconds = scheduled ? `${((millis(closing.eventTime) - millis(scheduled.eventTime)) / 1000).toFixed(1)} s after it was scheduled` : 'scheduling time unknown';
  return attempt ? `${seconds}, in attempt ${attempt}` : seconds;
}

// A closing that is not a completion, with what a reader needs to tell a slow
// node from a silent worker: which timeout fired, after how many attempts and
// how long, and the last attempt's own failure.
function howItEnded(closing: HistoryEvent, history: HistoryEvent[]): string {
  const a = closing.activityTaskTimedOutEventAttributes ?? closing.activityTaskFailedEventAttributes;
  const parts = [EventType[eventTypeOf(closing)]];
  const failure = a?.failure;
  const timeoutType = failure?.timeoutFailureInfo?.timeoutType;
  // fetchHistory's events may carry enums as names or as numbers.
  if (timeoutType) parts.push(typeof timeoutType === 'string' ? timeoutType : (temporal.api.enums.v1.TimeoutType[timeoutType] ?? String(timeoutType)));
  parts.push(took(closing, history));
  const last = failure?.cause?.message ?? (timeoutType ? undefined : failure?.message);
  if (last) parts.push(`last failure: ${last.replace(/\s+/g, ' ').slice(0, 200)}`);
  return parts.join(', ');
}

// Every ActivityTaskScheduled event of a history, in order, with the occurrence of its type.
export function boundariesOf(events: HistoryEvent[]): Boundary[] {
  const seen = new Map<string, number>();
  const started = new Map<string, number>();
  const closed = new Map<string, number>();
  for (const e of events) {
    const s = e.activityTaskStartedEventAttributes;
    if (s?.scheduledEventId != null) started.set(s.scheduledEventId.toString(), millis(e.eventTime));
    const c = e.activityTaskCompletedEventAttributes;
    if (c?.scheduledEventId != null) closed.set(c.scheduledEventId.toString(), millis(e.eventTime));
  }
  const out: Boundary[] = [];
  for (const e of events) {
    const name = e.activityTaskScheduledEventAttributes?.activityType?.name;
    if (!name) continue;
    const occurrence = (seen.get(name) ?? 0) + 1;
    seen.set(name, occurrence);
    const id = e.eventId!.toString();
    const from = started.get(id) ?? millis(e.eventTime);
    const to = closed.get(id);
    out.push({ ordinal: out.length + 1, activityType: name, occurrence, cleanMs: to === undefined || Number.isNaN(from) ? null : Math.round(to - from) });
  }
  return out;
}

export function killPointsOf(boundaries: Boundary[]): KillPoint[] {
  return boundaries.flatMap((boundary) =>
    (['started', 'completed'] as const).map((phase) => ({ boundary, phase, label: `${phase === 'started' ? 'after start of' : 'after completion of'} #${boundary.ordinal} ${boundary.activityType}${boundary.occurrence > 1 ? ` (call ${boundary.occurrence})` : ''}` })),
  );
}

async function events(handle: WorkflowHandle): Promise<HistoryEvent[]> {
  return (await handle.fetchHistory()).events ?? [];
}

// The scheduled event of (type, occurrence) in this run's history, if scheduled yet.
function scheduledIn(history: HistoryEvent[], b: Boundary): HistoryEvent | undefined {
  let n = 0;
  for (const e of history) {
    if (e.activityTaskScheduledEventAttributes?.activityType?.name !== b.activityType) continue;
    n += 1;
    if (n === b.occurrence) return e;
  }
  return undefined;
}

interface Watch {
  hit: boolean;
  note: string;
}

// Polls until the kill point is reached (hit) or can no longer be (the activity
// closed before it was seen running, or the workflow ended).
async function watchFor(handle: WorkflowHandle, point: KillPoint, workerPid: number, pollMs: number, deadline: number): Promise<Watch> {
  const b = point.boundary;
  let activityId: string | undefined;
  let scheduledId: string | undefined;
  let polls = 0;
  // Failed attempts leave no event (only the last one closes the activity): their
  // failures are read from the pending activity, so a slow point says why.
  const attemptFailures = new Map<number, string>();
  const failedAttempts = () => (attemptFailures.size ? `; ${[...attemptFailures].map(([n, m]) => `attempt ${n} failed: ${m}`).join('; ')}` : '');
  while (Date.now() < deadline) {
    const needHistory = point.phase === 'completed' || !activityId || polls % 10 === 9;
    polls += 1;
    if (point.phase === 'completed' && activityId && polls % 10 === 0) {
      const pending = (await handle.describe()).raw.pendingActivities?.find((p) => p.activityId === activityId);
      const message = pending?.lastFailure?.message;
      if (message && pending.attempt) attemptFailures.set(pending.attempt - 1, message.replace(/\s+/g, ' ').slice(0, 300));
    }
    if (needHistory) {
      const history = await events(handle);
      const scheduled = scheduledIn(history, b);
      if (scheduled) {
        activityId = scheduled.activityTaskScheduledEventAttributes!.activityId!;
        scheduledId = scheduled.eventId!.toString();
        const closing = history.find((e) => closingOf(e)?.scheduledEventId === scheduledId);
        const workflowClosed = history.some((e) => WORKFLOW_CLOSED.has(eventTypeOf(e)));
        if (point.phase === 'completed') {
          if (closing && eventTypeOf(closing) === EventType.EVENT_TYPE_ACTIVITY_TASK_COMPLETED && !workflowClosed) {
            return { hit: true, note: `killed ${Math.round(Date.now() - millis(closing.eventTime))} ms after the completion was recorded (${took(closing, history)}${failedAttempts()})` };
          }
          if (closing && eventTypeOf(closing) !== EventType.EVENT_TYPE_ACTIVITY_TASK_COMPLETED) return { hit: false, note: `the activity ended as ${howItEnded(closing, history)}${failedAttempts()}` };
        } else if (closing) {
          return { hit: false, note: `the activity ${closing.activityTaskCompletedEventAttributes ? 'completed' : 'closed'} between two polls (${pollMs} ms)` };
        }
        if (workflowClosed) return { hit: false, note: 'the workflow closed right after the completion, between two polls' };
      } else if (history.some((e) => WORKFLOW_CLOSED.has(eventTypeOf(e)))) {
        return { hit: false, note: 'the workflow closed without scheduling this activity (another path)' };
      }
    }
    if (point.phase === 'started' && activityId) {
      const description = await handle.describe();
      const pending = description.raw.pendingActivities?.find((p) => p.activityId === activityId && p.activityType?.name === b.activityType);
      // Started by the worker now running (not an attempt orphaned by an earlier kill, still counted as started).
      if (pending && pending.state === PendingActivityState.PENDING_ACTIVITY_STATE_STARTED && pending.lastWorkerIdentity?.startsWith(`${workerPid}@`)) {
        return { hit: true, note: `killed during attempt ${pending.attempt ?? 1}` };
      }
      if (description.status.name !== 'RUNNING') return { hit: false, note: 'the workflow closed' };
    }
    await sleep(pollMs);
  }
  return { hit: false, note: 'timed out waiting for the point' };
}

async function outcomeOf<R>(handle: WorkflowHandle, timeoutMs: number): Promise<RunOutcome<R>> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<'timeout'>((resolve) => (timer = setTimeout(() => resolve('timeout'), timeoutMs)));
  try {
    const settled = await Promise.race([
      handle.result().then(
        (result: R) => ({ ok: true as const, result }),
        (error: unknown) => ({ ok: false as const, error }),
      ),
      timeout,
    ]);
    if (settled === 'timeout') {
      await handle.terminate('crash harness: run timed out').catch(() => undefined);
      return { ok: false, failure: { message: `did not end within ${timeoutMs / 1000} s (terminated)`, type: 'HarnessTimeout' } };
    }
    if (settled.ok) return { ok: true, result: settled.result };
    const error = settled.error;
    if (error instanceof WorkflowFailedError) {
      const cause = error.cause as { message: string; type?: string } | undefined;
      return { ok: false, failure: { message: cause?.message ?? error.message, type: cause?.type } };
    }
    throw error;
  } finally {
    clearTimeout(timer);
  }
}

function describeOutcome(o: RunOutcome<unknown>): string {
  return o.ok ? 'completed' : `failed (${o.failure?.type ?? 'error'}: ${(o.failure?.message ?? '').slice(0, 300)})`;
}

export function formatPoint(p: PointReport<unknown>): string {
  const verdict = p.problems.length ? `INVARIANT BROKEN: ${p.problems.join(' | ')}` : 'invariants held';
  return `${p.hit ? 'HIT' : 'not caught'} ${p.point.label} [${p.note}] -> ${describeOutcome(p)} in ${p.seconds.toFixed(1)} s; ${verdict}`;
}

// The loop: one worker process, killed and spawned again at each point hit.
export async function runCrashLoop<S, R>(o: CrashLoopOptions<S, R>): Promise<CrashLoopReport<R>> {
  const began = Date.now();
  const pollMs = o.pollMs ?? 20;
  const runTimeoutMs = o.runTimeoutMs ?? 240_000;
  let worker = await o.spawnWorker();
  let runs = 0;
  const start = async (label: string, state: S) => {
    await o.beforeStart?.();
    runs += 1;
    return o.client.workflow.start(o.workflowType, {
      taskQueue: o.taskQueue,
      workflowId: `crash-${o.workflowType}-${runs}-${process.pid}-${Date.now().toString(36)}`,
      args: [o.input(state)],
      // A workflow task lost with the killed worker is given to the new one after this.
      workflowTaskTimeout: o.workflowTaskTimeout ?? '4s',
      memo: { crashPoint: label },
    });
  };
  // What the server would decide on its own once the heartbeat or attempt timeout
  // passes: the attempts the dead worker was running are failed (retryable), so
  // the retry starts at once; and the next workflow task goes to the normal queue
  // instead of the dead worker's sticky queue (what a worker shutting down says).
  const afterKill = async (handle: WorkflowHandle, deadPid: number) => {
    if (o.failOrphanedAttempts ?? true) {
      const description = await handle.describe();
      for (const p of description.raw.pendingActivities ?? []) {
        if (p.state !== PendingActivityState.PENDING_ACTIVITY_STATE_STARTED || !p.lastWorkerIdentity?.startsWith(`${deadPid}@`)) continue;
        await o.client.activity
          .fail({ workflowId: handle.workflowId, activityId: p.activityId! }, ApplicationFailure.retryable(`the worker running this attempt (pid ${deadPid}) was SIGKILLed`, 'WorkerKilled'))
          .catch(() => undefined);
      }
    }
    await o.client.workflowService.resetStickyTaskQueue({ namespace: o.client.options.namespace, execution: { workflowId: handle.workflowId } }).catch(() => undefined);
  };
  const checked = async (label: string, state: S, outcome: RunOutcome<R>, handle: WorkflowHandle, point: KillPoint | undefined, hit: boolean): Promise<string[]> => {
    try {
      await o.check({ label, state, outcome, handle, point, hit });
      return [];
    } catch (error) {
      return [(error as Error).message.replace(/\s+/g, ' ').slice(0, 600)];
    }
  };
  try {
    // The clean run: its history lists the boundaries.
    const cleanStart = Date.now();
    const cleanState = await o.prepare('clean');
    const cleanHandle = await start('clean', cleanState);
    const cleanRun = Date.now();
    const cleanOutcome = await outcomeOf<R>(cleanHandle, runTimeoutMs);
    const cleanChecks = Date.now();
    const cleanProblems = await checked('clean', cleanState, cleanOutcome, cleanHandle, undefined, false);
    const split = `prepare ${((cleanRun - cleanStart) / 1000).toFixed(1)} s, workflow ${((cleanChecks - cleanRun) / 1000).toFixed(1)} s, checks ${((Date.now() - cleanChecks) / 1000).toFixed(1)} s`;
    if (!cleanOutcome.ok) cleanProblems.push(`the clean run failed: ${describeOutcome(cleanOutcome)}`);
    const boundaries = boundariesOf(await events(cleanHandle));
    const clean = { seconds: (Date.now() - cleanStart) / 1000, problems: cleanProblems, outcome: cleanOutcome };
    o.onPoint?.(`clean run: ${boundaries.length} activities (${boundaries.map((b) => `${b.activityType} ${b.cleanMs ?? '?'} ms`).join(', ')}) -> ${describeOutcome(cleanOutcome)} in ${clean.seconds.toFixed(1)} s (${split})`);

    const points: Array<PointReport<R>> = [];
    const all = killPointsOf(boundaries).filter((p) => !o.only || o.only(p, boundaries));
    const perRun = Math.max(1, o.pointsPerRun ?? 1);
    for (let from = 0; from < all.length; from += perRun) {
      const group = all.slice(from, from + perRun);
      const t0 = Date.now();
      const label = group.length === 1 ? group[0]!.label : `${group[0]!.label} .. ${group.at(-1)!.label}`;
      const state = await o.prepare(label);
      const handle = await start(label, state);
      const watched: Array<{ point: KillPoint; watch: Watch }> = [];
      for (const point of group) {
        const watch = await watchFor(handle, point, worker.pid!, pollMs, Date.now() + runTimeoutMs);
        watched.push({ point, watch });
        if (!watch.hit) continue;
        const dead = worker.pid!;
        const killedAt = Date.now();
        await killHard(worker);
        await afterKill(handle, dead);
        worker = await o.spawnWorker();
        watch.note += `; a new worker polled ${((Date.now() - killedAt) / 1000).toFixed(1)} s later`;
      }
      const outcome = await outcomeOf<R>(handle, runTimeoutMs);
      const checksFrom = Date.now();
      const problems = await checked(label, state, outcome, handle, group.length === 1 ? group[0] : undefined, watched.some((w) => w.watch.hit));
      const seconds = (Date.now() - t0) / 1000;
      if (group.length > 1) o.onPoint?.(`run of ${group.length} points: ${watched.filter((w) => w.watch.hit).length} kills, ${describeOutcome(outcome)}; ${seconds.toFixed(1)} s (checks ${((Date.now() - checksFrom) / 1000).toFixed(1)} s)`);
      for (const { point, watch } of watched) {
        const report: PointReport<R> = { point, hit: watch.hit, note: watch.note, seconds, problems, ...outcome };
        points.push(report);
        o.onPoint?.(formatPoint(report));
      }
    }
    return { workflowType: o.workflowType, boundaries, clean, points, seconds: (Date.now() - began) / 1000 };
  } finally {
    await killHard(worker);
  }
}

// Points that must be hit: every "after start" of an activity whose clean attempt
// took longer than minMs, and every "after completion" but the last activity's
// (after it only the workflow's own completion follows, within milliseconds).
// Shorter activities are tried and reported, not required: one of 139 ms in a
// clean run (its first HTTP connection) ended within one 20 ms poll in the next.
export function requiredMisses<R>(report: CrashLoopReport<R>, minMs = 500): string[] {
  const last = report.boundaries.at(-1)?.ordinal;
  return report.points
    .filter((p) => !p.hit)
    .filter((p) => (p.point.phase === 'started' ? (p.point.boundary.cleanMs ?? 0) > minMs : p.point.boundary.ordinal !== last))
    .map((p) => `${p.point.label} (clean ${p.point.boundary.cleanMs ?? '?'} ms): ${p.note}`);
}

export function summary<R>(report: CrashLoopReport<R>): string {
  const hit = report.points.filter((p) => p.hit).length;
  const broken = report.points.filter((p) => p.problems.length).length;
  const failed = report.points.filter((p) => !p.ok).length;
  return `${report.workflowType}: ${report.boundaries.length} activities, ${report.points.length} kill points, ${hit} hit, ${report.points.length - hit} not caught, ${failed} runs failed, ${broken} with broken invariants; ${report.seconds.toFixed(1)} s wall time`;
}

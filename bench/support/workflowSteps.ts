import type { Client } from '@temporalio/client';
import type { OurSide, WorkflowRun } from './operations';
import { median } from './timing';

type Timestamp = { seconds?: { toNumber(): number } | null; nanos?: number | null } | null | undefined;

const ms = (t: Timestamp): number => (t?.seconds?.toNumber() ?? 0) * 1000 + (t?.nanos ?? 0) / 1e6;

// Where a run's time went, from its own history: each activity's last attempt
// from start to completion, the waits for a worker to pick tasks up (and any
// earlier attempts with their backoff), and the rest.
export type StepTimings = Record<string, number>;

export interface RunSteps {
  ms: StepTimings;
  // Attempts beyond the first, over all activities: a timed-out call shows here.
  retries: number;
}

export async function stepTimings(client: Client, run: WorkflowRun): Promise<RunSteps> {
  const { events } = await client.workflow.getHandle(run.workflowId, run.runId).fetchHistory();
  const all = events ?? [];
  const at = new Map(all.map((e) => [e.eventId?.toNumber() ?? 0, ms(e.eventTime)]));
  const names = new Map<number, string>();
  const seen = new Map<string, number>();
  const attempts = new Map<number, number>();
  const steps: StepTimings = {};
  let activities = 0;
  let queueWait = 0;
  let retries = 0;
  for (const e of all) {
    const id = e.eventId?.toNumber() ?? 0;
    const scheduled = e.activityTaskScheduledEventAttributes;
    if (scheduled) {
      const base = scheduled.activityType?.name ?? 'activity';
      const n = (seen.get(base) ?? 0) + 1;
      seen.set(base, n);
      names.set(id, n === 1 ? base : `${base} #${n}`);
    }
    const started = e.activityTaskStartedEventAttributes;
    if (started) attempts.set(id, started.attempt ?? 1);
    const done = e.activityTaskCompletedEventAttributes;
    if (done) {
      const scheduledId = done.scheduledEventId?.toNumber() ?? 0;
      const startedId = done.startedEventId?.toNumber() ?? 0;
      const took = ms(e.eventTime) - (at.get(startedId) ?? 0);
      steps[names.get(scheduledId) ?? 'activity'] = took;
      retries += Math.max(0, (attempts.get(startedId) ?? 1) - 1);
      activities += took;
      queueWait += (at.get(startedId) ?? 0) - (at.get(scheduledId) ?? 0);
    }
  }
  const total = ms(all.at(-1)?.eventTime) - ms(all[0]?.eventTime);
  return {
    ms: { ...steps, 'activity task queue wait': queueWait, 'workflow tasks and rest': total - activities - queueWait, 'workflow total (server)': total },
    retries,
  };
}

export async function stepTimingsOf(client: Client, runs: Record<OurSide, WorkflowRun[]>): Promise<Record<OurSide, RunSteps[]>> {
  return {
    inProcess: await Promise.all(runs.inProcess.map((r) => stepTimings(client, r))),
    cli: await Promise.all(runs.cli.map((r) => stepTimings(client, r))),
  };
}

// Median per step over several runs of the same workflow.
export function medianSteps(runs: RunSteps[]): StepTimings {
  const keys = [...new Set(runs.flatMap((r) => Object.keys(r.ms)))];
  return Object.fromEntries(keys.map((k) => [k, Number(median(runs.map((r) => r.ms[k] ?? 0)).toFixed(1))]));
}

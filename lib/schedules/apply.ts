import { ScheduleNotFoundError, ScheduleOverlapPolicy, type Client, type ScheduleOptions, type ScheduleUpdateOptions } from '@temporalio/client';
import { ClusterAttribute, ComponentAttribute } from '../../common/searchAttributes';
import type { RabbitvaultConfig } from '../../config/schema';
import { desiredSchedules, schedulePrefix, type DesiredSchedule } from './desired';

export interface ApplyResult {
  created: string[];
  updated: string[];
  unchanged: string[];
  deleted: string[];
}

const HASH_MEMO = 'rabbitvaultScheduleHash';

const overlap: Record<DesiredSchedule['spec']['overlap'], ScheduleOverlapPolicy> = {
  skip: ScheduleOverlapPolicy.SKIP,
  'buffer-one': ScheduleOverlapPolicy.BUFFER_ONE,
  'buffer-all': ScheduleOverlapPolicy.BUFFER_ALL,
  'cancel-other': ScheduleOverlapPolicy.CANCEL_OTHER,
  'terminate-other': ScheduleOverlapPolicy.TERMINATE_OTHER,
  'allow-all': ScheduleOverlapPolicy.ALLOW_ALL,
};

function options(config: RabbitvaultConfig, d: DesiredSchedule): ScheduleUpdateOptions {
  return {
    spec: {
      ...(d.spec.every ? { intervals: [{ every: d.spec.every }] } : {}),
      ...(d.spec.cron ? { cronExpressions: [d.spec.cron] } : {}),
      jitter: d.spec.jitter,
    },
    action: {
      type: 'startWorkflow',
      workflowType: d.workflowType,
      workflowId: d.workflowId,
      taskQueue: config.temporal.taskQueue,
      args: [d.input],
      memo: { [HASH_MEMO]: d.hash },
      // Scheduled runs are searchable in the Web UI by cluster and component.
      typedSearchAttributes: [
        { key: ClusterAttribute, value: d.cluster },
        { key: ComponentAttribute, value: d.component },
      ],
    },
    policies: { overlap: overlap[d.spec.overlap], catchupWindow: d.spec.catchupWindow },
    state: { paused: d.spec.paused, note: d.description },
  };
}

// Converges the server's schedules to the config: create, update what changed,
// delete ours that are no longer configured. A pause set by `schedules pause`
// stays until the schedule's config changes.
export async function applySchedules(client: Client, config: RabbitvaultConfig): Promise<ApplyResult> {
  const desired = desiredSchedules(config);
  const result: ApplyResult = { created: [], updated: [], unchanged: [], deleted: [] };
  for (const d of desired) {
    const handle = client.schedule.getHandle(d.id);
    const current = await handle.describe().catch((error: unknown) => {
      if (error instanceof ScheduleNotFoundError) return undefined;
      throw error;
    });
    if (!current) {
      await client.schedule.create({ scheduleId: d.id, ...options(config, d) } as ScheduleOptions);
      result.created.push(d.id);
    } else if (current.action.type === 'startWorkflow' && current.action.memo?.[HASH_MEMO] === d.hash) {
      result.unchanged.push(d.id);
    } else {
      await handle.update(() => options(config, d));
      result.updated.push(d.id);
    }
  }
  const wanted = new Set(desired.map((d) => d.id));
  for (const id of await ourScheduleIds(client, config)) {
    if (wanted.has(id)) continue;
    const deleted = await client.schedule
      .getHandle(id)
      .delete()
      .then(() => true)
      .catch((error: unknown) => {
        // Listing lags behind: one deleted a moment ago may still be listed.
        if (error instanceof ScheduleNotFoundError) return false;
        throw error;
      });
    if (deleted) result.deleted.push(id);
  }
  return result;
}

export async function ourScheduleIds(client: Client, config: RabbitvaultConfig): Promise<string[]> {
  const prefix = schedulePrefix(config);
  const ids: string[] = [];
  for await (const s of client.schedule.list()) if (s.scheduleId.startsWith(prefix)) ids.push(s.scheduleId);
  return ids.sort();
}

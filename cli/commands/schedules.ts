import { applySchedules, ourScheduleIds } from '../../lib/schedules/apply';
import { desiredSchedules, schedulePrefix } from '../../lib/schedules/desired';
import { parseFlags, UsageError } from '../args';
import type { CliContext } from '../context';
import { openClient } from '../workflowRun';

const usage = [
  'usage: rabbitvault schedules apply|list [--json]',
  '       rabbitvault schedules pause|unpause|trigger ID [--reason TEXT]   (ID: full id or the part after the prefix, e.g. backup:prod:definitions)',
].join('\n');

// Descriptions give milliseconds: print them as the config spells them.
function duration(value: unknown): string {
  const ms = typeof value === 'number' ? value : Number(value);
  if (!Number.isFinite(ms)) return String(value);
  for (const [unit, size] of [['d', 86_400_000], ['h', 3_600_000], ['m', 60_000], ['s', 1000]] as const) if (ms % size === 0 && ms >= size) return `${ms / size}${unit}`;
  return `${ms}ms`;
}

export async function schedulesCommand(ctx: CliContext, argv: string[]): Promise<number> {
  const { values, positionals } = parseFlags(argv, { reason: { type: 'string' } }, usage);
  const [action, id] = positionals;
  if (!action || !['apply', 'list', 'pause', 'unpause', 'trigger'].includes(action)) throw new UsageError(usage);
  desiredSchedules(ctx.config); // config problems before any connection
  const client = await openClient(ctx.config);
  try {
    if (action === 'apply') {
      const r = await applySchedules(client, ctx.config);
      if (values.json) ctx.out(JSON.stringify(r, null, 2));
      else {
        for (const [what, ids] of Object.entries(r)) for (const s of ids as string[]) ctx.out(`  ${what.padEnd(9)} ${s}`);
        ctx.out(`schedules: ${r.created.length} created, ${r.updated.length} updated, ${r.unchanged.length} unchanged, ${r.deleted.length} deleted`);
      }
      return 0;
    }
    if (action === 'list') {
      const rows = [];
      for (const scheduleId of await ourScheduleIds(client, ctx.config)) {
        const d = await client.schedule.getHandle(scheduleId).describe();
        const spec = [...(d.spec.intervals?.map((i) => `every ${duration(i.every)}`) ?? []), ...(d.spec.calendars?.length ? ['calendar'] : [])].join(', ');
        rows.push({
          id: scheduleId,
          workflowType: d.action.type === 'startWorkflow' ? d.action.workflowType : '',
          spec,
          paused: d.state.paused,
          note: d.state.note ?? '',
          nextRun: d.info.nextActionTimes[0]?.toISOString() ?? null,
          recentRuns: d.info.recentActions.slice(-3).map((a) => ({ at: a.takenAt.toISOString(), workflowId: a.action.workflow.workflowId })),
        });
      }
      if (values.json) ctx.out(JSON.stringify(rows, null, 2));
      else if (rows.length === 0) ctx.out(`no schedules with prefix ${schedulePrefix(ctx.config)} (configure schedules: and run \`schedules apply\`)`);
      else for (const r of rows) ctx.out(`${r.id}  ${r.workflowType}  ${r.spec}  ${r.paused ? 'PAUSED' : 'active'}  next ${r.nextRun ?? '-'}  (${r.note})`);
      return 0;
    }
    if (!id) throw new UsageError(usage);
    const fullId = id.startsWith(schedulePrefix(ctx.config)) ? id : `${schedulePrefix(ctx.config)}${id}`;
    const handle = client.schedule.getHandle(fullId);
    if (action === 'pause') await handle.pause(values.reason ?? 'paused with rabbitvault schedules pause');
    else if (action === 'unpause') await handle.unpause(values.reason ?? 'unpaused with rabbitvault schedules unpause');
    else await handle.trigger();
    ctx.out(`${action === 'trigger' ? 'triggered' : `${action}d`} ${fullId}`);
    return 0;
  } finally {
    await client.connection.close();
  }
}

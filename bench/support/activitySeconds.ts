// Seconds each activity took (scheduled → closed), summed per activity type, from the workflow history.
export function activitySeconds(events: Array<{ eventId?: unknown; eventTime?: unknown; activityTaskScheduledEventAttributes?: unknown; activityTaskCompletedEventAttributes?: unknown }>): Record<string, number> {
  const seconds = (t: unknown) => {
    const ts = t as { seconds?: unknown; nanos?: number } | null | undefined;
    return Number(ts?.seconds ?? 0) + (ts?.nanos ?? 0) / 1e9;
  };
  const scheduled = new Map<string, { name: string; at: number }>();
  const out: Record<string, number> = {};
  for (const e of events) {
    const s = e.activityTaskScheduledEventAttributes as { activityType?: { name?: string } } | undefined;
    if (s?.activityType?.name) scheduled.set(String(e.eventId), { name: s.activityType.name, at: seconds(e.eventTime) });
    const c = e.activityTaskCompletedEventAttributes as { scheduledEventId?: unknown } | undefined;
    const start = c ? scheduled.get(String(c.scheduledEventId)) : undefined;
    if (start) out[start.name] = (out[start.name] ?? 0) + seconds(e.eventTime) - start.at;
  }
  return out;
}

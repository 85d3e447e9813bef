import type { RetentionPolicy } from '../../config/automationSchema';
import type { SetLocation } from '../backupSets/catalog';

export type RetentionCandidate = SetLocation;

export interface RetentionDecision extends RetentionCandidate {
  action: 'keep' | 'delete';
  reason: string;
}

export interface Protection {
  // Set ids a running restore reads, with the workflow that reads it.
  sets: Map<string, string>;
  // A running restore of "latest" (or a drill/validation): nothing of this cluster+component is pruned now.
  everything?: string;
}

const DAY_MS = 86_400_000;

// The set id starts with its UTC start time: 20261125T063000Z-...
export function setTime(setId: string): Date {
  const m = /^(\d{4})(\d{2})(\d{2})T(\d{2})(\d{2})(\d{2})Z/.exec(setId);
  if (!m) return new Date(0);
  return new Date(Date.UTC(+m[1]!, +m[2]! - 1, +m[3]!, +m[4]!, +m[5]!, +m[6]!));
}

function isoWeek(d: Date): string {
  const t = new Date(Date.UTC(d.getUTCFullYear(), d.getUTCMonth(), d.getUTCDate()));
  const day = t.getUTCDay() || 7;
  t.setUTCDate(t.getUTCDate() + 4 - day);
  const yearStart = Date.UTC(t.getUTCFullYear(), 0, 1);
  return `${t.getUTCFullYear()}-W${Math.ceil(((t.getTime() - yearStart) / DAY_MS + 1) / 7)}`;
}

const buckets: Array<[keyof RetentionPolicy, string, (d: Date) => string]> = [
  ['keepDaily', 'daily', (d) => d.toISOString().slice(0, 10)],
  ['keepWeekly', 'weekly', isoWeek],
  ['keepMonthly', 'monthly', (d) => d.toISOString().slice(0, 7)],
];

// The policy of one cluster+component's sets (any order in, newest first out):
// 1. the newest complete set and sets a running restore reads are always kept;
// 2. complete sets older than maxAgeDays go;
// 3. with any keep* rule, a younger set stays only if a rule selects it
//    (keepLast: the newest N; keepDaily/Weekly/Monthly: the newest set of each
//    of the newest N days/ISO weeks/months that have sets); without one, all stay;
// 4. incomplete sets (no manifest) older than the grace period go.
export function decideRetention(
  sets: RetentionCandidate[],
  policy: RetentionPolicy,
  now: Date,
  incompleteGraceHours: number,
  protection: Protection = { sets: new Map() },
): RetentionDecision[] {
  const sorted = [...sets].sort((a, b) => (a.setId < b.setId ? 1 : a.setId > b.setId ? -1 : 0));
  const complete = sorted.filter((s) => s.complete);
  const selected = new Map<string, string>();
  const hasRules = buckets.some(([field]) => policy[field] !== undefined) || policy.keepLast !== undefined;
  complete.slice(0, policy.keepLast ?? 0).forEach((s) => selected.set(s.setId, `one of the newest ${policy.keepLast} (keepLast)`));
  for (const [field, label, key] of buckets) {
    const limit = policy[field] ?? 0;
    const seen = new Set<string>();
    for (const s of complete) {
      const k = key(setTime(s.setId));
      if (seen.has(k)) continue;
      if (seen.size >= limit) break;
      seen.add(k);
      if (!selected.has(s.setId)) selected.set(s.setId, `newest of ${label} bucket ${k} (${field})`);
    }
  }
  const newest = complete[0]?.setId;
  return sorted.map((s): RetentionDecision => {
    const ageDays = (now.getTime() - setTime(s.setId).getTime()) / DAY_MS;
    const keep = (reason: string): RetentionDecision => ({ ...s, action: 'keep', reason });
    const drop = (reason: string): RetentionDecision => ({ ...s, action: 'delete', reason });
    const user = protection.sets.get(s.setId);
    if (user) return keep(`in use by running restore ${user}`);
    if (protection.everything) return keep(`a running restore of the latest set (${protection.everything}) may read it`);
    if (!s.complete) {
      return ageDays * 24 > incompleteGraceHours
        ? drop(`incomplete (no manifest) and older than ${incompleteGraceHours} h`)
        : keep(`incomplete, younger than ${incompleteGraceHours} h: a backup may still be writing it`);
    }
    if (s.setId === newest) return keep('newest complete set');
    if (policy.maxAgeDays !== undefined && ageDays > policy.maxAgeDays) return drop(`older than ${policy.maxAgeDays} days (maxAgeDays)`);
    if (!hasRules) return keep(policy.maxAgeDays !== undefined ? `younger than ${policy.maxAgeDays} days` : 'no rule removes it');
    const why = selected.get(s.setId);
    return why ? keep(why) : drop('selected by no keep rule');
  });
}

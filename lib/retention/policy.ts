import type { RetentionPolicy } from '../../config/automationSchema';
import type { SetLocation } from '../backupSets/catalog';

// What reading a set back found: its manifest parses and names its folder, and
// every artifact has the manifest's size and SHA-256 (restorable), or the problem.
export interface Verdict {
  restorable: boolean;
  problem?: string;
  // When its artifacts were last read; cached: this prune took it from the verification cache.
  verifiedAt: string;
  cached: boolean;
}

export interface RetentionCandidate extends SetLocation {
  // Only the sets whose decision depends on it are verified (see setsToVerify).
  verification?: Verdict;
}

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

function ageDays(setId: string, now: Date): number {
  return (now.getTime() - setTime(setId).getTime()) / DAY_MS;
}

function hasKeepRules(policy: RetentionPolicy): boolean {
  return buckets.some(([field]) => policy[field] !== undefined) || policy.keepLast !== undefined;
}

interface Walk {
  newest?: string;
  selected: Map<string, string>;
  // Complete sets not yet verified whose decision depends on whether they restore, newest first.
  unverified: RetentionCandidate[];
}

// Newest first over complete sets: a set matters only while no restorable set
// was found yet (it may be the one that protects) or a keep rule would select
// it; only those need verifying, and only restorable ones fill a rule. Sets past
// that point go by age and rules alone, whatever their bytes.
function walkRestorable(complete: RetentionCandidate[], policy: RetentionPolicy, now: Date): Walk {
  const walk: Walk = { selected: new Map(), unverified: [] };
  const seen = new Map(buckets.map(([field]) => [field, new Set<string>()]));
  let counted = 0;
  for (const s of complete) {
    const tooOld = policy.maxAgeDays !== undefined && ageDays(s.setId, now) > policy.maxAgeDays;
    const reasons: string[] = [];
    const fills: Array<[Set<string>, string]> = [];
    if (!tooOld) {
      if (counted < (policy.keepLast ?? 0)) reasons.push(`one of the newest ${policy.keepLast} restorable sets (keepLast)`);
      for (const [field, label, key] of buckets) {
        const bucket = key(setTime(s.setId));
        const taken = seen.get(field)!;
        if (taken.has(bucket) || taken.size >= (policy[field] ?? 0)) continue;
        fills.push([taken, bucket]);
        reasons.push(`newest restorable set of ${label} bucket ${bucket} (${field})`);
      }
    }
    if (walk.newest !== undefined && reasons.length === 0) continue;
    if (!s.verification) {
      walk.unverified.push(s);
      continue;
    }
    if (!s.verification.restorable) continue;
    walk.newest ??= s.setId;
    if (reasons.length === 0) continue;
    counted += 1;
    fills.forEach(([taken, bucket]) => taken.add(bucket));
    walk.selected.set(s.setId, reasons[0]!);
  }
  return walk;
}

// The next set retention must verify before it can decide (newest first), or none.
export function nextSetToVerify(sets: RetentionCandidate[], policy: RetentionPolicy, now: Date, protection: Protection = { sets: new Map() }): RetentionCandidate | undefined {
  if (protection.everything) return undefined;
  return walkRestorable(newestFirst(sets).filter((s) => s.complete), policy, now).unverified[0];
}

// The set that protects the group: the newest one verified restorable, if any.
export function newestRestorable(sets: RetentionCandidate[], policy: RetentionPolicy, now: Date): RetentionCandidate | undefined {
  const complete = newestFirst(sets).filter((s) => s.complete);
  const newest = walkRestorable(complete, policy, now).newest;
  return complete.find((s) => s.setId === newest);
}

function newestFirst(sets: RetentionCandidate[]): RetentionCandidate[] {
  return [...sets].sort((a, b) => (a.setId < b.setId ? 1 : a.setId > b.setId ? -1 : 0));
}

// The policy of one cluster+component's sets (any order in, newest first out):
// 1. the newest restorable set (verified: every artifact's size and SHA-256)
//    and sets a running restore reads are always kept;
// 2. complete sets older than maxAgeDays go;
// 3. with any keep* rule, a younger set stays only if a rule selects it
//    (keepLast: the newest N restorable; keepDaily/Weekly/Monthly: the newest
//    restorable set of each of the newest N days/ISO weeks/months that have
//    one); without one, all stay;
// 4. incomplete sets (no manifest) older than the grace period go;
// 5. a damaged set (verification failed) never protects and never fills a
//    rule; while its place matters (rule 1 or 3 would look at it) it is kept
//    and reported for an operator, after that it goes by rules 2-3 like any
//    old set. So nothing is deleted before a newer restorable set is kept.
export function decideRetention(
  sets: RetentionCandidate[],
  policy: RetentionPolicy,
  now: Date,
  incompleteGraceHours: number,
  protection: Protection = { sets: new Map() },
): RetentionDecision[] {
  const sorted = newestFirst(sets);
  const { newest, selected, unverified } = walkRestorable(sorted.filter((s) => s.complete), policy, now);
  const undecided = new Set(unverified.map((s) => s.setId));
  const hasRules = hasKeepRules(policy);
  return sorted.map((s): RetentionDecision => {
    const age = ageDays(s.setId, now);
    const keep = (reason: string): RetentionDecision => ({ ...s, action: 'keep', reason });
    const drop = (reason: string): RetentionDecision => ({ ...s, action: 'delete', reason });
    const user = protection.sets.get(s.setId);
    if (user) return keep(`in use by running restore ${user}`);
    if (protection.everything) return keep(`a running restore of the latest set (${protection.everything}) may read it`);
    if (!s.complete) {
      return age * 24 > incompleteGraceHours
        ? drop(`incomplete (no manifest) and older than ${incompleteGraceHours} h`)
        : keep(`incomplete, younger than ${incompleteGraceHours} h: a backup may still be writing it`);
    }
    if (s.verification && !s.verification.restorable) {
      return keep(`damaged (${s.verification.problem ?? 'does not verify'}): never counted as restorable; kept for an operator to look at while newer sets do not replace it`);
    }
    if (undecided.has(s.setId)) return keep('not verified, and whether it restores decides what else is kept: kept');
    if (s.setId === newest) return keep('newest restorable set (every artifact verified)');
    if (policy.maxAgeDays !== undefined && age > policy.maxAgeDays) return drop(`older than ${policy.maxAgeDays} days (maxAgeDays)`);
    if (!hasRules) return keep(policy.maxAgeDays !== undefined ? `younger than ${policy.maxAgeDays} days` : 'no rule removes it');
    const why = selected.get(s.setId);
    return why ? keep(why) : drop('selected by no keep rule');
  });
}

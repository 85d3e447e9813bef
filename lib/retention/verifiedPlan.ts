import type { RetentionPolicy } from '../../config/automationSchema';
import { decideRetention, newestRestorable, nextSetToVerify, type Protection, type RetentionCandidate, type RetentionDecision, type Verdict } from './policy';

// Reads a set back; fresh: even when the cache has a verdict.
export type VerifySet = (set: RetentionCandidate, fresh: boolean) => Promise<Verdict>;

// One cluster+component's decisions, verifying only the sets they depend on
// (newest first). Before any complete set goes, the set that protects the
// group is read again if its verdict came from the cache: a cached verdict
// cannot see artifact bytes rewritten since (same size, manifest unchanged).
export async function decideVerified(
  group: RetentionCandidate[],
  policy: RetentionPolicy,
  now: Date,
  incompleteGraceHours: number,
  protection: Protection,
  verify: VerifySet,
): Promise<RetentionDecision[]> {
  for (;;) {
    for (let next = nextSetToVerify(group, policy, now, protection); next; next = nextSetToVerify(group, policy, now, protection)) {
      next.verification = await verify(next, false);
    }
    const planned = decideRetention(group, policy, now, incompleteGraceHours, protection);
    const protector = newestRestorable(group, policy, now);
    if (!protector?.verification?.cached || !planned.some((d) => d.action === 'delete' && d.complete)) return planned;
    protector.verification = await verify(protector, true);
  }
}

import { COMPATIBILITY_RULES, versionAtLeast } from './compatibilityRules';
import type { TransformName } from '../../common/definitionsTransformNames';
import type { DefinitionsChange } from './definitionsTransforms';
import { describeEntity, entityKinds, type Definitions } from './model';

export interface CompatibilityFinding {
  rule: string;
  since: string;
  entity: string;
  detail: string;
  what: string;
  source: string;
  fixedBy: string;
}

// What a target of targetVersion would refuse in what is about to be imported
// (after the transformations), and what the transformations changed. Lists
// are capped for workflow history; counts are exact.
export interface CompatibilityReport {
  targetVersion: string | null;
  // true: the operator declared the version (a target to be, or a what-if); false: read from the target.
  declared: boolean;
  transforms: TransformName[];
  refusedCount: number;
  refusals: CompatibilityFinding[];
  changeCount: number;
  changes: DefinitionsChange[];
}

export const COMPATIBILITY_LIST_CAP = 500;

export function checkCompatibility(defs: Definitions, target: { version: string | null; declared: boolean }, transforms: TransformName[], changes: DefinitionsChange[]): CompatibilityReport {
  const refusals: CompatibilityFinding[] = [];
  let refusedCount = 0;
  // An unknown version is checked against every rule: the plan says what might be refused.
  const rules = COMPATIBILITY_RULES.filter((r) => target.version === null || versionAtLeast(target.version, r.since));
  for (const kind of entityKinds) {
    for (const entity of defs[kind] ?? []) {
      for (const rule of rules.filter((r) => r.kinds.includes(kind))) {
        const detail = rule.match(kind, entity);
        if (detail === null) continue;
        refusedCount += 1;
        if (refusals.length < COMPATIBILITY_LIST_CAP) {
          refusals.push({ rule: rule.id, since: rule.since, entity: describeEntity(kind, entity), detail, what: rule.what, source: rule.source, fixedBy: rule.fixedBy });
        }
      }
    }
  }
  return { targetVersion: target.version, declared: target.declared, transforms, refusedCount, refusals, changeCount: changes.length, changes: changes.slice(0, COMPATIBILITY_LIST_CAP) };
}

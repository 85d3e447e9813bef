import { ApplicationFailure } from '@temporalio/workflow';
import type { RestorePlan } from '../lib/definitions/plan';
import { DEFINITIONS_ARTIFACT, VHOSTS_ARTIFACT } from '../common/backupSetLayout';
import type { CompatibilityReport } from '../lib/definitions/compatibility';
import { FailureType } from '../common/failures';
import { RestoreDefinitionsInput, type RestoreDefinitionsResult } from '../contracts/definitions';
import { activitiesWithRetry, type ActivitiesFor } from './toolkit/activities';
import { explainFailure } from './toolkit/failures';
import { parseWorkflowInput } from './toolkit/input';
import { reportFailover, trackProgress } from './toolkit/progress';
import { verifiedSetOrRefuse } from './toolkit/verifiedSet';

// The guide's "Restore Definitions Only", made safe: verify checksums first,
// plan against the live target, refuse hidden conflicts, import, then prove it.
export async function restoreDefinitions(rawInput: RestoreDefinitionsInput): Promise<RestoreDefinitionsResult> {
  const input = parseWorkflowInput(RestoreDefinitionsInput, rawInput, 'restoreDefinitions');
  const sourceCluster = input.sourceCluster ?? input.cluster;
  const progress = trackProgress();
  const act = activitiesWithRetry('definitions', input.retry);

  progress('verifying backup set', `${sourceCluster} ${input.from}`);
  const set = await verifiedSetOrRefuse(act, { storage: input.storage, cluster: sourceCluster, component: 'definitions', set: input.from });
  const artifact = set.manifest.artifacts.find((a) => a.name === DEFINITIONS_ARTIFACT) ?? set.manifest.artifacts[0]!;
  const vhostMetadata = set.manifest.artifacts.find((a) => a.name === VHOSTS_ARTIFACT);
  const source = { storage: set.storage, prefix: set.prefix, artifact, ...(vhostMetadata ? { vhostMetadata } : {}) };
  const options = { transforms: input.transforms, ...(input.targetVersion ? { targetVersion: input.targetVersion } : {}) };
  const base = { cluster: input.cluster, sourceCluster, setId: set.manifest.setId, location: set.location, dryRun: input.dryRun };

  progress('planning against the target', input.cluster);
  const plan = await act.planDefinitionsRestore({ source, cluster: input.cluster, ...options }).catch((error: unknown) => {
    throw explainFailure(`planning the restore into cluster ${input.cluster}`, error, 'the target was not touched');
  });
  if (input.dryRun) return { ...base, plan };
  const compatibility = plan.compatibility;
  if (compatibility && compatibility.refusedCount > 0) {
    throw ApplicationFailure.create({
      message: `RabbitMQ ${compatibility.targetVersion ?? '(version unknown)'} would refuse ${compatibility.refusedCount} part(s) of what would be imported: ${describeRefusals(compatibility)}. The target was not touched; plan with --dry-run and rerun with the transformations named`,
      type: FailureType.DefinitionsIncompatible,
      nonRetryable: true,
      details: [compatibility],
    });
  }
  if (plan.totals.conflict > 0 && input.onConflict === 'abort') {
    throw ApplicationFailure.create({
      message: `${plan.totals.conflict} entities conflict with cluster ${input.cluster} and RabbitMQ's import would silently keep the target's version: ${plan.conflicts
        .slice(0, 5)
        .map((c) => `${c.entity} (${c.fields.join(', ')})`)
        .join('; ')}${plan.totals.conflict > 5 ? '; ...' : ''}. The target was not touched; resolve them or rerun with onConflict "keep-target"`,
      type: FailureType.DefinitionsConflict,
      nonRetryable: true,
      details: [plan],
    });
  }

  progress('importing definitions', `${plan.totals.create} to create, ${plan.totals.update} to update`);
  try {
    const imported = await act.importDefinitions({ source, cluster: input.cluster, ...options });
    reportFailover(progress, 'management API', imported?.failover);
  } catch (error) {
    throw explainFailure(`importing into cluster ${input.cluster}`, error, await describeChanges(act, source, input.cluster, plan));
  }

  progress('verifying the target', input.cluster);
  const after = await act.planDefinitionsRestore({ source, cluster: input.cluster, ...options }).catch((error: unknown) => {
    throw explainFailure(`re-reading cluster ${input.cluster} after the import`, error);
  });
  const missing = after.totals.create + after.totals.update + Math.max(0, after.totals.conflict - plan.totals.conflict);
  if (missing > 0) {
    const examples = [...after.create, ...after.update.map((u) => `${u.entity} (${u.fields.join(', ')})`)].slice(0, 5);
    throw ApplicationFailure.create({
      message: `after the import, ${missing} backed-up entities are not on cluster ${input.cluster} as backed up: ${examples.join('; ')}. ${changesText(plan, after)}`,
      type: FailureType.RestoreVerificationFailed,
      nonRetryable: true,
      details: [after],
    });
  }
  progress('done', `${plan.totals.create} created, ${plan.totals.update} updated, ${plan.totals.conflict} left as the target had them`);
  return { ...base, plan, verification: { ok: true, conflictsLeftAsTarget: after.totals.conflict } };
}

type Acts = ActivitiesFor<'definitions'>;

// A failed restore says what it changed: re-plan and compare with the plan before.
async function describeChanges(act: Acts, source: Parameters<Acts['planDefinitionsRestore']>[0]['source'], cluster: string, before: RestorePlan): Promise<string> {
  try {
    return changesText(before, await act.planDefinitionsRestore({ source, cluster, transforms: before.compatibility?.transforms ?? [] }));
  } catch {
    return `what changed on cluster ${cluster} could not be determined (it was unreachable afterwards); the plan was: ${before.totals.create} to create, ${before.totals.update} to update`;
  }
}

function changesText(before: RestorePlan, after: RestorePlan): string {
  const created = before.totals.create - after.totals.create;
  const updated = before.totals.update - after.totals.update;
  return created === 0 && updated === 0
    ? 'nothing on the target was changed'
    : `changed on the target: ${created} entities created, ${updated} updated`;
}

function describeRefusals(report: CompatibilityReport, limit = 5): string {
  const shown = report.refusals.slice(0, limit).map((f) => `${f.entity}: ${f.detail} (rule ${f.rule}, RabbitMQ ${f.since}+; fix: --transform ${f.fixedBy})`);
  return `${shown.join('; ')}${report.refusedCount > shown.length ? `; and ${report.refusedCount - shown.length} more` : ''}`;
}

import { ApplicationFailure } from '@temporalio/workflow';
import { ValidateBackupsInput, type ComponentValidation, type ValidationReport } from '../contracts/validation';
import { FailureType } from '../common/failures';
import { activitiesWithRetry } from './toolkit/activities';
import { restoreAsChild } from './toolkit/childRestore';
import { explainFailure } from './toolkit/failures';
import { parseWorkflowInput } from './toolkit/input';
import { trackProgress } from './toolkit/progress';

// The guide's backup validation checklist, automated: the newest set of each
// cluster+component parses, holds its required keys and artifacts, its
// checksums verify, it is above the size floor and younger than the RPO;
// definitions are compared with the live cluster; then a test restore into a
// throwaway cluster proves it restores. Fails naming every failed check.
export async function validateBackups(rawInput: ValidateBackupsInput): Promise<ValidationReport> {
  const input = parseWorkflowInput(ValidateBackupsInput, rawInput, 'validateBackups');
  const progress = trackProgress();
  const act = activitiesWithRetry('validation', input.retry);
  const checkedAt = new Date().toISOString();

  progress('planning');
  const plan = await act
    .planValidation({ clusters: input.clusters, components: input.components, storage: input.storage, restoreInto: input.restoreInto })
    .catch((error: unknown) => {
      throw explainFailure('planning the validation', error);
    });
  const results: ComponentValidation[] = [];
  for (const entry of plan.entries) {
    progress('checking the newest set', `${entry.cluster} ${entry.component}`);
    const result = await act
      .validateNewestSet({ storage: plan.storage, cluster: entry.cluster, component: entry.component, thresholds: entry.thresholds, now: checkedAt })
      .catch((error: unknown) => {
        throw explainFailure(`validating the newest ${entry.component} set of ${entry.cluster}`, error);
      });
    if (result.status === 'ok' && plan.restoreInto && result.setId) {
      if (!entry.restoreWorkflow || plan.restoreInto === entry.cluster) {
        result.checks.push({
          check: 'test restore',
          ok: true,
          warning: true,
          detail: entry.restoreWorkflow ? `skipped: the throwaway target is ${entry.cluster} itself` : `skipped: no ${entry.component} restore workflow for validation (it changes the nodes: set componentWorkflows.${entry.component}.restore to use one)`,
        });
      } else {
        progress('test restore', `${entry.cluster} ${entry.component} ${result.setId} -> ${plan.restoreInto}`);
        const { childId, failure } = await restoreAsChild({
          workflow: entry.restoreWorkflow,
          restoreInput: entry.restoreInput,
          component: entry.component,
          sourceCluster: entry.cluster,
          set: result.setId,
          storage: plan.storage,
          into: plan.restoreInto,
          idSuffix: `${entry.cluster}-${entry.component}`,
        });
        result.checks.push({ check: 'test restore', ok: !failure, detail: failure ?? `restored into ${plan.restoreInto} and verified there (${childId})` });
        if (failure) result.status = 'failed';
      }
    }
    results.push(result);
  }
  const ok = results.every((r) => r.status === 'ok');
  progress('storing the report');
  const reportLocations = await act.storeValidationReport({ storage: plan.storage, report: { checkedAt, ok, results } }).catch((error: unknown) => {
    throw explainFailure('storing the validation report', error);
  });
  const report: ValidationReport = { checkedAt, ok, results, reportLocations };
  if (!ok) {
    const failures = results
      .filter((r) => r.status !== 'ok')
      .map((r) => `${r.cluster} ${r.component}${r.setId ? ` set ${r.setId}` : ''}: ${r.checks.filter((c) => !c.ok && !c.warning).map((c) => `${c.check} (${c.detail})`).join(', ')}`);
    throw ApplicationFailure.create({
      message: `backup validation failed: ${failures.join('; ')}`,
      type: FailureType.BackupValidationFailed,
      nonRetryable: true,
      details: [report],
    });
  }
  progress('done', `${results.length} components valid`);
  return report;
}

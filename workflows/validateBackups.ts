import { ApplicationFailure, executeChild, workflowInfo } from '@temporalio/workflow';
import { ValidateBackupsInput, type ComponentValidation, type ValidationReport } from '../common/automationInputs';
import { FailureType } from '../common/failures';
import { ClusterAttribute, ComponentAttribute } from '../common/searchAttributes';
import { activitiesWithRetry, explainFailure, parseWorkflowInput, trackProgress } from './toolkit/support';

// The guide's backup validation checklist, automated: the newest set of each
// cluster+component parses, holds its required keys and artifacts, its
// checksums verify, it is above the size floor and younger than the RPO;
// definitions are compared with the live cluster; then a test restore into a
// throwaway cluster proves it restores. Fails naming every failed check.
export async function validateBackups(rawInput: ValidateBackupsInput): Promise<ValidationReport> {
  const input = parseWorkflowInput(ValidateBackupsInput, rawInput, 'validateBackups');
  const progress = trackProgress();
  const act = activitiesWithRetry(input.retry);
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
        const childId = `${workflowInfo().workflowId}-restore-${entry.cluster}-${entry.component}`;
        const outcome = await executeChild(entry.restoreWorkflow, {
          workflowId: childId,
          args: [{ ...entry.restoreInput, cluster: plan.restoreInto, sourceCluster: entry.cluster, from: result.setId, storage: plan.storage }],
          typedSearchAttributes: [
            { key: ClusterAttribute, value: plan.restoreInto },
            { key: ComponentAttribute, value: entry.component },
          ],
        }).then(
          () => ({ ok: true, detail: `restored into ${plan.restoreInto} and verified there (${childId})` }),
          (error: unknown) => ({ ok: false, detail: explainFailure(`restore into ${plan.restoreInto}`, error).message }),
        );
        result.checks.push({ check: 'test restore', ...outcome });
        if (!outcome.ok) result.status = 'failed';
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

import { ApplicationFailure } from '@temporalio/workflow';
import { RestoreDrillInput, type DrillComponent, type DrillReport, type RestoreDrillResult } from '../contracts/drills';
import { FailureType } from '../common/failures';
import { activitiesWithRetry } from './toolkit/activities';
import { restoreAsChild } from './toolkit/childRestore';
import { explainFailure } from './toolkit/failures';
import { parseWorkflowInput } from './toolkit/input';
import { trackProgress } from './toolkit/progress';

// The guide's quarterly DR drill: the newest set of each component restored
// into a separate cluster and verified, RTO (drill duration) and RPO (age of
// the sets) measured against the guide's table; report.md + report.json are
// stored beside the backups under <cluster>/drills/<UTC>/.
export async function restoreDrill(rawInput: RestoreDrillInput): Promise<RestoreDrillResult> {
  const input = parseWorkflowInput(RestoreDrillInput, rawInput, 'restoreDrill');
  const progress = trackProgress();
  const act = activitiesWithRetry('drills', input.retry);
  const started = new Date();

  progress('planning', `${input.cluster} -> ${input.target ?? 'drills.targetCluster'}`);
  const plan = await act.planDrill({ cluster: input.cluster, target: input.target, components: input.components, storage: input.storage }).catch((error: unknown) => {
    throw explainFailure('planning the drill', error);
  });
  const components: DrillComponent[] = [];
  for (const c of plan.components) {
    const targets = { rtoTargetSeconds: c.rtoTargetSeconds, rpoTargetSeconds: c.rpoTargetSeconds };
    if (!c.restoreWorkflow) {
      components.push({ component: c.component, status: 'no-restore-workflow', ...targets, detail: `no ${c.component} restore workflow for drills (it changes the nodes: set componentWorkflows.${c.component}.restore to use one)` });
      continue;
    }
    progress('verifying the newest set', c.component);
    const verified = await act.verifyBackupSet({ storage: plan.storage, cluster: input.cluster, component: c.component, set: 'latest' }).then(
      (v) => v,
      (error: unknown) => explainFailure(`finding the newest ${c.component} set`, error),
    );
    if (verified instanceof ApplicationFailure) {
      components.push({ component: c.component, status: verified.type === FailureType.BackupSetNotFound ? 'no-backups' : 'failed', ...targets, detail: verified.message });
      continue;
    }
    const { manifest } = verified.set;
    const rpoSeconds = (started.getTime() - Date.parse(manifest.finishedAt)) / 1000;
    const base = { component: c.component, setId: manifest.setId, setFinishedAt: manifest.finishedAt, rpoSeconds, rpoMet: rpoSeconds <= c.rpoTargetSeconds, ...targets };
    if (!verified.report.ok) {
      components.push({ ...base, status: 'failed', detail: `checksums: ${verified.report.problems.map((p) => `${p.artifact}: ${p.problem}`).join('; ')}` });
      continue;
    }
    progress('restoring', `${c.component} ${manifest.setId} -> ${plan.target}`);
    const restoreStart = Date.now();
    const { childId, failure } = await restoreAsChild({
      workflow: c.restoreWorkflow,
      restoreInput: c.restoreInput,
      component: c.component,
      sourceCluster: input.cluster,
      set: manifest.setId,
      storage: plan.storage,
      into: plan.target,
      idSuffix: c.component,
    });
    const restoreSeconds = (Date.now() - restoreStart) / 1000;
    components.push({
      ...base,
      status: failure ? 'failed' : 'restored',
      restoreSeconds,
      rtoMet: restoreSeconds <= c.rtoTargetSeconds,
      detail: failure ?? `restored and verified on ${plan.target} (${childId})`,
    });
  }
  const finished = new Date();
  const rtoSeconds = (finished.getTime() - started.getTime()) / 1000;
  const restored = components.filter((c) => c.status === 'restored');
  const report: DrillReport = {
    cluster: input.cluster,
    target: plan.target,
    storage: plan.storage,
    startedAt: started.toISOString(),
    finishedAt: finished.toISOString(),
    rtoSeconds,
    rtoTargetSeconds: plan.fullRtoTargetSeconds,
    passed:
      restored.length > 0 &&
      components.every((c) => c.status !== 'failed' && c.status !== 'no-backups') &&
      restored.every((c) => c.rtoMet && c.rpoMet) &&
      rtoSeconds <= plan.fullRtoTargetSeconds,
    components,
  };
  progress('storing the report');
  const stored = await act.storeDrillReport({ storage: plan.storage, report }).catch((error: unknown) => {
    throw explainFailure('storing the drill report', error);
  });
  if (components.some((c) => c.status === 'failed')) {
    throw ApplicationFailure.create({
      message: `restore drill of ${input.cluster} into ${plan.target} failed: ${components
        .filter((c) => c.status === 'failed')
        .map((c) => `${c.component}: ${c.detail}`)
        .join('; ')} (report: ${stored.markdown})`,
      type: FailureType.DrillFailed,
      nonRetryable: true,
      details: [report],
    });
  }
  progress('done', `${report.passed ? 'passed' : 'targets missed'}: RTO ${rtoSeconds.toFixed(1)} s; report ${stored.markdown}`);
  return { ...report, reportJson: stored.json, reportMarkdown: stored.markdown };
}

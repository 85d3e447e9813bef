import { CancellationScope } from '@temporalio/workflow';
import type { KubernetesRestorePlan } from '../../lib/kubernetes/configMap';
import type { KubernetesConfigurationDetails } from '../../common/configurationDetails';
import type { ActivitiesFor } from '../toolkit/activities';
import { describe, explainFailure } from '../toolkit/failures';
import type { ReportProgress } from '../toolkit/progress';

export interface ConfigMapRef {
  cluster: string;
  storage: string;
  prefix: string;
  artifact: string;
  sha256: string;
}

// The guide's Recovery 3 on Kubernetes: kubectl apply of the ConfigMap, then
// (restart) kubectl rollout restart of the StatefulSet, then the ConfigMap
// checked. A failure puts the old ConfigMap back (it was kept beside it) and says so.
export async function applyConfigMap(
  act: ActivitiesFor<'configuration'>,
  ref: ConfigMapRef,
  k8s: KubernetesConfigurationDetails,
  plan: KubernetesRestorePlan,
  options: { restart: boolean; restartedAt: string; progress: ReportProgress },
): Promise<{ restarted: boolean }> {
  let restarted = false;
  try {
    options.progress('writing ConfigMap', `${k8s.namespace}/${plan.configMap}: ${plan.keysChanged.join(', ')}`);
    await act.restoreKubernetesConfigMap({ ...ref, plan });
    if (options.restart) {
      options.progress('rollout restart', `StatefulSet ${k8s.namespace}/${k8s.statefulSet}`);
      await act.rolloutRestartStatefulSet({ cluster: ref.cluster, name: k8s.statefulSet, restartedAt: options.restartedAt });
      restarted = true;
    }
    const { keysDiffering } = await act.checkKubernetesConfigMap({ ...ref, configMap: plan.configMap });
    if (keysDiffering.length) throw new Error(`after the restore the keys ${keysDiffering.join(', ')} of ConfigMap ${plan.configMap} still differ from the set`);
    return { restarted };
  } catch (error) {
    const undo = await CancellationScope.nonCancellable(async () => {
      await act.rollBackKubernetesConfigMap({ cluster: ref.cluster, plan });
      return `ConfigMap ${k8s.namespace}/${plan.configMap} put back as it was${restarted ? ` (the StatefulSet ${k8s.statefulSet} was already restarted)` : ''}`;
    }).catch((undoError: unknown) => `putting ConfigMap ${plan.configMap} back failed too (${describe(undoError)})${plan.previous ? `: its old data is kept in ConfigMap ${plan.previous}` : ''}`);
    throw explainFailure(`restoring ConfigMap ${k8s.namespace}/${plan.configMap}`, error, `${undo}; no node's files were changed`);
  }
}

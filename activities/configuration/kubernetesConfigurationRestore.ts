import { ApplicationFailure } from '@temporalio/common';
import { MANIFEST_FILE } from '../../common/backupSetLayout';
import { FailureType } from '../../common/failures';
import { parseUntrustedJson, refuseUntrusted } from '../../common/untrusted';
import { readVerifiedArtifact } from '../../lib/backupSets/artifacts';
import { kubernetesAccess, kubernetesApis } from '../../lib/kubernetes/client';
import {
  applyConfigMap,
  changedKeys,
  keptConfigMapName,
  MAX_CONFIG_MAP_JSON_BYTES,
  putBackConfigMap,
  readConfigMap,
  rolloutRestartStatefulSet,
  StoredConfigMap,
  type KubernetesRestorePlan,
} from '../../lib/kubernetes/configMap';
import type { ActivityDeps } from '../deps';

// Main task queue: the worker reaches the Kubernetes API with the kubeconfig of its own config.
export function createKubernetesConfigurationRestoreActivities(deps: ActivityDeps) {
  const backedUpConfigMap = async (input: { storage?: string; prefix: string; artifact: string; sha256: string }): Promise<StoredConfigMap> => {
    const bytes = await readVerifiedArtifact(deps.openStorage(input.storage).backend, input.prefix, { name: input.artifact, sha256: input.sha256 }, 16 * 1024 * 1024);
    return parseUntrustedJson(StoredConfigMap, bytes, MAX_CONFIG_MAP_JSON_BYTES, { set: input.prefix, artifact: input.artifact });
  };

  return {
    // What restoring the set's ConfigMap would change; touches nothing.
    // Only the ConfigMap the target's config names is written, never one named by the set.
    async planKubernetesConfigMapRestore(input: { cluster: string; storage?: string; prefix: string; artifact: string; sha256: string; restoreTag: string; statefulSet?: string }): Promise<KubernetesRestorePlan> {
      const access = kubernetesAccess(deps.config, input.cluster);
      const wanted = await backedUpConfigMap(input);
      const name = access.configMap ?? access.release;
      const ownStatefulSet = access.statefulSet ?? access.release;
      if (input.statefulSet !== undefined && input.statefulSet !== ownStatefulSet) {
        throw refuseUntrusted(
          { set: input.prefix, artifact: `${MANIFEST_FILE} (details)` },
          `StatefulSet ${input.statefulSet} is not the one clusters.${input.cluster}.kubernetes names (${ownStatefulSet})`,
          FailureType.ConfigurationPathRefused,
        );
      }
      if (wanted.metadata?.name !== undefined && wanted.metadata.name !== name) {
        throw refuseUntrusted(
          { set: input.prefix, artifact: input.artifact },
          `ConfigMap ${wanted.metadata.name} is not the one clusters.${input.cluster}.kubernetes names (${name})`,
          FailureType.ConfigurationPathRefused,
        );
      }
      const current = await readConfigMap(await kubernetesApis(access), access.namespace, name);
      if (!current) return { configMap: name, action: 'create', keysChanged: changedKeys(wanted, {}), previous: null };
      const keysChanged = changedKeys(wanted, current);
      return { configMap: name, action: keysChanged.length ? 'replace' : 'identical', keysChanged, previous: keysChanged.length ? keptConfigMapName(name, input.restoreTag) : null };
    },

    // kubectl apply of the backed-up ConfigMap's data; the replaced one is kept
    // as the ConfigMap plan.previous first. A retry finds it done and skips.
    async restoreKubernetesConfigMap(input: { cluster: string; storage?: string; prefix: string; artifact: string; sha256: string; plan: KubernetesRestorePlan }): Promise<void> {
      const access = kubernetesAccess(deps.config, input.cluster);
      const apis = await kubernetesApis(access);
      await applyConfigMap(apis, access.namespace, input.plan, await backedUpConfigMap(input));
    },

    // Compensation: the kept ConfigMap's data back, or a created one removed.
    async rollBackKubernetesConfigMap(input: { cluster: string; plan: KubernetesRestorePlan }): Promise<void> {
      const access = kubernetesAccess(deps.config, input.cluster);
      await putBackConfigMap(await kubernetesApis(access), access.namespace, input.plan);
    },

    // kubectl rollout restart statefulset.
    async rolloutRestartStatefulSet(input: { cluster: string; name: string; restartedAt: string }): Promise<void> {
      const access = kubernetesAccess(deps.config, input.cluster);
      // The name comes from the set: only the StatefulSet of the target's own config is restarted.
      const own = access.statefulSet ?? access.release;
      if (input.name !== own) {
        throw ApplicationFailure.create({ message: `StatefulSet ${input.name} is not the one clusters.${input.cluster}.kubernetes names (${own}): not restarted`, type: FailureType.ConfigurationPathRefused, nonRetryable: true });
      }
      await rolloutRestartStatefulSet(await kubernetesApis(access), access.namespace, input.name, input.restartedAt, `clusters.${input.cluster}.kubernetes.statefulSet`);
    },

    // The ConfigMap now holds the set's data.
    async checkKubernetesConfigMap(input: { cluster: string; storage?: string; prefix: string; artifact: string; sha256: string; configMap: string }): Promise<{ keysDiffering: string[] }> {
      const access = kubernetesAccess(deps.config, input.cluster);
      const current = await readConfigMap(await kubernetesApis(access), access.namespace, input.configMap);
      const wanted = await backedUpConfigMap(input);
      return { keysDiffering: current ? changedKeys(wanted, current) : changedKeys(wanted, {}) };
    },
  };
}

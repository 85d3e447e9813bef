import { stringify } from 'yaml';
import { EXTRACTED_CONFIG_MAP_KEYS, KUBERNETES_ARTIFACTS, persistentVolumeClaimArtifact } from '../../common/backupSetLayout';
import type { KubernetesConfigurationDetails } from '../../common/configurationDetails';
import type { Artifact } from '../../common/manifest';
import { storeArtifact } from '../../lib/backupSets/artifacts';
import { kubernetesAccess, kubernetesApis } from '../../lib/kubernetes/client';
import { readReleaseObjects, storedObject } from '../../lib/kubernetes/releaseObjects';
import type { ActivityDeps } from '../deps';

// Main task queue: the worker reaches the Kubernetes API with the kubeconfig of its own config.
export function createKubernetesConfigurationBackupActivities(deps: ActivityDeps) {
  return {
    // kubectl get configmap/secret/pvc -o yaml, helm get values, helm list: each stored as an artifact. Idempotent.
    async exportKubernetesConfiguration(input: { cluster: string; storage?: string; prefix: string }): Promise<{ storage: string; artifacts: Artifact[]; details: KubernetesConfigurationDetails }> {
      const access = kubernetesAccess(deps.config, input.cluster);
      const apis = await kubernetesApis(access);
      const { name: storage, backend } = deps.openStorage(input.storage);
      const { namespace, release } = access;
      const artifacts: Artifact[] = [];
      const store = async (name: string, bytes: Buffer, contentType: string) => {
        const artifact = await storeArtifact(backend, input.prefix, name, bytes, contentType);
        artifacts.push(artifact);
        return artifact.name;
      };

      const objects = await readReleaseObjects(apis, access, (name) => `clusters.${input.cluster}.kubernetes.${name}`);
      const { configMap, secret, helm } = objects;
      const configMapArtifact = await store(KUBERNETES_ARTIFACTS.configMap, storedObject(configMap), 'application/json');
      const secretArtifact = await store(KUBERNETES_ARTIFACTS.secret, storedObject(secret), 'application/json');
      const claims: KubernetesConfigurationDetails['persistentVolumeClaims'] = [];
      for (const pvc of objects.persistentVolumeClaims) {
        const name = pvc.metadata?.name ?? '?';
        claims.push({
          name,
          artifact: await store(persistentVolumeClaimArtifact(name), storedObject(pvc), 'application/json'),
          storageClass: pvc.spec?.storageClassName ?? null,
          size: pvc.spec?.resources?.requests?.storage ?? null,
        });
      }
      const valuesArtifact = await store(KUBERNETES_ARTIFACTS.helmValues, Buffer.from(stringify(helm.values)), 'application/yaml');
      const chartInfo = { name: helm.name, namespace: helm.namespace, revision: String(helm.revision), updated: helm.updated, status: helm.status, chart: helm.chart, app_version: helm.appVersion };
      const chartInfoArtifact = await store(KUBERNETES_ARTIFACTS.chartInfo, Buffer.from(`${JSON.stringify(chartInfo, null, 2)}\n`), 'application/json');
      const extracted: KubernetesConfigurationDetails['extracted'] = [];
      for (const key of EXTRACTED_CONFIG_MAP_KEYS) {
        const value = configMap.data?.[key];
        if (value !== undefined) extracted.push({ key, artifact: await store(key, Buffer.from(value, 'utf8'), 'text/plain') });
      }
      return {
        storage,
        artifacts,
        details: {
          server: apis.describe,
          namespace,
          release,
          statefulSet: access.statefulSet ?? release,
          configMap: { name: objects.configMapName, artifact: configMapArtifact, keys: Object.keys({ ...configMap.data, ...configMap.binaryData }).sort() },
          secret: { name: objects.secretName, artifact: secretArtifact, keys: Object.keys({ ...secret.data, ...secret.stringData }).sort() },
          persistentVolumeClaims: claims,
          helm: { revision: helm.revision, chart: helm.chart, appVersion: helm.appVersion, status: helm.status, valuesArtifact, chartInfoArtifact },
          extracted,
        },
      };
    },
  };
}

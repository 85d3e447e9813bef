import { ApplicationFailure } from '@temporalio/common';
import { stringify } from 'yaml';
import { z } from 'zod';
import type { KubernetesConfigurationDetails } from '../../common/configurationDetails';
import { FailureType } from '../../common/failures';
import type { Artifact } from '../../common/manifest';
import { parseUntrustedJson, refuseUntrusted } from '../../common/untrusted';
import { ObjectName, type KubernetesAccess } from '../../config/kubernetesSchema';
import { readSmallObject, storeArtifact } from '../../lib/backupSets/artifacts';
import { clusterConfig } from '../../lib/clusterConfig';
import type { ActivityDeps } from '../deps';
import { sha256 } from '../../lib/configuration/nodeConfigFiles';
import { kubernetesApis, type KubernetesApis } from '../../lib/kubernetes/client';
import { decodeHelmRelease, HelmReleaseUnreadable, newestRevision } from '../../lib/kubernetes/helmRelease';

// The guide's extracted files: these ConfigMap keys are also stored on their own.
const EXTRACTED_KEYS = ['rabbitmq.conf', 'enabled_plugins', 'advanced.config'];
// Stripped before storing: server bookkeeping that `kubectl apply` would refuse or ignore.
const BOOKKEEPING = ['managedFields'];

export type ConfigMapAction = 'identical' | 'replace' | 'create';
export interface KubernetesRestorePlan {
  configMap: string;
  action: ConfigMapAction;
  // Keys whose value differs, is missing on the cluster or is extra there (names only).
  keysChanged: string[];
  // Where the replaced ConfigMap is kept (replace only): a ConfigMap of its own beside it.
  previous: string | null;
}

function accessOf(deps: ActivityDeps, cluster: string): KubernetesAccess {
  const access = clusterConfig(deps.config, cluster).kubernetes;
  if (!access) {
    throw ApplicationFailure.create({ message: `cluster "${cluster}" has no kubernetes section in the worker's config (clusters.${cluster}.kubernetes)`, type: FailureType.UnknownCluster, nonRetryable: true });
  }
  return access;
}

// ApiException of @kubernetes/client-node: `code` is the HTTP status. The body
// may echo the object: only its reason goes into the failure.
function kubernetesFailure(error: unknown, what: string, field?: string): ApplicationFailure {
  const code = (error as { code?: number }).code;
  const reason = (() => {
    try {
      return (JSON.parse(String((error as { body?: unknown }).body)) as { message?: string }).message;
    } catch {
      return undefined;
    }
  })();
  if (code === 404) {
    return ApplicationFailure.create({ message: `${what} not found${field ? `: set ${field}` : ''}`, type: FailureType.KubernetesObjectNotFound, nonRetryable: true });
  }
  const detail = reason ?? (error as Error).message?.split('\n')[0]?.slice(0, 200) ?? String(error);
  if (code === 401 || code === 403) {
    return ApplicationFailure.create({ message: `${what}: the Kubernetes API refused the kubeconfig's credentials (${code}: ${detail})`, type: FailureType.AuthenticationFailed, nonRetryable: true });
  }
  return ApplicationFailure.create({ message: `${what}: ${code ? `HTTP ${code}: ` : ''}${detail}`, type: FailureType.KubernetesApiError });
}

function stored(object: object): Buffer {
  const copy = JSON.parse(JSON.stringify(object)) as { metadata?: Record<string, unknown> };
  for (const key of BOOKKEEPING) delete copy.metadata?.[key];
  return Buffer.from(`${JSON.stringify(copy, null, 2)}\n`);
}

// The ConfigMap artifact as read back from storage: names, keys and values checked before any goes to the API.
const ConfigMapKey = z.string().regex(/^[-._a-zA-Z0-9]{1,253}$/, 'must be a ConfigMap key (letters, digits, "-", "_", ".")');
const StoredConfigMap = z.object({
  metadata: z
    .object({ name: ObjectName.optional(), labels: z.record(z.string().max(317), z.string().max(63)).optional(), annotations: z.record(z.string().max(317), z.string()).optional() })
    .optional(),
  data: z.record(ConfigMapKey, z.string()).optional(),
  binaryData: z.record(ConfigMapKey, z.base64()).optional(),
});
type StoredConfigMap = z.infer<typeof StoredConfigMap>;
// The API refuses a ConfigMap over 1 MiB; a JSON copy of one is a little larger.
const MAX_CONFIG_MAP_JSON_BYTES = 4 * 1024 * 1024;

function changedKeys(a: StoredConfigMap, b: StoredConfigMap): string[] {
  const keys = new Set([...Object.keys(a.data ?? {}), ...Object.keys(a.binaryData ?? {}), ...Object.keys(b.data ?? {}), ...Object.keys(b.binaryData ?? {})]);
  return [...keys].filter((k) => a.data?.[k] !== b.data?.[k] || a.binaryData?.[k] !== b.binaryData?.[k]).sort();
}

async function readConfigMap(apis: KubernetesApis, namespace: string, name: string): Promise<StoredConfigMap | null> {
  try {
    return (await apis.core.readNamespacedConfigMap({ name, namespace })) as StoredConfigMap;
  } catch (error) {
    if ((error as { code?: number }).code === 404) return null;
    throw kubernetesFailure(error, `reading ConfigMap ${namespace}/${name}`);
  }
}

// Main task queue: the worker reaches the Kubernetes API with the kubeconfig of its own config.
export function createKubernetesConfigurationActivities(deps: ActivityDeps) {
  const backedUpConfigMap = async (input: { storage?: string; prefix: string; artifact: string; sha256: string }): Promise<StoredConfigMap> => {
    const bytes = await readSmallObject(deps.openStorage(input.storage).backend, `${input.prefix}/${input.artifact}`, 16 * 1024 * 1024);
    if (sha256(bytes) !== input.sha256) {
      throw ApplicationFailure.create({ message: `${input.artifact} changed in storage since it was verified (SHA-256 differs)`, type: FailureType.ManifestChecksumMismatch, nonRetryable: true });
    }
    return parseUntrustedJson(StoredConfigMap, bytes, MAX_CONFIG_MAP_JSON_BYTES, { set: input.prefix, artifact: input.artifact });
  };

  return {
    // kubectl get configmap/secret/pvc -o yaml, helm get values, helm list: each stored as an artifact. Idempotent.
    async exportKubernetesConfiguration(input: { cluster: string; storage?: string; prefix: string }): Promise<{ storage: string; artifacts: Artifact[]; details: KubernetesConfigurationDetails }> {
      const access = accessOf(deps, input.cluster);
      const apis = await kubernetesApis(access);
      const { name: storage, backend } = deps.openStorage(input.storage);
      const { namespace, release } = access;
      const field = (name: string) => `clusters.${input.cluster}.kubernetes.${name}`;
      const artifacts: Artifact[] = [];
      const store = async (name: string, bytes: Buffer, contentType: string) => {
        const artifact = await storeArtifact(backend, input.prefix, name, bytes, contentType);
        artifacts.push(artifact);
        return artifact.name;
      };

      const configMapName = access.configMap ?? release;
      const configMap = await apis.core.readNamespacedConfigMap({ name: configMapName, namespace }).catch((e: unknown) => {
        throw kubernetesFailure(e, `ConfigMap ${namespace}/${configMapName}`, field('configMap'));
      });
      const secretName = access.secret ?? release;
      const secret = await apis.core.readNamespacedSecret({ name: secretName, namespace }).catch((e: unknown) => {
        throw kubernetesFailure(e, `Secret ${namespace}/${secretName}`, field('secret'));
      });
      const pvcs = access.persistentVolumeClaims
        ? await Promise.all(
            access.persistentVolumeClaims.map((name) =>
              apis.core.readNamespacedPersistentVolumeClaim({ name, namespace }).catch((e: unknown) => {
                throw kubernetesFailure(e, `PersistentVolumeClaim ${namespace}/${name}`, field('persistentVolumeClaims'));
              }),
            ),
          )
        : await apis.core
            .listNamespacedPersistentVolumeClaim({ namespace, labelSelector: `app.kubernetes.io/instance=${release}` })
            // A release with persistence off has no PVC: that is no error.
            .then(async (list) =>
              list.items.length
                ? list.items
                : await apis.core.readNamespacedPersistentVolumeClaim({ name: release, namespace }).then(
                    (pvc) => [pvc],
                    (e: unknown) => {
                      if ((e as { code?: number }).code === 404) return [];
                      throw e;
                    },
                  ),
            )
            .catch((e: unknown) => {
              throw kubernetesFailure(e, `PersistentVolumeClaims of release ${release} in ${namespace} (labelled app.kubernetes.io/instance=${release}, or named ${release})`, field('persistentVolumeClaims'));
            });
      const releaseSecrets = await apis.core.listNamespacedSecret({ namespace, labelSelector: `owner=helm,name=${release}` }).catch((e: unknown) => {
        throw kubernetesFailure(e, `Helm release secrets of ${release} in ${namespace}`);
      });
      const newest = newestRevision(releaseSecrets.items);
      if (!newest?.data?.release) {
        throw ApplicationFailure.create({ message: `no Helm release ${release} in namespace ${namespace} (no Secret labelled owner=helm,name=${release}): set ${field('release')}`, type: FailureType.KubernetesObjectNotFound, nonRetryable: true });
      }
      let helm;
      try {
        helm = decodeHelmRelease(newest.metadata?.name ?? '?', newest.data.release);
      } catch (error) {
        if (error instanceof HelmReleaseUnreadable) throw ApplicationFailure.create({ message: error.message, type: FailureType.KubernetesApiError, nonRetryable: true });
        throw error;
      }

      const configMapArtifact = await store('configmap.json', stored(configMap), 'application/json');
      const secretArtifact = await store('secret.json', stored(secret), 'application/json');
      const claims: KubernetesConfigurationDetails['persistentVolumeClaims'] = [];
      for (const pvc of pvcs) {
        const name = pvc.metadata?.name ?? '?';
        claims.push({
          name,
          artifact: await store(`pvc-${name}.json`, stored(pvc), 'application/json'),
          storageClass: pvc.spec?.storageClassName ?? null,
          size: pvc.spec?.resources?.requests?.storage ?? null,
        });
      }
      const valuesArtifact = await store('helm-values.yaml', Buffer.from(stringify(helm.values)), 'application/yaml');
      const chartInfo = { name: helm.name, namespace: helm.namespace, revision: String(helm.revision), updated: helm.updated, status: helm.status, chart: helm.chart, app_version: helm.appVersion };
      const chartInfoArtifact = await store('chart-info.json', Buffer.from(`${JSON.stringify(chartInfo, null, 2)}\n`), 'application/json');
      const extracted: KubernetesConfigurationDetails['extracted'] = [];
      for (const key of EXTRACTED_KEYS) {
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
          configMap: { name: configMapName, artifact: configMapArtifact, keys: Object.keys({ ...configMap.data, ...configMap.binaryData }).sort() },
          secret: { name: secretName, artifact: secretArtifact, keys: Object.keys({ ...secret.data, ...secret.stringData }).sort() },
          persistentVolumeClaims: claims,
          helm: { revision: helm.revision, chart: helm.chart, appVersion: helm.appVersion, status: helm.status, valuesArtifact, chartInfoArtifact },
          extracted,
        },
      };
    },

    // What restoring the set's ConfigMap would change; touches nothing.
    // Only the ConfigMap the target's config names is written, never one named by the set.
    async planKubernetesConfigMapRestore(input: { cluster: string; storage?: string; prefix: string; artifact: string; sha256: string; restoreTag: string; statefulSet?: string }): Promise<KubernetesRestorePlan> {
      const access = accessOf(deps, input.cluster);
      const wanted = await backedUpConfigMap(input);
      const name = access.configMap ?? access.release;
      const ownStatefulSet = access.statefulSet ?? access.release;
      if (input.statefulSet !== undefined && input.statefulSet !== ownStatefulSet) {
        throw refuseUntrusted(
          { set: input.prefix, artifact: 'manifest.json (details)' },
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
      return { configMap: name, action: keysChanged.length ? 'replace' : 'identical', keysChanged, previous: keysChanged.length ? `${name}-rabbitvault-before-${input.restoreTag}`.slice(0, 253) : null };
    },

    // kubectl apply of the backed-up ConfigMap's data; the replaced one is kept
    // as the ConfigMap plan.previous first. A retry finds it done and skips.
    async restoreKubernetesConfigMap(input: { cluster: string; storage?: string; prefix: string; artifact: string; sha256: string; plan: KubernetesRestorePlan }): Promise<void> {
      const access = accessOf(deps, input.cluster);
      const apis = await kubernetesApis(access);
      const { namespace } = access;
      const wanted = await backedUpConfigMap(input);
      const current = await readConfigMap(apis, namespace, input.plan.configMap);
      if (current && changedKeys(wanted, current).length === 0) return;
      try {
        if (!current) {
          await apis.core.createNamespacedConfigMap({
            namespace,
            body: { metadata: { name: input.plan.configMap, labels: wanted.metadata?.labels, annotations: wanted.metadata?.annotations }, data: wanted.data, binaryData: wanted.binaryData },
          });
          return;
        }
        if (input.plan.previous && !(await readConfigMap(apis, namespace, input.plan.previous))) {
          await apis.core.createNamespacedConfigMap({
            namespace,
            body: { metadata: { name: input.plan.previous, labels: { 'app.kubernetes.io/managed-by': 'rabbitvault' }, annotations: { 'rabbitvault/kept-from': input.plan.configMap } }, data: current.data, binaryData: current.binaryData },
          });
        }
        await apis.core.replaceNamespacedConfigMap({ name: input.plan.configMap, namespace, body: { ...current, data: wanted.data, binaryData: wanted.binaryData } as never });
      } catch (error) {
        throw kubernetesFailure(error, `writing ConfigMap ${namespace}/${input.plan.configMap}`);
      }
    },

    // Compensation: the kept ConfigMap's data back, or a created one removed.
    async rollBackKubernetesConfigMap(input: { cluster: string; plan: KubernetesRestorePlan }): Promise<void> {
      const access = accessOf(deps, input.cluster);
      const apis = await kubernetesApis(access);
      const { namespace } = access;
      try {
        if (input.plan.action === 'create') {
          await apis.core.deleteNamespacedConfigMap({ name: input.plan.configMap, namespace }).catch((e: unknown) => {
            if ((e as { code?: number }).code !== 404) throw e;
          });
        } else if (input.plan.previous) {
          const kept = await readConfigMap(apis, namespace, input.plan.previous);
          const current = await readConfigMap(apis, namespace, input.plan.configMap);
          if (kept && current) await apis.core.replaceNamespacedConfigMap({ name: input.plan.configMap, namespace, body: { ...current, data: kept.data, binaryData: kept.binaryData } as never });
        }
      } catch (error) {
        throw kubernetesFailure(error, `putting ConfigMap ${namespace}/${input.plan.configMap} back`);
      }
    },

    // kubectl rollout restart statefulset: a new restartedAt annotation on the pod template.
    async rolloutRestartStatefulSet(input: { cluster: string; name: string; restartedAt: string }): Promise<void> {
      const access = accessOf(deps, input.cluster);
      // The name comes from the set: only the StatefulSet of the target's own config is restarted.
      const own = access.statefulSet ?? access.release;
      if (input.name !== own) {
        throw ApplicationFailure.create({ message: `StatefulSet ${input.name} is not the one clusters.${input.cluster}.kubernetes names (${own}): not restarted`, type: FailureType.ConfigurationPathRefused, nonRetryable: true });
      }
      const apis = await kubernetesApis(access);
      const { namespace } = access;
      try {
        const set = await apis.apps.readNamespacedStatefulSet({ name: input.name, namespace });
        const template = set.spec!.template;
        template.metadata = { ...template.metadata, annotations: { ...template.metadata?.annotations, 'kubectl.kubernetes.io/restartedAt': input.restartedAt } };
        await apis.apps.replaceNamespacedStatefulSet({ name: input.name, namespace, body: set });
      } catch (error) {
        throw kubernetesFailure(error, `restarting StatefulSet ${namespace}/${input.name}`, `clusters.${input.cluster}.kubernetes.statefulSet`);
      }
    },

    // The ConfigMap now holds the set's data.
    async checkKubernetesConfigMap(input: { cluster: string; storage?: string; prefix: string; artifact: string; sha256: string; configMap: string }): Promise<{ keysDiffering: string[] }> {
      const access = accessOf(deps, input.cluster);
      const current = await readConfigMap(await kubernetesApis(access), access.namespace, input.configMap);
      const wanted = await backedUpConfigMap(input);
      return { keysDiffering: current ? changedKeys(wanted, current) : changedKeys(wanted, {}) };
    },
  };
}

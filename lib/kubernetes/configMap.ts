import { z } from 'zod';
import { ObjectName } from '../../config/kubernetesSchema';
import type { KubernetesApis } from './client';
import { kubernetesFailure } from './failures';

export type ConfigMapAction = 'identical' | 'replace' | 'create';
export interface KubernetesRestorePlan {
  configMap: string;
  action: ConfigMapAction;
  // Keys whose value differs, is missing on the cluster or is extra there (names only).
  keysChanged: string[];
  // Where the replaced ConfigMap is kept (replace only): a ConfigMap of its own beside it.
  previous: string | null;
}

// The ConfigMap artifact as read back from storage: names, keys and values checked before any goes to the API.
const ConfigMapKey = z.string().regex(/^[-._a-zA-Z0-9]{1,253}$/, 'must be a ConfigMap key (letters, digits, "-", "_", ".")');
export const StoredConfigMap = z.object({
  metadata: z
    .object({ name: ObjectName.optional(), labels: z.record(z.string().max(317), z.string().max(63)).optional(), annotations: z.record(z.string().max(317), z.string()).optional() })
    .optional(),
  data: z.record(ConfigMapKey, z.string()).optional(),
  binaryData: z.record(ConfigMapKey, z.base64()).optional(),
});
export type StoredConfigMap = z.infer<typeof StoredConfigMap>;
// The API refuses a ConfigMap over 1 MiB; a JSON copy of one is a little larger.
export const MAX_CONFIG_MAP_JSON_BYTES = 4 * 1024 * 1024;

export function changedKeys(a: StoredConfigMap, b: StoredConfigMap): string[] {
  const keys = new Set([...Object.keys(a.data ?? {}), ...Object.keys(a.binaryData ?? {}), ...Object.keys(b.data ?? {}), ...Object.keys(b.binaryData ?? {})]);
  return [...keys].filter((k) => a.data?.[k] !== b.data?.[k] || a.binaryData?.[k] !== b.binaryData?.[k]).sort();
}

export async function readConfigMap(apis: KubernetesApis, namespace: string, name: string): Promise<StoredConfigMap | null> {
  try {
    return (await apis.core.readNamespacedConfigMap({ name, namespace })) as StoredConfigMap;
  } catch (error) {
    if ((error as { code?: number }).code === 404) return null;
    throw kubernetesFailure(error, `reading ConfigMap ${namespace}/${name}`);
  }
}

// Where a restore keeps the ConfigMap it replaces: beside it, named after the restore.
export function keptConfigMapName(name: string, restoreTag: string): string {
  return `${name}-rabbitvault-before-${restoreTag}`.slice(0, 253);
}

// kubectl apply of the wanted data; the replaced ConfigMap is kept as
// plan.previous first. Done already (a retry): nothing changes.
export async function applyConfigMap(apis: KubernetesApis, namespace: string, plan: KubernetesRestorePlan, wanted: StoredConfigMap): Promise<void> {
  const current = await readConfigMap(apis, namespace, plan.configMap);
  if (current && changedKeys(wanted, current).length === 0) return;
  try {
    if (!current) {
      await apis.core.createNamespacedConfigMap({
        namespace,
        body: { metadata: { name: plan.configMap, labels: wanted.metadata?.labels, annotations: wanted.metadata?.annotations }, data: wanted.data, binaryData: wanted.binaryData },
      });
      return;
    }
    if (plan.previous && !(await readConfigMap(apis, namespace, plan.previous))) {
      await apis.core.createNamespacedConfigMap({
        namespace,
        body: { metadata: { name: plan.previous, labels: { 'app.kubernetes.io/managed-by': 'rabbitvault' }, annotations: { 'rabbitvault/kept-from': plan.configMap } }, data: current.data, binaryData: current.binaryData },
      });
    }
    await apis.core.replaceNamespacedConfigMap({ name: plan.configMap, namespace, body: { ...current, data: wanted.data, binaryData: wanted.binaryData } as never });
  } catch (error) {
    throw kubernetesFailure(error, `writing ConfigMap ${namespace}/${plan.configMap}`);
  }
}

// Undoes applyConfigMap: the kept ConfigMap's data back, or a created one removed.
export async function putBackConfigMap(apis: KubernetesApis, namespace: string, plan: KubernetesRestorePlan): Promise<void> {
  try {
    if (plan.action === 'create') {
      await apis.core.deleteNamespacedConfigMap({ name: plan.configMap, namespace }).catch((e: unknown) => {
        if ((e as { code?: number }).code !== 404) throw e;
      });
    } else if (plan.previous) {
      const kept = await readConfigMap(apis, namespace, plan.previous);
      const current = await readConfigMap(apis, namespace, plan.configMap);
      if (kept && current) await apis.core.replaceNamespacedConfigMap({ name: plan.configMap, namespace, body: { ...current, data: kept.data, binaryData: kept.binaryData } as never });
    }
  } catch (error) {
    throw kubernetesFailure(error, `putting ConfigMap ${namespace}/${plan.configMap} back`);
  }
}

// kubectl rollout restart statefulset: a new restartedAt annotation on the pod template.
export async function rolloutRestartStatefulSet(apis: KubernetesApis, namespace: string, name: string, restartedAt: string, field: string): Promise<void> {
  try {
    const set = await apis.apps.readNamespacedStatefulSet({ name, namespace });
    const template = set.spec!.template;
    template.metadata = { ...template.metadata, annotations: { ...template.metadata?.annotations, 'kubectl.kubernetes.io/restartedAt': restartedAt } };
    await apis.apps.replaceNamespacedStatefulSet({ name, namespace, body: set });
  } catch (error) {
    throw kubernetesFailure(error, `restarting StatefulSet ${namespace}/${name}`, field);
  }
}

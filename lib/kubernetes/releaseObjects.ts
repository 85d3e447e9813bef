import { ApplicationFailure } from '@temporalio/common';
import { FailureType } from '../../common/failures';
import type { KubernetesAccess } from '../../config/kubernetesSchema';
import type { KubernetesApis } from './client';
import { kubernetesFailure } from './failures';
import { decodeHelmRelease, HelmReleaseUnreadable, newestRevision, type HelmRelease } from './helmRelease';

type Core = KubernetesApis['core'];
type ConfigMap = Awaited<ReturnType<Core['readNamespacedConfigMap']>>;
type Secret = Awaited<ReturnType<Core['readNamespacedSecret']>>;
type PersistentVolumeClaim = Awaited<ReturnType<Core['readNamespacedPersistentVolumeClaim']>>;

// Stripped before storing: server bookkeeping that `kubectl apply` would refuse or ignore.
const BOOKKEEPING = ['managedFields'];

// What a configuration backup keeps of a release: its ConfigMap, Secret and
// PersistentVolumeClaims, and the newest revision of the Helm release.
export interface ReleaseObjects {
  configMapName: string;
  configMap: ConfigMap;
  secretName: string;
  secret: Secret;
  persistentVolumeClaims: PersistentVolumeClaim[];
  helm: HelmRelease;
}

// kubectl get configmap/secret/pvc, helm get values, helm list: the objects
// the cluster's config names, or the release's own. field(name): the config
// field an operator sets when an object is not found.
export async function readReleaseObjects(apis: KubernetesApis, access: KubernetesAccess, field: (name: string) => string): Promise<ReleaseObjects> {
  const { namespace, release } = access;
  const configMapName = access.configMap ?? release;
  const configMap = await apis.core.readNamespacedConfigMap({ name: configMapName, namespace }).catch((e: unknown) => {
    throw kubernetesFailure(e, `ConfigMap ${namespace}/${configMapName}`, field('configMap'));
  });
  const secretName = access.secret ?? release;
  const secret = await apis.core.readNamespacedSecret({ name: secretName, namespace }).catch((e: unknown) => {
    throw kubernetesFailure(e, `Secret ${namespace}/${secretName}`, field('secret'));
  });
  const persistentVolumeClaims = access.persistentVolumeClaims
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
  let helm: HelmRelease;
  try {
    helm = decodeHelmRelease(newest.metadata?.name ?? '?', newest.data.release);
  } catch (error) {
    if (error instanceof HelmReleaseUnreadable) throw ApplicationFailure.create({ message: error.message, type: FailureType.KubernetesApiError, nonRetryable: true });
    throw error;
  }
  return { configMapName, configMap, secretName, secret, persistentVolumeClaims, helm };
}

// An object as stored in the set: JSON, without the server's bookkeeping.
export function storedObject(object: object): Buffer {
  const copy = JSON.parse(JSON.stringify(object)) as { metadata?: Record<string, unknown> };
  for (const key of BOOKKEEPING) delete copy.metadata?.[key];
  return Buffer.from(`${JSON.stringify(copy, null, 2)}\n`);
}

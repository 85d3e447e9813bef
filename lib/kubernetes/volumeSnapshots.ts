import { ApplicationFailure } from '@temporalio/common';
import { FailureType } from '../../common/failures';
import { describeIssues } from '../../common/describeIssues';
import type { Manifest } from '../../common/manifest';
import { SNAPSHOT_CLUSTER_LABEL, SNAPSHOT_SET_LABEL, VolumeSnapshotDetails } from '../../common/volumeSnapshotDetails';
import type { KubernetesAccess } from '../../config/kubernetesSchema';
import type { RabbitvaultConfig } from '../../config/schema';
import { clientNode, kubernetesAccess } from './client';
import { kubernetesFailure } from './failures';

// CSI VolumeSnapshots (snapshot.storage.k8s.io/v1) through the API server, as
// the guide's `kubectl apply -f volumesnapshot.yaml` / `kubectl get volumesnapshot` do.
export const SNAPSHOT_GROUP = 'snapshot.storage.k8s.io';
export const SNAPSHOT_VERSION = 'v1';
const DEFAULT_CLASS_ANNOTATION = 'snapshot.storage.kubernetes.io/is-default-class';

export interface VolumeSnapshotObject {
  metadata?: { name?: string; labels?: Record<string, string>; creationTimestamp?: string };
  spec?: { volumeSnapshotClassName?: string; source?: { persistentVolumeClaimName?: string } };
  status?: { readyToUse?: boolean; boundVolumeSnapshotContentName?: string; restoreSize?: string | number; creationTime?: string; error?: { message?: string; time?: string } };
}
interface VolumeSnapshotClassObject {
  metadata?: { name?: string; annotations?: Record<string, string> };
  driver?: string;
  deletionPolicy?: string;
}
interface ObjectList<T> {
  items?: T[];
}

export type SnapshotApis = Awaited<ReturnType<typeof snapshotApis>>;

export async function snapshotApis(access: KubernetesAccess) {
  const k8s = await clientNode();
  const kc = new k8s.KubeConfig();
  if (access.kubeconfig === 'in-cluster') kc.loadFromCluster();
  else kc.loadFromFile(access.kubeconfig);
  if (access.context) kc.setCurrentContext(access.context);
  return {
    namespace: access.namespace,
    custom: kc.makeApiClient(k8s.CustomObjectsApi),
    core: kc.makeApiClient(k8s.CoreV1Api),
    apps: kc.makeApiClient(k8s.AppsV1Api),
    describe: `Kubernetes API ${kc.getCurrentCluster()?.server ?? 'unknown server'}, namespace ${access.namespace}`,
  };
}

const notFound = (message: string) => ApplicationFailure.create({ message, type: FailureType.KubernetesObjectNotFound, nonRetryable: true });
const code = (e: unknown) => (e as { code?: number }).code;
const listed = (names: string[]) => (names.length ? names.join(', ') : 'none');

// The snapshot API group is served (its CRDs are installed), with the three kinds a snapshot needs.
export async function checkSnapshotApi(apis: SnapshotApis): Promise<void> {
  const what = `the ${SNAPSHOT_GROUP}/${SNAPSHOT_VERSION} API`;
  const resources = await apis.custom.getAPIResources({ group: SNAPSHOT_GROUP, version: SNAPSHOT_VERSION }).catch((e: unknown) => {
    if (code(e) === 404) {
      throw notFound(`${what} is not served by ${apis.describe}: install the VolumeSnapshot CRDs and the snapshot controller of kubernetes-csi/external-snapshotter (client/config/crd) and a CSI driver that supports snapshots`);
    }
    throw kubernetesFailure(e, what);
  });
  const served = resources.resources.map((r) => r.name);
  const missing = ['volumesnapshots', 'volumesnapshotcontents', 'volumesnapshotclasses'].filter((r) => !served.includes(r));
  if (missing.length) throw notFound(`${what} lacks ${missing.join(', ')} (it serves: ${listed(served)}): install all VolumeSnapshot CRDs of kubernetes-csi/external-snapshotter`);
}

// The configured VolumeSnapshotClass, or the one annotated as the default; refused naming those that exist.
export async function findSnapshotClass(apis: SnapshotApis, configured: string | undefined, field: string): Promise<{ name: string; driver: string | null }> {
  const list = (await apis.custom.listClusterCustomObject({ group: SNAPSHOT_GROUP, version: SNAPSHOT_VERSION, plural: 'volumesnapshotclasses' }).catch((e: unknown) => {
    throw kubernetesFailure(e, 'VolumeSnapshotClasses');
  })) as ObjectList<VolumeSnapshotClassObject>;
  const classes = list.items ?? [];
  const describeAll = listed(classes.map((c) => `${c.metadata?.name ?? '?'} (driver ${c.driver ?? '?'})`));
  const chosen = configured ? classes.find((c) => c.metadata?.name === configured) : classes.find((c) => c.metadata?.annotations?.[DEFAULT_CLASS_ANNOTATION] === 'true');
  if (!chosen) {
    const wanted = configured ? `VolumeSnapshotClass ${configured} not found` : `no VolumeSnapshotClass named and none annotated ${DEFAULT_CLASS_ANNOTATION}=true`;
    throw notFound(`${wanted}; VolumeSnapshotClasses that exist: ${describeAll}: set ${field}`);
  }
  return { name: chosen.metadata!.name!, driver: chosen.driver ?? null };
}

export interface SnapshotTarget {
  persistentVolumeClaim: string;
  pod: string;
}

export interface StatefulSetClaims {
  statefulSet: string;
  replicas: number;
  naming: 'helm' | 'operator' | 'configured';
  claims: SnapshotTarget[];
}

// The StatefulSet and the PVC of each of its pods, under either common naming:
// the Helm chart's data-<release>-N or the cluster operator's persistence-<cluster>-server-N.
export async function findStatefulSetClaims(apis: SnapshotApis, access: KubernetesAccess, field: (name: string) => string): Promise<StatefulSetClaims> {
  const { namespace, release } = access;
  const candidates = access.statefulSet ? [access.statefulSet] : [release, `${release}-server`];
  let statefulSet: Awaited<ReturnType<SnapshotApis['apps']['readNamespacedStatefulSet']>> | undefined;
  for (const name of candidates) {
    statefulSet = await apis.apps.readNamespacedStatefulSet({ name, namespace }).catch((e: unknown) => {
      if (code(e) === 404) return undefined;
      throw kubernetesFailure(e, `StatefulSet ${namespace}/${name}`);
    });
    if (statefulSet) break;
  }
  if (!statefulSet) {
    const existing = await apis.apps.listNamespacedStatefulSet({ namespace }).then((l) => l.items.map((s) => s.metadata?.name ?? '?'));
    throw notFound(`StatefulSet ${candidates.join(' or ')} not found in namespace ${namespace}; StatefulSets there: ${listed(existing)}: set ${field('statefulSet')}`);
  }
  const name = statefulSet.metadata!.name!;
  const replicas = statefulSet.spec?.replicas ?? 1;
  const ordinals = Array.from({ length: replicas }, (_, i) => i);
  const pod = (i: number) => `${name}-${i}`;
  const existing = new Set(
    await apis.core
      .listNamespacedPersistentVolumeClaim({ namespace })
      .then((l) => l.items.map((c) => c.metadata?.name ?? '?'))
      .catch((e: unknown) => {
        throw kubernetesFailure(e, `PersistentVolumeClaims in ${namespace}`);
      }),
  );
  if (access.persistentVolumeClaims) {
    const missing = access.persistentVolumeClaims.filter((c) => !existing.has(c));
    if (missing.length) throw notFound(`PersistentVolumeClaim(s) ${missing.join(', ')} not found in namespace ${namespace}; PVCs there: ${listed([...existing].sort())}: fix ${field('persistentVolumeClaims')}`);
    return { statefulSet: name, replicas, naming: 'configured', claims: access.persistentVolumeClaims.map((c, i) => ({ persistentVolumeClaim: c, pod: pod(i) })) };
  }
  const namings = [
    { naming: 'helm' as const, claim: (i: number) => `data-${release}-${i}` },
    { naming: 'operator' as const, claim: (i: number) => `persistence-${release}-server-${i}` },
    // The StatefulSet's own claim templates: <template>-<statefulSet>-N.
    ...(statefulSet.spec?.volumeClaimTemplates ?? []).map((t) => ({ naming: (t.metadata?.name === 'persistence' ? 'operator' : 'helm') as 'helm' | 'operator', claim: (i: number) => `${t.metadata?.name}-${name}-${i}` })),
  ];
  const found = namings.find((n) => ordinals.every((i) => existing.has(n.claim(i))));
  if (!found) {
    const looked = [...new Set(namings.map((n) => `${n.claim(0)}..${replicas - 1}`))].join(', ');
    throw notFound(
      `the PVCs of StatefulSet ${namespace}/${name} (${replicas} replicas) were not found: looked for ${looked}; PVCs there: ${listed([...existing].sort())}: set ${field('persistentVolumeClaims')}`,
    );
  }
  return { statefulSet: name, replicas, naming: found.naming, claims: ordinals.map((i) => ({ persistentVolumeClaim: found.claim(i), pod: pod(i) })) };
}

// <pvc>-<set id>: one name per PVC and set, so a retried step finds its own snapshot.
export function snapshotName(persistentVolumeClaim: string, setId: string): string {
  return `${persistentVolumeClaim}-${setId.toLowerCase()}`.slice(0, 253).replace(/[-.]+$/, '');
}

const snapshots = (apis: SnapshotApis) => ({ group: SNAPSHOT_GROUP, version: SNAPSHOT_VERSION, namespace: apis.namespace, plural: 'volumesnapshots' });

// Create or get: a snapshot of this set by this name is taken as done; any other by that name is refused.
export async function createSnapshot(apis: SnapshotApis, request: { cluster: string; setId: string; target: SnapshotTarget; className: string }): Promise<VolumeSnapshotObject> {
  const name = snapshotName(request.target.persistentVolumeClaim, request.setId);
  const body = {
    apiVersion: `${SNAPSHOT_GROUP}/${SNAPSHOT_VERSION}`,
    kind: 'VolumeSnapshot',
    metadata: { name, labels: { [SNAPSHOT_SET_LABEL]: request.setId, [SNAPSHOT_CLUSTER_LABEL]: request.cluster, 'app.kubernetes.io/managed-by': 'rabbitvault' } },
    spec: { volumeSnapshotClassName: request.className, source: { persistentVolumeClaimName: request.target.persistentVolumeClaim } },
  };
  const what = `VolumeSnapshot ${apis.namespace}/${name}`;
  try {
    return (await apis.custom.createNamespacedCustomObject({ ...snapshots(apis), body })) as VolumeSnapshotObject;
  } catch (e) {
    if (code(e) !== 409) throw kubernetesFailure(e, `creating ${what}`);
  }
  const existing = await readSnapshot(apis, name);
  if (existing?.metadata?.labels?.[SNAPSHOT_SET_LABEL] !== request.setId || existing.spec?.source?.persistentVolumeClaimName !== request.target.persistentVolumeClaim) {
    throw ApplicationFailure.create({ message: `${what} already exists and is not this backup's snapshot of ${request.target.persistentVolumeClaim}: refused`, type: FailureType.VolumeSnapshotFailed, nonRetryable: true });
  }
  return existing;
}

// undefined when it does not exist.
export async function readSnapshot(apis: SnapshotApis, name: string): Promise<VolumeSnapshotObject | undefined> {
  return (await apis.custom.getNamespacedCustomObject({ ...snapshots(apis), name }).catch((e: unknown) => {
    if (code(e) === 404) return undefined;
    throw kubernetesFailure(e, `VolumeSnapshot ${apis.namespace}/${name}`);
  })) as VolumeSnapshotObject | undefined;
}

export async function listSnapshots(apis: SnapshotApis, labelSelector?: string): Promise<VolumeSnapshotObject[]> {
  const list = (await apis.custom.listNamespacedCustomObject({ ...snapshots(apis), ...(labelSelector ? { labelSelector } : {}) }).catch((e: unknown) => {
    throw kubernetesFailure(e, `VolumeSnapshots in ${apis.namespace}`);
  })) as ObjectList<VolumeSnapshotObject>;
  return list.items ?? [];
}

export function setSelector(cluster: string, setId: string): string {
  return `${SNAPSHOT_SET_LABEL}=${setId},${SNAPSHOT_CLUSTER_LABEL}=${cluster}`;
}

// Every snapshot of one set, found by its labels (never by names read from storage). Idempotent.
export async function deleteSetSnapshots(apis: SnapshotApis, cluster: string, setId: string): Promise<string[]> {
  const found = await listSnapshots(apis, setSelector(cluster, setId));
  const deleted: string[] = [];
  for (const s of found) {
    const name = s.metadata?.name ?? '?';
    await apis.custom.deleteNamespacedCustomObject({ ...snapshots(apis), name }).catch((e: unknown) => {
      if (code(e) !== 404) throw kubernetesFailure(e, `deleting VolumeSnapshot ${apis.namespace}/${name}`);
    });
    deleted.push(name);
  }
  return deleted;
}

export async function readSnapshotContent(apis: SnapshotApis, name: string): Promise<object | undefined> {
  return (await apis.custom.getClusterCustomObject({ group: SNAPSHOT_GROUP, version: SNAPSHOT_VERSION, plural: 'volumesnapshotcontents', name }).catch((e: unknown) => {
    if (code(e) === 404) return undefined;
    throw kubernetesFailure(e, `VolumeSnapshotContent ${name}`);
  })) as object | undefined;
}

// One line per snapshot, for a failure that must say what exists (the guide's Troubleshooting 4).
export function describeSnapshots(items: VolumeSnapshotObject[]): string {
  return listed(items.map((s) => `${s.metadata?.name ?? '?'} (${s.status?.readyToUse ? 'ready' : 'not ready'}, source ${s.spec?.source?.persistentVolumeClaimName ?? '?'})`));
}

// verify: every snapshot a set's manifest records still exists in the
// cluster's namespace (the config's, not the manifest's), is this set's, and is readyToUse.
export async function checkRecordedSnapshots(apis: SnapshotApis, cluster: string, setId: string, details: VolumeSnapshotDetails): Promise<Array<{ artifact: string; problem: string }>> {
  const problems: Array<{ artifact: string; problem: string }> = [];
  if (details.namespace !== apis.namespace) problems.push({ artifact: 'details.namespace', problem: `the set was taken in namespace ${details.namespace}, the cluster's config names ${apis.namespace}` });
  for (const recorded of details.snapshots) {
    const artifact = `VolumeSnapshot ${apis.namespace}/${recorded.name}`;
    const found = await readSnapshot(apis, recorded.name);
    if (!found) problems.push({ artifact, problem: `not found; VolumeSnapshots there: ${describeSnapshots(await listSnapshots(apis))}` });
    else if (found.metadata?.labels?.[SNAPSHOT_SET_LABEL] !== setId || found.metadata.labels[SNAPSHOT_CLUSTER_LABEL] !== cluster) problems.push({ artifact, problem: `is not labelled ${SNAPSHOT_SET_LABEL}=${setId}, ${SNAPSHOT_CLUSTER_LABEL}=${cluster}` });
    else if (found.status?.readyToUse !== true) problems.push({ artifact, problem: `not readyToUse${found.status?.error?.message ? `: ${found.status.error.message}` : ''}` });
  }
  return problems;
}

// A snapshot set is only as good as its VolumeSnapshots in the cluster: what verify and validation add to the checksums.
export async function recordedSnapshotProblems(config: RabbitvaultConfig, manifest: Manifest): Promise<Array<{ artifact: string; problem: string }>> {
  const details = VolumeSnapshotDetails.safeParse(manifest.details);
  if (!details.success) return [{ artifact: 'manifest details', problem: `not a volume-snapshot record: ${describeIssues(details.error)}` }];
  const apis = await snapshotApis(kubernetesAccess(config, manifest.cluster));
  return checkRecordedSnapshots(apis, manifest.cluster, manifest.setId, details.data);
}

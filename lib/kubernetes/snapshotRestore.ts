import { ApplicationFailure } from '@temporalio/common';
import { FailureType } from '../../common/failures';
import type { VolumeSnapshotDetails } from '../../common/volumeSnapshotDetails';
import { clientNode } from './client';
import { kubernetesFailure } from './failures';
import { checkRecordedSnapshots, readSnapshot, SNAPSHOT_GROUP, type SnapshotApis } from './volumeSnapshots';

// The guide's Recovery 4 on the API server: a StatefulSet's PVCs replaced by
// claims provisioned from VolumeSnapshots, and the replaced volumes kept.

export const RESTORED_FROM_LABEL = 'rabbitvault.io/restored-from-set';
// The run that created the claim: a retried step finds its own claim, a second restore of the same set replaces it.
export const RESTORE_RUN_LABEL = 'rabbitvault.io/restore-run';

export interface ClaimPlan {
  persistentVolumeClaim: string;
  pod: string;
  volumeSnapshot: string;
  storageClassName: string | null;
  accessModes: string[];
  labels: Record<string, string>;
  // The new claim's request: at least the snapshot's restoreSize.
  storage: string;
  // The PV bound to the claim now: kept (Retain) and bound again by a compensation.
  previous: { volumeName: string; reclaimPolicy: string; storage: string } | null;
}

export interface SnapshotRestorePlan {
  namespace: string;
  statefulSet: string;
  replicas: number;
  claims: ClaimPlan[];
}

const refused = (message: string) => ApplicationFailure.create({ message, type: FailureType.VolumeSnapshotRestoreRefused, nonRetryable: true });
const code = (e: unknown) => (e as { code?: number }).code;
const listed = (names: string[]) => (names.length ? names.join(', ') : 'none');

// Bytes of a Kubernetes quantity ("8Gi", "10G", "1073741824"); NaN when not one.
export function quantityBytes(q: string): number {
  const m = /^(\d+(?:\.\d+)?)(Ki|Mi|Gi|Ti|Pi|Ei|k|M|G|T|P|E)?$/.exec(q.trim());
  if (!m) return NaN;
  const binary = { Ki: 2 ** 10, Mi: 2 ** 20, Gi: 2 ** 30, Ti: 2 ** 40, Pi: 2 ** 50, Ei: 2 ** 60 } as Record<string, number>;
  const decimal = { k: 1e3, M: 1e6, G: 1e9, T: 1e12, P: 1e15, E: 1e18 } as Record<string, number>;
  const unit = m[2] ? (binary[m[2]] ?? decimal[m[2]]!) : 1;
  return Number(m[1]) * unit;
}

// Merge patches, as kubectl patch --type merge sends them.
async function mergePatch() {
  const k8s = await clientNode();
  return k8s.setHeaderOptions('Content-Type', k8s.PatchStrategy.MergePatch);
}

// Everything checked, nothing changed: the StatefulSet is there with one replica
// per snapshot, each snapshot is this set's and readyToUse, and each claim's name
// is the one the StatefulSet mounts for that pod.
export async function planSnapshotRestore(apis: SnapshotApis, cluster: string, setId: string, details: VolumeSnapshotDetails): Promise<SnapshotRestorePlan> {
  const { namespace } = apis;
  const name = details.statefulSet;
  if (details.namespace !== namespace) refusedNamespace(details.namespace, namespace, cluster);
  const statefulSet = await apis.apps.readNamespacedStatefulSet({ name, namespace }).catch(async (e: unknown) => {
    if (code(e) !== 404) throw kubernetesFailure(e, `StatefulSet ${namespace}/${name}`);
    const there = await apis.apps.listNamespacedStatefulSet({ namespace }).then((l) => l.items.map((s) => s.metadata?.name ?? '?'));
    throw ApplicationFailure.create({
      message: `StatefulSet ${namespace}/${name} not found (StatefulSets there: ${listed(there)}): a snapshot restore puts the volumes back under the StatefulSet the set was taken of; install the release again (helm install with the values of the configuration backup, or the cluster operator's RabbitmqCluster) and run the restore again`,
      type: FailureType.KubernetesObjectNotFound,
      nonRetryable: true,
    });
  });
  const replicas = statefulSet.spec?.replicas ?? 1;
  if (replicas !== details.snapshots.length) {
    throw refused(`StatefulSet ${namespace}/${name} has ${replicas} replica(s), set ${setId} has ${details.snapshots.length} snapshot(s) (${details.snapshots.map((s) => s.pod).join(', ')}): scale it to ${details.snapshots.length} first`);
  }
  const problems = await checkRecordedSnapshots(apis, cluster, setId, details);
  if (problems.length) throw refused(`the snapshots of set ${setId} cannot be restored: ${problems.map((p) => `${p.artifact}: ${p.problem}`).join('; ')}`);
  const templates = statefulSet.spec?.volumeClaimTemplates ?? [];
  const claims: ClaimPlan[] = [];
  for (let ordinal = 0; ordinal < replicas; ordinal++) {
    const pod = `${name}-${ordinal}`;
    const recorded = details.snapshots.find((s) => s.pod === pod);
    if (!recorded) throw refused(`set ${setId} has no snapshot of pod ${pod} (it has ${details.snapshots.map((s) => s.pod).join(', ')})`);
    const template = templates.find((t) => `${t.metadata?.name}-${name}-${ordinal}` === recorded.persistentVolumeClaim);
    if (templates.length && !template && details.naming !== 'configured') {
      throw refused(`set ${setId} recorded PVC ${recorded.persistentVolumeClaim} for pod ${pod}, StatefulSet ${name} mounts ${templates.map((t) => `${t.metadata?.name}-${name}-${ordinal}`).join(' or ')}`);
    }
    const current = await apis.core.readNamespacedPersistentVolumeClaim({ name: recorded.persistentVolumeClaim, namespace }).catch((e: unknown) => {
      if (code(e) === 404) return undefined;
      throw kubernetesFailure(e, `PersistentVolumeClaim ${namespace}/${recorded.persistentVolumeClaim}`);
    });
    const snapshot = await readSnapshot(apis, recorded.name);
    const restoreSize = snapshot?.status?.restoreSize != null ? String(snapshot.status.restoreSize) : null;
    const spec = current?.spec ?? template?.spec;
    const request = spec?.resources?.requests?.storage ?? null;
    const storage = [request, restoreSize].filter((q): q is string => !!q).sort((a, b) => quantityBytes(b) - quantityBytes(a))[0];
    if (!storage) throw refused(`no size for the new PVC ${recorded.persistentVolumeClaim}: the snapshot ${recorded.name} has no restoreSize and no claim or template gives one`);
    let previous: ClaimPlan['previous'] = null;
    const volumeName = current?.spec?.volumeName;
    if (volumeName) {
      const volume = await apis.core.readPersistentVolume({ name: volumeName }).catch((e: unknown) => {
        throw kubernetesFailure(e, `PersistentVolume ${volumeName} (bound to ${recorded.persistentVolumeClaim})`);
      });
      previous = { volumeName, reclaimPolicy: volume.spec?.persistentVolumeReclaimPolicy ?? 'Delete', storage: request ?? storage };
    }
    claims.push({
      persistentVolumeClaim: recorded.persistentVolumeClaim,
      pod,
      volumeSnapshot: recorded.name,
      storageClassName: spec?.storageClassName ?? null,
      accessModes: spec?.accessModes ?? ['ReadWriteOnce'],
      labels: Object.fromEntries(Object.entries(current?.metadata?.labels ?? template?.metadata?.labels ?? {}).filter(([key]) => key !== RESTORED_FROM_LABEL && key !== RESTORE_RUN_LABEL)),
      storage,
      previous,
    });
  }
  return { namespace, statefulSet: name, replicas, claims };
}

function refusedNamespace(recorded: string, configured: string, cluster: string): never {
  throw refused(`the set was taken in namespace ${recorded}, clusters.${cluster}.kubernetes.namespace is ${configured}`);
}

// spec.replicas through the scale subresource (kubectl scale). Idempotent.
export async function scaleStatefulSet(apis: SnapshotApis, name: string, replicas: number): Promise<void> {
  await apis.apps.patchNamespacedStatefulSetScale({ name, namespace: apis.namespace, body: { spec: { replicas } } }, await mergePatch()).catch((e: unknown) => {
    throw kubernetesFailure(e, `scaling StatefulSet ${apis.namespace}/${name} to ${replicas}`);
  });
}

// What is still missing for the StatefulSet's pods to be gone or Ready (and, for ready, its claims Bound); [] when done.
export async function statefulSetPending(apis: SnapshotApis, name: string, replicas: number, until: 'gone' | 'ready', claims: string[] = []): Promise<string[]> {
  const { namespace } = apis;
  const pods = await apis.core.listNamespacedPod({ namespace }).catch((e: unknown) => {
    throw kubernetesFailure(e, `pods in ${namespace}`);
  });
  const own = pods.items.filter((p) => new RegExp(`^${name.replace(/\./g, '\\.')}-\\d+$`).test(p.metadata?.name ?? ''));
  if (until === 'gone') return own.map((p) => `pod ${p.metadata?.name} ${p.metadata?.deletionTimestamp ? 'terminating' : (p.status?.phase ?? 'present')}`);
  const pending: string[] = [];
  for (const claim of claims) {
    const c = await apis.core.readNamespacedPersistentVolumeClaim({ name: claim, namespace }).catch((e: unknown) => {
      if (code(e) === 404) return undefined;
      throw kubernetesFailure(e, `PersistentVolumeClaim ${namespace}/${claim}`);
    });
    if (c?.status?.phase !== 'Bound') pending.push(`PVC ${claim} ${c ? (c.status?.phase ?? 'Pending') : 'missing'}`);
  }
  for (let i = 0; i < replicas; i++) {
    const pod = own.find((p) => p.metadata?.name === `${name}-${i}`);
    const ready = pod?.status?.conditions?.some((c) => c.type === 'Ready' && c.status === 'True');
    if (!ready) pending.push(`pod ${name}-${i} ${pod ? `${pod.status?.phase ?? 'Pending'}, not Ready` : 'not created'}`);
  }
  return pending;
}

// The claims' PVs keep their data when the claims go. Idempotent.
export async function retainVolumes(apis: SnapshotApis, volumes: string[]): Promise<void> {
  const options = await mergePatch();
  for (const name of volumes) {
    await apis.core.patchPersistentVolume({ name, body: { spec: { persistentVolumeReclaimPolicy: 'Retain' } } }, options).catch((e: unknown) => {
      throw kubernetesFailure(e, `setting the reclaim policy of PersistentVolume ${name} to Retain`);
    });
  }
}

type ClaimObject = Awaited<ReturnType<SnapshotApis['core']['readNamespacedPersistentVolumeClaim']>>;

async function readClaim(apis: SnapshotApis, name: string): Promise<ClaimObject | undefined> {
  return apis.core.readNamespacedPersistentVolumeClaim({ name, namespace: apis.namespace }).catch((e: unknown) => {
    if (code(e) === 404) return undefined;
    throw kubernetesFailure(e, `PersistentVolumeClaim ${apis.namespace}/${name}`);
  });
}

// Deletes a claim (once) and says it is still there; the pvc-protection finalizer holds it while a pod uses it.
async function deleting(apis: SnapshotApis, claim: ClaimObject): Promise<string> {
  const name = claim.metadata!.name!;
  if (!claim.metadata?.deletionTimestamp) {
    await apis.core.deleteNamespacedPersistentVolumeClaim({ name, namespace: apis.namespace }).catch((e: unknown) => {
      if (code(e) !== 404) throw kubernetesFailure(e, `deleting PersistentVolumeClaim ${apis.namespace}/${name}`);
    });
  }
  return `PVC ${name} being deleted (finalizers ${listed(claim.metadata?.finalizers ?? [])})`;
}

const fromSnapshot = (claim: ClaimObject, snapshot: string) => claim.spec?.dataSource?.kind === 'VolumeSnapshot' && claim.spec.dataSource.name === snapshot;

// One step towards the claim provisioned from its snapshot: the old claim deleted, then the new one created.
// Returns what it waits for, or undefined once this run's claim exists. Idempotent.
export async function replaceClaimStep(apis: SnapshotApis, plan: ClaimPlan, setId: string, runId: string): Promise<string | undefined> {
  const current = await readClaim(apis, plan.persistentVolumeClaim);
  if (current && current.metadata?.labels?.[RESTORE_RUN_LABEL] === runId && fromSnapshot(current, plan.volumeSnapshot) && !current.metadata.deletionTimestamp) return undefined;
  if (current) return deleting(apis, current);
  const body = {
    metadata: { name: plan.persistentVolumeClaim, labels: { ...plan.labels, [RESTORED_FROM_LABEL]: setId, [RESTORE_RUN_LABEL]: runId } },
    spec: {
      ...(plan.storageClassName ? { storageClassName: plan.storageClassName } : {}),
      accessModes: plan.accessModes,
      resources: { requests: { storage: plan.storage } },
      dataSource: { apiGroup: SNAPSHOT_GROUP, kind: 'VolumeSnapshot', name: plan.volumeSnapshot },
    },
  };
  await apis.core.createNamespacedPersistentVolumeClaim({ namespace: apis.namespace, body }).catch((e: unknown) => {
    if (code(e) !== 409) throw kubernetesFailure(e, `creating PersistentVolumeClaim ${apis.namespace}/${plan.persistentVolumeClaim} from VolumeSnapshot ${plan.volumeSnapshot}`);
  });
  return undefined;
}

// One step towards the claim bound again to its previous PV: the restored claim
// deleted, the PV's claimRef freed of the old claim's uid, the claim created
// again naming the PV (kubectl's pre-bound claim). Undefined once done. Idempotent.
export async function putBackClaimStep(apis: SnapshotApis, plan: ClaimPlan): Promise<string | undefined> {
  const current = await readClaim(apis, plan.persistentVolumeClaim);
  const previous = plan.previous;
  if (current && previous && current.spec?.volumeName === previous.volumeName && !current.metadata?.deletionTimestamp) return undefined;
  if (current) return deleting(apis, current);
  if (!previous) return undefined;
  const { namespace } = apis;
  const claimRef = { apiVersion: 'v1', kind: 'PersistentVolumeClaim', namespace, name: plan.persistentVolumeClaim, uid: null, resourceVersion: null };
  await apis.core.patchPersistentVolume({ name: previous.volumeName, body: { spec: { claimRef } } }, await mergePatch()).catch((e: unknown) => {
    throw kubernetesFailure(e, `freeing PersistentVolume ${previous.volumeName} for ${namespace}/${plan.persistentVolumeClaim}`);
  });
  const body = {
    metadata: { name: plan.persistentVolumeClaim, labels: plan.labels },
    spec: {
      ...(plan.storageClassName ? { storageClassName: plan.storageClassName } : {}),
      accessModes: plan.accessModes,
      resources: { requests: { storage: previous.storage } },
      volumeName: previous.volumeName,
    },
  };
  await apis.core.createNamespacedPersistentVolumeClaim({ namespace, body }).catch((e: unknown) => {
    if (code(e) !== 409) throw kubernetesFailure(e, `creating PersistentVolumeClaim ${namespace}/${plan.persistentVolumeClaim} on PersistentVolume ${previous.volumeName}`);
  });
  return undefined;
}

// The PV each restored claim is bound to (its spec.volumeName), checked to come from the snapshot.
export async function restoredVolumes(apis: SnapshotApis, plans: ClaimPlan[]): Promise<Record<string, string>> {
  const volumes: Record<string, string> = {};
  for (const plan of plans) {
    const claim = await readClaim(apis, plan.persistentVolumeClaim);
    if (!claim || !fromSnapshot(claim, plan.volumeSnapshot) || !claim.spec?.volumeName) {
      throw ApplicationFailure.create({
        message: `PersistentVolumeClaim ${apis.namespace}/${plan.persistentVolumeClaim} is ${claim ? `bound to ${claim.spec?.volumeName ?? 'nothing'} with dataSource ${claim.spec?.dataSource?.name ?? 'none'}` : 'gone'}, not the claim restored from ${plan.volumeSnapshot} (changed by someone else meanwhile?)`,
        type: FailureType.RestoreVerificationFailed,
        nonRetryable: true,
      });
    }
    volumes[plan.persistentVolumeClaim] = claim.spec.volumeName;
  }
  return volumes;
}

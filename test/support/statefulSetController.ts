// The test stack's kube-apiserver runs no controllers: this plays, for one
// namespace, those a snapshot restore relies on, one pass every 100 ms:
// - StatefulSet controller: pods <sts>-N (spec.nodeName = kwok's node, which
//   marks them Ready) for N < spec.replicas, created once their claims are
//   Bound (a real scheduler leaves them Pending before); missing claims made
//   from the volumeClaimTemplates; pods past spec.replicas deleted.
// - PV controller and CSI provisioner: an unbound claim gets a new PV (claimRef
//   with its uid, both Bound; a claim with a VolumeSnapshot dataSource only
//   while `provisionFromSnapshots`); a claim naming a PV (spec.volumeName) is
//   bound to it when the PV's claimRef names the claim; a PV whose claim is
//   gone is Released, and deleted when its reclaim policy is Delete.
// - pvc-protection: a deleted claim's finalizer removed once no pod mounts it.
import type { V1PersistentVolumeClaim, V1Pod } from '@kubernetes/client-node' with { 'resolution-mode': 'import' };
import { clientNode } from '../../lib/kubernetes/client';
import { testStack } from './stack';

export interface PlayedStatefulSetController {
  // false: claims with a VolumeSnapshot dataSource stay Pending (a driver that cannot restore).
  provisionFromSnapshots: boolean;
  // PVs provisioned, by claim name at the time (the test checks where a claim's data came from).
  provisioned: Array<{ volume: string; claim: string; dataSource: string | null }>;
  errors: string[];
  stop(): Promise<void>;
}

const PVC_PROTECTION = 'kubernetes.io/pvc-protection';

export async function playStatefulSetController(namespace: string): Promise<PlayedStatefulSetController> {
  const k8s = await clientNode();
  const kc = new k8s.KubeConfig();
  kc.loadFromFile(testStack().kubernetes.kubeconfig);
  const core = kc.makeApiClient(k8s.CoreV1Api);
  const apps = kc.makeApiClient(k8s.AppsV1Api);
  const merge = k8s.setHeaderOptions('Content-Type', k8s.PatchStrategy.MergePatch);
  const controller: PlayedStatefulSetController = { provisionFromSnapshots: true, provisioned: [], errors: [], stop: async () => undefined };
  const attempt = async (what: string, work: () => Promise<unknown>) => {
    await work().catch((e: unknown) => {
      const code = (e as { code?: number }).code;
      // A conflict or a vanished object is the next pass's to look at again.
      if (code !== 409 && code !== 404) controller.errors.push(`${what}: ${(e as Error).message.split('\n')[0]}`);
    });
  };

  const bind = async (claim: V1PersistentVolumeClaim, volume: string) => {
    const name = claim.metadata!.name!;
    await core.patchPersistentVolumeStatus({ name: volume, body: { status: { phase: 'Bound' } } }, merge);
    if (!claim.spec?.volumeName) await core.patchNamespacedPersistentVolumeClaim({ name, namespace, body: { spec: { volumeName: volume } } }, merge);
    const storage = claim.spec?.resources?.requests?.storage ?? '1Gi';
    await core.patchNamespacedPersistentVolumeClaimStatus({ name, namespace, body: { status: { phase: 'Bound', accessModes: claim.spec?.accessModes, capacity: { storage } } } }, merge);
  };

  const volumes = async (claims: V1PersistentVolumeClaim[]) => {
    const pvs = (await core.listPersistentVolume()).items;
    for (const claim of claims) {
      const name = claim.metadata!.name!;
      if (claim.metadata?.deletionTimestamp || claim.status?.phase === 'Bound') continue;
      if (claim.spec?.volumeName) {
        const pv = pvs.find((v) => v.metadata?.name === claim.spec!.volumeName);
        const ref = pv?.spec?.claimRef;
        if (!pv || ref?.name !== name || ref.namespace !== namespace || (ref.uid && ref.uid !== claim.metadata!.uid)) continue;
        await attempt(`binding ${name} to ${pv.metadata!.name}`, async () => {
          await core.patchPersistentVolume({ name: pv.metadata!.name!, body: { spec: { claimRef: { ...ref, uid: claim.metadata!.uid } } } }, merge);
          await bind(claim, pv.metadata!.name!);
        });
        continue;
      }
      const dataSource = claim.spec?.dataSource?.kind === 'VolumeSnapshot' ? claim.spec.dataSource.name : null;
      if (dataSource && !controller.provisionFromSnapshots) continue;
      const volume = `pvc-${claim.metadata!.uid}`;
      await attempt(`provisioning ${volume} for ${name}`, async () => {
        await core
          .createPersistentVolume({
            body: {
              metadata: { name: volume, annotations: { 'pv.kubernetes.io/provisioned-by': 'hostpath.csi.k8s.io' } },
              spec: {
                capacity: { storage: claim.spec?.resources?.requests?.storage ?? '1Gi' },
                accessModes: claim.spec?.accessModes,
                storageClassName: claim.spec?.storageClassName,
                persistentVolumeReclaimPolicy: 'Delete',
                csi: { driver: 'hostpath.csi.k8s.io', volumeHandle: volume },
                claimRef: { apiVersion: 'v1', kind: 'PersistentVolumeClaim', namespace, name, uid: claim.metadata!.uid },
              },
            },
          })
          .then(() => controller.provisioned.push({ volume, claim: name, dataSource }))
          .catch((e: unknown) => {
            if ((e as { code?: number }).code !== 409) throw e;
          });
        await bind(claim, volume);
      });
    }
    for (const pv of pvs) {
      const ref = pv.spec?.claimRef;
      if (!ref?.uid || ref.namespace !== namespace || pv.metadata?.deletionTimestamp) continue;
      const claim = claims.find((c) => c.metadata?.name === ref.name);
      if (claim && claim.metadata?.uid === ref.uid) continue;
      const pvName = pv.metadata!.name!;
      if (pv.spec?.persistentVolumeReclaimPolicy === 'Delete') {
        await attempt(`deleting released ${pvName}`, async () => {
          await core.deletePersistentVolume({ name: pvName });
          await core.patchPersistentVolume({ name: pvName, body: { metadata: { finalizers: null } } }, merge);
        });
      } else if (pv.status?.phase !== 'Released') {
        await attempt(`releasing ${pvName}`, () => core.patchPersistentVolumeStatus({ name: pvName, body: { status: { phase: 'Released' } } }, merge));
      }
    }
  };

  const mounts = (pod: V1Pod) => (pod.spec?.volumes ?? []).flatMap((v) => (v.persistentVolumeClaim ? [v.persistentVolumeClaim.claimName] : []));

  const statefulSets = async (claims: V1PersistentVolumeClaim[], pods: V1Pod[]) => {
    for (const sts of (await apps.listNamespacedStatefulSet({ namespace })).items) {
      const name = sts.metadata!.name!;
      const replicas = sts.spec?.replicas ?? 1;
      for (const pod of pods.filter((p) => new RegExp(`^${name}-(\\d+)$`).test(p.metadata!.name!))) {
        const ordinal = Number(pod.metadata!.name!.slice(name.length + 1));
        if (ordinal >= replicas) await attempt(`deleting pod ${pod.metadata!.name}`, () => core.deleteNamespacedPod({ name: pod.metadata!.name!, namespace, gracePeriodSeconds: 0 }));
      }
      for (let i = 0; i < replicas; i++) {
        const podName = `${name}-${i}`;
        if (pods.some((p) => p.metadata?.name === podName)) continue;
        const templates = sts.spec?.volumeClaimTemplates ?? [];
        const wanted = templates.map((t) => ({ volume: t.metadata!.name!, claim: `${t.metadata!.name}-${name}-${i}`, template: t }));
        let ready = true;
        for (const w of wanted) {
          const claim = claims.find((c) => c.metadata?.name === w.claim);
          if (!claim) {
            ready = false;
            await attempt(`creating ${w.claim}`, () => core.createNamespacedPersistentVolumeClaim({ namespace, body: { metadata: { name: w.claim, labels: sts.spec?.selector?.matchLabels }, spec: w.template.spec } }));
          } else if (claim.status?.phase !== 'Bound' || claim.metadata?.deletionTimestamp) ready = false;
        }
        if (!ready) continue;
        const template = sts.spec!.template;
        await attempt(`creating pod ${podName}`, () =>
          core.createNamespacedPod({
            namespace,
            body: {
              metadata: { name: podName, labels: { ...template.metadata?.labels, 'statefulset.kubernetes.io/pod-name': podName } },
              spec: { ...template.spec!, nodeName: testStack().kubernetes.node, volumes: [...(template.spec?.volumes ?? []), ...wanted.map((w) => ({ name: w.volume, persistentVolumeClaim: { claimName: w.claim } }))] },
            },
          }),
        );
      }
    }
  };

  const protection = async (claims: V1PersistentVolumeClaim[], pods: V1Pod[]) => {
    for (const claim of claims) {
      const name = claim.metadata!.name!;
      if (!claim.metadata?.deletionTimestamp || !claim.metadata.finalizers?.includes(PVC_PROTECTION)) continue;
      if (pods.some((p) => mounts(p).includes(name))) continue;
      const finalizers = claim.metadata.finalizers.filter((f) => f !== PVC_PROTECTION);
      await attempt(`releasing the finalizer of ${name}`, () => core.patchNamespacedPersistentVolumeClaim({ name, namespace, body: { metadata: { finalizers, resourceVersion: claim.metadata!.resourceVersion } } }, merge));
    }
  };

  let running = true;
  const loop = (async () => {
    while (running) {
      await attempt('pass', async () => {
        const pods = (await core.listNamespacedPod({ namespace })).items;
        const claims = (await core.listNamespacedPersistentVolumeClaim({ namespace })).items;
        await protection(claims, pods);
        await volumes(claims);
        await statefulSets((await core.listNamespacedPersistentVolumeClaim({ namespace })).items, pods);
      });
      await new Promise((r) => setTimeout(r, 100));
    }
  })();
  controller.stop = async () => {
    running = false;
    await loop;
  };
  return controller;
}

// The test stack's kube-apiserver runs no controllers and has no CSI driver:
// this plays the snapshot controller for one namespace, as external-snapshotter
// would answer a VolumeSnapshot (a VolumeSnapshotContent bound to it, then
// status.creationTime, readyToUse and restoreSize), or never, or with an error.
import { clientNode } from '../../lib/kubernetes/client';
import type { VolumeSnapshotObject } from '../../lib/kubernetes/volumeSnapshots';
import { testStack } from './stack';

const api = { group: 'snapshot.storage.k8s.io', version: 'v1' };
export type SnapshotAnswer = 'ready' | 'never' | { error: string };

export async function snapshotApi(kubeconfig = testStack().kubernetes.kubeconfig) {
  const k8s = await clientNode();
  const kc = new k8s.KubeConfig();
  kc.loadFromFile(kubeconfig);
  return kc.makeApiClient(k8s.CustomObjectsApi);
}

export interface PlayedController {
  // How the next snapshots are answered (those already answered keep theirs).
  answer: SnapshotAnswer;
  // Called as each snapshot is first seen, before it is answered.
  onSeen?: (name: string) => Promise<void>;
  answered: string[];
  // What failed while answering (the test asserts there is nothing).
  errors: string[];
  stop(): Promise<void>;
}

// kubeconfig: the test stack's by default (bench/ passes its own).
export async function playSnapshotController(namespace: string, restoreSize = '8Gi', kubeconfig?: string): Promise<PlayedController> {
  const custom = await snapshotApi(kubeconfig);
  const seen = new Set<string>();
  let running = true;
  const controller: PlayedController = { answer: 'ready', answered: [], errors: [], stop: async () => undefined };
  const answer = async (s: VolumeSnapshotObject & { metadata: { name: string; uid?: string; resourceVersion?: string } }) => {
    const name = s.metadata.name;
    seen.add(name);
    await controller.onSeen?.(name);
    const how = controller.answer;
    if (how === 'never') return;
    const now = new Date().toISOString();
    let status: VolumeSnapshotObject['status'];
    if (typeof how === 'object') status = { readyToUse: false, error: { message: how.error, time: now } };
    else {
      const content = `snapcontent-${s.metadata.uid ?? name}`;
      await custom.createClusterCustomObject({
        ...api,
        plural: 'volumesnapshotcontents',
        body: {
          apiVersion: 'snapshot.storage.k8s.io/v1',
          kind: 'VolumeSnapshotContent',
          metadata: { name: content },
          spec: {
            deletionPolicy: 'Delete',
            driver: 'hostpath.csi.k8s.io',
            volumeSnapshotClassName: s.spec?.volumeSnapshotClassName,
            source: { volumeHandle: `pv-${s.spec?.source?.persistentVolumeClaimName ?? name}` },
            volumeSnapshotRef: { kind: 'VolumeSnapshot', name, namespace, uid: s.metadata.uid, apiVersion: 'snapshot.storage.k8s.io/v1' },
          },
        },
      });
      status = { boundVolumeSnapshotContentName: content, creationTime: now, readyToUse: true, restoreSize };
    }
    await custom.replaceNamespacedCustomObjectStatus({ ...api, namespace, plural: 'volumesnapshots', name, body: { ...s, status } });
    controller.answered.push(name);
  };
  const loop = (async () => {
    while (running) {
      const list = (await custom.listNamespacedCustomObject({ ...api, namespace, plural: 'volumesnapshots' }).catch(() => ({ items: [] }))) as { items: Array<VolumeSnapshotObject & { metadata: { name: string } }> };
      for (const s of list.items) {
        if (!seen.has(s.metadata.name)) await answer(s).catch((error: unknown) => controller.errors.push(`${s.metadata.name}: ${(error as Error).message}`));
      }
      await new Promise((r) => setTimeout(r, 150));
    }
  })();
  controller.stop = async () => {
    running = false;
    await loop;
  };
  return controller;
}

import { Context } from '@temporalio/activity';
import { ApplicationFailure } from '@temporalio/common';
import { FailureType } from '../../common/failures';
import { beating } from '../heartbeats';
import type { Artifact } from '../../common/manifest';
import { VOLUME_SNAPSHOT_RECORD_ARTIFACT } from '../../common/volumeSnapshotDetails';
import type { VolumeSnapshotRecord } from '../../contracts/volumeSnapshot';
import { storeArtifact } from '../../lib/backupSets/artifacts';
import { clusterConfig } from '../../lib/clusterConfig';
import { kubernetesAccess } from '../../lib/kubernetes/client';
import { storedObject } from '../../lib/kubernetes/releaseObjects';
import {
  checkSnapshotApi,
  createSnapshot,
  deleteSetSnapshots,
  describeSnapshots,
  findSnapshotClass,
  findStatefulSetClaims,
  listSnapshots,
  readSnapshot,
  readSnapshotContent,
  snapshotApis,
  type SnapshotTarget,
  type StatefulSetClaims,
  type VolumeSnapshotObject,
} from '../../lib/kubernetes/volumeSnapshots';
import type { ActivityDeps } from '../deps';

export interface VolumeSnapshotPlan extends StatefulSetClaims {
  namespace: string;
  volumeSnapshotClass: string;
  driver: string | null;
  rabbitmqVersion: string | null;
  nodes: string[];
}

type Waiting = { name: string; target: SnapshotTarget };

// Main task queue: the worker reaches the API server with its own config's kubeconfig.
export function createVolumeSnapshotActivities(deps: ActivityDeps) {
  const apisFor = (cluster: string) => snapshotApis(kubernetesAccess(deps.config, cluster));
  return {
    // Preflight, nothing changed: snapshot API served, class, StatefulSet and its PVCs, storage reachable.
    async inspectVolumeSnapshotTargets(input: { cluster: string; storage?: string }): Promise<VolumeSnapshotPlan> {
      const access = kubernetesAccess(deps.config, input.cluster);
      const apis = await snapshotApis(access);
      const field = (name: string) => `clusters.${input.cluster}.kubernetes.${name}`;
      await checkSnapshotApi(apis);
      const snapshotClass = await findSnapshotClass(apis, access.volumeSnapshotClass, field('volumeSnapshotClass'));
      const claims = await findStatefulSetClaims(apis, access, field);
      await deps
        .openStorage(input.storage)
        .backend.probe()
        .catch((error: unknown) => {
          throw ApplicationFailure.create({ message: `storage unreachable: ${(error as Error).message}`, type: FailureType.StorageError });
        });
      // The version is a record, not a precondition: a cluster whose management API is down is still snapshotted.
      const overview = await deps
        .managementApi(input.cluster)
        .overview()
        .catch(() => undefined);
      return {
        ...claims,
        namespace: access.namespace,
        volumeSnapshotClass: snapshotClass.name,
        driver: snapshotClass.driver,
        rabbitmqVersion: overview?.rabbitmq_version ?? null,
        nodes: clusterConfig(deps.config, input.cluster).nodes.map((n) => n.name),
      };
    },

    // One VolumeSnapshot per PVC, labelled with the set; create-or-get, so a retry is idempotent.
    // With --consistent this runs while the nodes are stopped: it heartbeats, so a
    // worker that dies meanwhile is noticed at the heartbeat timeout, not after a
    // whole attempt timeout with RabbitMQ down.
    async createVolumeSnapshots(input: { cluster: string; setId: string; className: string; claims: SnapshotTarget[] }): Promise<Waiting[]> {
      return beating(async () => {
        const apis = await apisFor(input.cluster);
        const created: Waiting[] = [];
        for (const target of input.claims) {
          const snapshot = await createSnapshot(apis, { cluster: input.cluster, setId: input.setId, target, className: input.className });
          created.push({ name: snapshot.metadata!.name!, target });
        }
        return created;
      });
    },

    // Polls until every snapshot is cut (status.creationTime) or ready (readyToUse), heartbeating;
    // the controller's status.error fails it at once, the deadline (fixed by the workflow) too.
    async awaitVolumeSnapshots(input: { cluster: string; snapshots: Waiting[]; until: 'cut' | 'ready'; deadline: string; pollIntervalSeconds: number }): Promise<VolumeSnapshotRecord[]> {
      const apis = await apisFor(input.cluster);
      const context = Context.current();
      const deadline = Date.parse(input.deadline);
      const done = (s: VolumeSnapshotObject) => (input.until === 'cut' ? !!s.status?.creationTime || s.status?.readyToUse === true : s.status?.readyToUse === true && !!s.status.boundVolumeSnapshotContentName);
      for (;;) {
        context.heartbeat();
        const read = await Promise.all(input.snapshots.map(async (w) => ({ ...w, object: await readSnapshot(apis, w.name) })));
        const gone = read.filter((r) => !r.object);
        if (gone.length) {
          const existing = await listSnapshots(apis);
          throw ApplicationFailure.create({
            message: `VolumeSnapshot ${gone.map((g) => g.name).join(', ')} not found in namespace ${apis.namespace} (deleted while the backup waited); VolumeSnapshots there: ${describeSnapshots(existing)}`,
            type: FailureType.VolumeSnapshotFailed,
            nonRetryable: true,
          });
        }
        const failed = read.find((r) => r.object!.status?.error?.message);
        if (failed) {
          throw ApplicationFailure.create({ message: `VolumeSnapshot ${apis.namespace}/${failed.name} of ${failed.target.persistentVolumeClaim}: ${failed.object!.status!.error!.message}`, type: FailureType.VolumeSnapshotFailed, nonRetryable: true });
        }
        const pending = read.filter((r) => !done(r.object!));
        if (pending.length === 0) return read.map((r) => snapshotRecord(r.name, r.target, r.object!));
        if (Date.now() >= deadline) {
          const state = pending.map((p) => `${p.name} (${p.object!.status ? `readyToUse ${String(p.object!.status.readyToUse ?? false)}, creationTime ${p.object!.status.creationTime ?? 'none'}` : 'no status yet'})`).join(', ');
          throw ApplicationFailure.create({
            message: `VolumeSnapshots not ${input.until === 'cut' ? 'cut (no status.creationTime)' : 'readyToUse'} by the deadline ${input.deadline}: ${state}; is the snapshot controller running and does the CSI driver of the class support snapshots?`,
            type: FailureType.VolumeSnapshotTimeout,
            nonRetryable: true,
          });
        }
        // Beating through the wait: a poll interval longer than the heartbeat timeout must not read as a silent step.
        await beating(() => context.sleep(Math.min(input.pollIntervalSeconds * 1000, Math.max(deadline - Date.now(), 0) + 10)));
      }
    },

    // The snapshots and their contents as the API server has them: the set's one artifact.
    async storeVolumeSnapshotRecord(input: { cluster: string; storage?: string; prefix: string; snapshots: VolumeSnapshotRecord[] }): Promise<Artifact> {
      const apis = await apisFor(input.cluster);
      const objects: object[] = [];
      for (const s of input.snapshots) {
        const snapshot = await readSnapshot(apis, s.name);
        const content = await readSnapshotContent(apis, s.volumeSnapshotContent);
        objects.push({ volumeSnapshot: snapshot ? JSON.parse(storedObject(snapshot).toString()) : null, volumeSnapshotContent: content ? JSON.parse(storedObject(content).toString()) : null });
      }
      const { backend } = deps.openStorage(input.storage);
      return storeArtifact(backend, input.prefix, VOLUME_SNAPSHOT_RECORD_ARTIFACT, Buffer.from(`${JSON.stringify(objects, null, 2)}\n`), 'application/json');
    },

    // Compensation and retention: every VolumeSnapshot labelled with the set. Idempotent.
    async removeVolumeSnapshots(input: { cluster: string; setId: string }): Promise<string[]> {
      return deleteSetSnapshots(await apisFor(input.cluster), input.cluster, input.setId);
    },
  };
}

function snapshotRecord(name: string, target: SnapshotTarget, object: VolumeSnapshotObject): VolumeSnapshotRecord {
  return {
    name,
    persistentVolumeClaim: target.persistentVolumeClaim,
    pod: target.pod,
    volumeSnapshotContent: object.status?.boundVolumeSnapshotContentName ?? '',
    restoreSize: object.status?.restoreSize != null ? String(object.status.restoreSize) : null,
    creationTime: object.status?.creationTime ?? null,
  };
}

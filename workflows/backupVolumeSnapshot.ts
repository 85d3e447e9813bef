import { ApplicationFailure, CancellationScope, isCancellation, uuid4 } from '@temporalio/workflow';
import type { z } from 'zod';
import { setPrefix } from '../common/backupSetLayout';
import { newSetId } from '../common/names';
import { SNAPSHOT_SET_LABEL } from '../common/volumeSnapshotDetails';
import type { StopWindow } from '../contracts/dataDirectory';
import { BackupVolumeSnapshotInput, type BackupVolumeSnapshotResult, type VolumeSnapshotRecord } from '../contracts/volumeSnapshot';
import { activitiesWithRetry, heartbeatingActivities, nodeActivities } from './toolkit/activities';
import { describe, explainFailure } from './toolkit/failures';
import { removingIncompleteSet } from './toolkit/incompleteSet';
import { parseWorkflowInput } from './toolkit/input';
import { withDataDirectoryLock } from './toolkit/lock';
import { writeSetManifest } from './toolkit/manifest';
import { trackProgress } from './toolkit/progress';
import { type SagaTiming, whileStopped } from './toolkit/saga';

type Input = z.output<typeof BackupVolumeSnapshotInput>;

// The guide's "Option A: PVC Snapshot" (Method 2) as a saga: preflight →
// (consistent: stop_app on every node → one VolumeSnapshot per PVC → each cut
// → start_app, always) or (crash-consistent: the snapshots with the nodes
// running) → every snapshot readyToUse → a record artifact → manifest. A
// failure removes the snapshots it created and the partial set.
export async function backupVolumeSnapshot(rawInput: BackupVolumeSnapshotInput): Promise<BackupVolumeSnapshotResult> {
  const input = parseWorkflowInput(BackupVolumeSnapshotInput, rawInput, 'backupVolumeSnapshot');
  // Only a consistent snapshot stops nodes: it holds the cluster's lock as a data-directory backup does.
  return input.consistent ? withDataDirectoryLock(input.cluster, () => snapshot(input)) : snapshot(input);
}

async function snapshot(input: Input): Promise<BackupVolumeSnapshotResult> {
  const progress = trackProgress();
  const { cluster, storage, consistent } = input;
  const act = activitiesWithRetry('volumeSnapshot', input.retry);
  // The wait heartbeats; one attempt may last the whole readiness deadline.
  const waiting = heartbeatingActivities('volumeSnapshot', { ...input.retry, attemptTimeoutSeconds: input.readyTimeoutSeconds + 60 }, input.heartbeatTimeoutSeconds);
  // Steps that may run while the nodes are stopped heartbeat (see createVolumeSnapshots).
  const inWindow = heartbeatingActivities('volumeSnapshot', input.retry, input.heartbeatTimeoutSeconds);
  const compensation = activitiesWithRetry('volumeSnapshot', { ...input.retry, maximumAttempts: Math.min(input.retry.maximumAttempts, 3) });
  const timing: SagaTiming = input;
  const startedAt = new Date();
  const setId = newSetId(startedAt, uuid4());
  const prefix = setPrefix(cluster, 'volume-snapshot', setId);

  progress('preflight', 'snapshot.storage.k8s.io/v1 served, VolumeSnapshotClass, StatefulSet and its PVCs, storage reachable');
  const plan = await act.inspectVolumeSnapshotTargets({ cluster, storage }).catch((error: unknown) => {
    throw explainFailure(`preflight of the snapshot of ${cluster}`, error, 'nothing was stopped or created');
  });
  const nodes = consistent
    ? await act.planDataDirectoryNodes({ cluster }).catch((error: unknown) => {
        throw explainFailure(`finding the nodes of cluster ${cluster}`, error, 'nothing was stopped or created');
      })
    : [];

  // Set once a snapshot may exist, and once anything may have been written into the set.
  let requested = false;
  let recordStarted = false;
  let manifestStarted = false;
  const take = async (until: 'cut' | 'ready') => {
    requested = true;
    progress('creating VolumeSnapshots', `${plan.claims.map((c) => c.persistentVolumeClaim).join(', ')} (class ${plan.volumeSnapshotClass})`);
    const created = await inWindow.createVolumeSnapshots({ cluster, setId, className: plan.volumeSnapshotClass, claims: plan.claims });
    const deadline = new Date(Date.now() + input.readyTimeoutSeconds * 1000).toISOString();
    progress(until === 'cut' ? 'waiting for the snapshots to be cut' : 'waiting for readyToUse', `${created.map((c) => c.name).join(', ')} (deadline ${deadline})`);
    const records = await waiting.awaitVolumeSnapshots({ cluster, snapshots: created, until, deadline, pollIntervalSeconds: input.pollIntervalSeconds });
    return { created, deadline, records };
  };

  const backup = async () => {
    let stopWindow: StopWindow | undefined;
    let taken: Awaited<ReturnType<typeof take>>;
    if (consistent) {
      const names = nodes.map((n) => n.name).join(', ');
      const stopped = await whileStopped(
        `snapshotting the volumes of ${names}`,
        timing,
        async () => {
          for (const n of nodes) {
            progress('stopping app', n.name);
            await nodeActivities('dataDirectory', n.taskQueue, timing).streaming.stopNodeApp({ cluster, node: n.name });
          }
        },
        async () => {
          await Promise.all(nodes.map((n) => nodeActivities('dataDirectory', n.taskQueue, timing).restart.startNodeApp({ cluster, node: n.name })));
        },
        () => take('cut'),
        (reason) => progress('starting apps', `${names} (${reason})`),
      );
      stopWindow = stopped.window;
      taken = stopped.result;
      progress('waiting for readyToUse', `${taken.created.map((c) => c.name).join(', ')} (deadline ${taken.deadline})`);
      taken.records = await waiting.awaitVolumeSnapshots({ cluster, snapshots: taken.created, until: 'ready', deadline: taken.deadline, pollIntervalSeconds: input.pollIntervalSeconds }).catch((error: unknown) => {
        throw explainFailure('waiting for the VolumeSnapshots', error, 'RabbitMQ runs again');
      });
    } else {
      taken = await take('ready').catch((error: unknown) => {
        throw explainFailure('taking the VolumeSnapshots', error);
      });
    }
    const snapshots = taken.records;

    progress('recording snapshots', prefix);
    recordStarted = true;
    const artifact = await act.storeVolumeSnapshotRecord({ cluster, storage, prefix, snapshots }).catch((error: unknown) => {
      throw explainFailure('recording the VolumeSnapshots in the set', error);
    });
    progress('writing manifest', prefix);
    manifestStarted = true;
    const finishedAt = new Date();
    const details = { namespace: plan.namespace, statefulSet: plan.statefulSet, volumeSnapshotClass: plan.volumeSnapshotClass, driver: plan.driver, consistent, naming: plan.naming, nodes: plan.nodes, snapshots, ...(stopWindow ? { stopWindow } : {}) };
    const { location } = await writeSetManifest(
      act,
      {
        storage,
        prefix,
        manifest: { cluster, component: 'volume-snapshot', setId, rabbitmqVersion: plan.rabbitmqVersion, artifacts: [artifact], startedAt: startedAt.toISOString(), finishedAt: finishedAt.toISOString(), details },
      },
      { fateSaidByCaller: true },
    );
    return { location, snapshots, stopWindow, finishedAt };
  };

  // The snapshots go with a failed backup (also when cancelled), after any stopped node was restarted.
  const removingSnapshots = async <T>(work: () => Promise<T>): Promise<T> => {
    try {
      return await work();
    } catch (error) {
      if (!requested) throw error;
      // A failed manifest write may have stored it after all: the set decides (retention removes its snapshots).
      const outcome = manifestStarted
        ? `the VolumeSnapshots of set ${setId} were kept (the manifest may have been written; retention removes them with the set)`
        : await CancellationScope.nonCancellable(() => compensation.removeVolumeSnapshots({ cluster, setId })).then(
            (names) => (names.length ? `VolumeSnapshots removed: ${names.join(', ')}` : 'no VolumeSnapshot was left'),
            (cleanupError: unknown) => `removing the VolumeSnapshots of set ${setId} failed (${describe(cleanupError)}): delete those labelled ${SNAPSHOT_SET_LABEL}=${setId} by hand`,
          );
      progress('VolumeSnapshots removed', outcome);
      if (isCancellation(error) || !(error instanceof ApplicationFailure)) throw error;
      throw ApplicationFailure.create({ message: `${error.message}; ${outcome}`, type: error.type ?? undefined, nonRetryable: true, details: error.details as unknown[] | undefined });
    }
  };

  const done = await removingIncompleteSet({ storage, cluster, component: 'volume-snapshot', setId }, { mayHoldData: () => recordStarted }, () => removingSnapshots(backup));
  progress('done', done.location);
  return {
    cluster,
    setId,
    location: done.location,
    namespace: plan.namespace,
    statefulSet: plan.statefulSet,
    volumeSnapshotClass: plan.volumeSnapshotClass,
    consistent,
    snapshots: done.snapshots satisfies VolumeSnapshotRecord[],
    ...(done.stopWindow ? { stopWindow: done.stopWindow } : {}),
    startedAt: startedAt.toISOString(),
    finishedAt: done.finishedAt.toISOString(),
  };
}

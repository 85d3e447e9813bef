import { CancellationScope, isCancellation, workflowInfo } from '@temporalio/workflow';
import type { z } from 'zod';
import type { ClaimPlan, SnapshotRestorePlan } from '../lib/kubernetes/snapshotRestore';
import { parseUntrusted } from '../common/untrusted';
import { RestorableSnapshotDetails } from '../common/volumeSnapshotRestoreDetails';
import { RestoreVolumeSnapshotInput, type RestoreVolumeSnapshotResult } from '../contracts/volumeSnapshotRestore';
import { activitiesWithRetry, heartbeatingActivities } from './toolkit/activities';
import { describe, explainFailure } from './toolkit/failures';
import { parseWorkflowInput } from './toolkit/input';
import { withDataDirectoryLock } from './toolkit/lock';
import { trackProgress, type ReportProgress } from './toolkit/progress';
import { verifiedSetOrRefuse } from './toolkit/verifiedSet';

type Input = z.output<typeof RestoreVolumeSnapshotInput>;

// The guide's "Recovery 4: full disaster recovery from a PVC snapshot" as a
// saga: set verified and its snapshots ready → replicas recorded → scaled to 0,
// pods gone → the bound PVs kept (Retain) → each PVC deleted and created again
// from its snapshot under the name the StatefulSet mounts → scaled back → pods
// Ready → the set's nodes (and queues) checked. A failure after the scale-down
// binds the old PVs again under their claims' names and scales back.
export async function restoreVolumeSnapshot(rawInput: RestoreVolumeSnapshotInput): Promise<RestoreVolumeSnapshotResult> {
  const input = parseWorkflowInput(RestoreVolumeSnapshotInput, rawInput, 'restoreVolumeSnapshot');
  // It stops every node: one such operation per cluster at a time.
  return withDataDirectoryLock(input.cluster, () => restore(input));
}

// What the saga changed so far, for the compensation and the failure's "changed:".
interface Changed {
  scaledDown: boolean;
  retained: string[];
  claimsTouched: boolean;
}

function steps(input: Input) {
  const act = activitiesWithRetry('volumeSnapshotRestore', input.retry);
  // A wait heartbeats: one attempt may last its whole deadline.
  const waiting = (seconds: number) => heartbeatingActivities('volumeSnapshotRestore', { ...input.retry, attemptTimeoutSeconds: seconds + 60 }, input.heartbeatTimeoutSeconds);
  const deadline = (seconds: number) => ({ deadline: new Date(Date.now() + seconds * 1000).toISOString(), pollIntervalSeconds: input.pollIntervalSeconds });
  return { act, waiting, deadline };
}

async function restore(input: Input): Promise<RestoreVolumeSnapshotResult> {
  const progress = trackProgress();
  const { cluster, storage } = input;
  const { act, waiting, deadline } = steps(input);
  const startedAt = new Date();

  progress('verifying set', `${cluster} volume-snapshot ${input.from}: checksums, its VolumeSnapshots exist and are readyToUse`);
  const set = await verifiedSetOrRefuse(act, { cluster, component: 'volume-snapshot', set: input.from, storage }, 'nothing was changed');
  const setId = set.manifest.setId;
  const details = parseUntrusted(RestorableSnapshotDetails, set.manifest.details, { set: setId, artifact: 'manifest.json details' });
  progress('preflight', `StatefulSet ${details.namespace}/${details.statefulSet}, its PVCs and PVs, the snapshots of set ${setId}`);
  const { queues: _queues, ...recorded } = details;
  const plan = await act.planVolumeSnapshotRestore({ cluster, setId, details: recorded }).catch((error: unknown) => {
    throw explainFailure(`preflight of the snapshot restore of ${cluster}`, error, 'nothing was changed');
  });
  const { statefulSet, replicas, claims } = plan;
  const ref = { cluster, statefulSet };
  const claimNames = claims.map((c) => c.persistentVolumeClaim);
  const changed: Changed = { scaledDown: false, retained: [], claimsTouched: false };

  try {
    progress('scaling down', `StatefulSet ${plan.namespace}/${statefulSet} from ${replicas} to 0 replicas`);
    changed.scaledDown = true;
    await act.scaleStatefulSet({ ...ref, replicas: 0 });
    progress('waiting for the pods to go', claims.map((c) => c.pod).join(', '));
    await waiting(input.podsGoneTimeoutSeconds).awaitStatefulSet({ ...ref, replicas: 0, until: 'gone', claims: [], ...deadline(input.podsGoneTimeoutSeconds) });

    const keep = claims.flatMap((c) => (c.previous ? [c.previous.volumeName] : []));
    progress('keeping the current volumes', keep.length ? `reclaim policy Retain: ${keep.join(', ')}` : 'no PVC is bound: nothing to keep');
    changed.retained = keep;
    await act.retainVolumes({ cluster, volumes: keep });

    progress('replacing the PVCs', claims.map((c) => `${c.persistentVolumeClaim} from ${c.volumeSnapshot} (${c.storage})`).join(', '));
    changed.claimsTouched = true;
    await waiting(input.readyTimeoutSeconds).replaceClaimsFromSnapshots({ cluster, setId, runId: workflowInfo().runId, claims, ...deadline(input.readyTimeoutSeconds) });

    progress('scaling back', `${statefulSet} to ${replicas} replicas`);
    await act.scaleStatefulSet({ ...ref, replicas });
    progress('waiting for the pods', `${replicas} pod(s) Ready, ${claimNames.join(', ')} Bound`);
    await waiting(input.readyTimeoutSeconds).awaitStatefulSet({ ...ref, replicas, until: 'ready', claims: claimNames, ...deadline(input.readyTimeoutSeconds) });
    const volumes = await act.readRestoredVolumes({ cluster, claims });

    progress('verifying', `nodes ${details.nodes.join(', ')} running${details.queues ? `, ${details.queues.length} queues as in the manifest` : ''}`);
    const check = await waiting(input.verifyTimeoutSeconds).verifySnapshotRestore({ cluster, nodes: details.nodes, queues: details.queues ?? null, ...deadline(input.verifyTimeoutSeconds) });
    progress('done', `${claims.length} PVC(s) of ${statefulSet} restored from set ${setId}`);
    return {
      cluster,
      setId,
      namespace: plan.namespace,
      statefulSet,
      replicas,
      claims: claims.map((c) => ({
        persistentVolumeClaim: c.persistentVolumeClaim,
        pod: c.pod,
        volumeSnapshot: c.volumeSnapshot,
        storage: c.storage,
        previousVolume: c.previous?.volumeName ?? null,
        volume: volumes[c.persistentVolumeClaim]!,
      })),
      nodes: check.nodes,
      queues: check.queues,
      messages: check.messages,
      startedAt: startedAt.toISOString(),
      finishedAt: new Date().toISOString(),
    };
  } catch (error) {
    const undone = await CancellationScope.nonCancellable(() => compensate(input, plan, changed, progress));
    if (isCancellation(error)) throw error;
    throw explainFailure(`restoring the volumes of ${plan.namespace}/${statefulSet} from set ${setId}`, error, `changed: ${undone}`);
  }
}

// Puts the old volumes back under their claims and the replicas back; says what
// it did and, should a step of its own fail, where it stopped and what is where.
async function compensate(input: Input, plan: SnapshotRestorePlan, changed: Changed, progress: ReportProgress): Promise<string> {
  const { waiting, deadline } = steps(input);
  const { cluster } = input;
  const { statefulSet, replicas, claims } = plan;
  const ref = { cluster, statefulSet };
  const done: string[] = [];
  const kept = claims.filter((c): c is ClaimPlan & { previous: NonNullable<ClaimPlan['previous']> } => !!c.previous && changed.retained.includes(c.previous.volumeName));
  if (kept.length) done.push(`kept with reclaim policy Retain: ${kept.map((c) => `${c.previous.volumeName} (was ${c.previous.reclaimPolicy})`).join(', ')}`);
  const step = async (what: string, work: () => Promise<void>): Promise<boolean> => {
    progress('compensating', what);
    try {
      await work();
      return true;
    } catch (error) {
      done.push(`${what} FAILED (${describe(error)})`);
      return false;
    }
  };
  // Putting back waits as long as the longer of the two deadlines: a short ready deadline must not strand the old volumes.
  const seconds = Math.max(input.readyTimeoutSeconds, input.podsGoneTimeoutSeconds);
  const compensation = waiting(seconds);
  if (changed.claimsTouched) {
    const off = await step(`scaling ${statefulSet} to 0 so no pod holds a restored claim`, async () => {
      await compensation.scaleStatefulSet({ ...ref, replicas: 0 });
      await compensation.awaitStatefulSet({ ...ref, replicas: 0, until: 'gone', claims: [], ...deadline(input.podsGoneTimeoutSeconds) });
    });
    const back = off && (await step(`putting the PVCs back on their previous volumes`, () => compensation.putBackClaims({ cluster, claims, ...deadline(seconds) })));
    if (!back) {
      done.push(`the previous volumes are kept (Retain): bind them again by hand (PV spec.claimRef without uid, PVC spec.volumeName): ${kept.map((c) => `${c.persistentVolumeClaim} → ${c.previous.volumeName}`).join(', ') || 'none'}`);
      return done.join('; ');
    }
    const restoredOnly = claims.filter((c) => !c.previous).map((c) => c.persistentVolumeClaim);
    done.push(`restored PVCs removed; PVCs bound again to their previous volumes: ${kept.map((c) => `${c.persistentVolumeClaim} → ${c.previous.volumeName}`).join(', ') || 'none'}${restoredOnly.length ? `; absent before, removed: ${restoredOnly.join(', ')}` : ''}`);
  }
  if (changed.scaledDown) {
    const scaled = await step(`scaling ${statefulSet} back to ${replicas}`, () => compensation.scaleStatefulSet({ ...ref, replicas }));
    if (!scaled) return done.join('; ');
    const bound = claims.filter((c) => c.previous).map((c) => c.persistentVolumeClaim);
    const ready = await step(`waiting for ${replicas} pod(s) Ready`, () => compensation.awaitStatefulSet({ ...ref, replicas, until: 'ready', claims: bound, ...deadline(seconds) }));
    done.push(`StatefulSet ${statefulSet} scaled back to ${replicas}${ready ? ', pods Ready' : ''}`);
  }
  return done.join('; ') || 'nothing';
}

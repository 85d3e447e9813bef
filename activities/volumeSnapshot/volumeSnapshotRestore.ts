import { Context } from '@temporalio/activity';
import { beating } from '../heartbeats';
import { ApplicationFailure } from '@temporalio/common';
import { FailureType } from '../../common/failures';
import type { VolumeSnapshotDetails } from '../../common/volumeSnapshotDetails';
import { kubernetesAccess } from '../../lib/kubernetes/client';
import {
  type ClaimPlan,
  planSnapshotRestore,
  putBackClaimStep,
  replaceClaimStep,
  restoredVolumes,
  retainVolumes,
  scaleStatefulSet,
  type SnapshotRestorePlan,
  statefulSetPending,
} from '../../lib/kubernetes/snapshotRestore';
import { snapshotApis } from '../../lib/kubernetes/volumeSnapshots';
import type { ActivityDeps } from '../deps';

interface Waiting {
  // ISO time fixed by the workflow, so a retried attempt keeps the same deadline.
  deadline: string;
  pollIntervalSeconds: number;
}

export interface RecordedQueue {
  vhost: string;
  name: string;
  messages: number;
}

// Polls `pending` until it lists nothing, heartbeating; past the deadline it fails naming what is still pending.
async function untilDone(what: string, wait: Waiting, pending: () => Promise<string[]>, type: FailureType = FailureType.StatefulSetNotReady): Promise<void> {
  const context = Context.current();
  const deadline = Date.parse(wait.deadline);
  for (;;) {
    context.heartbeat();
    const left = await pending();
    if (left.length === 0) return;
    if (Date.now() >= deadline) {
      throw ApplicationFailure.create({ message: `${what} by the deadline ${wait.deadline}: ${left.slice(0, 10).join('; ')}${left.length > 10 ? ` (+${left.length - 10} more)` : ''}`, type, nonRetryable: true });
    }
    // Beating through the wait: a poll interval longer than the heartbeat timeout must not read as a silent step.
    await beating(() => context.sleep(Math.min(wait.pollIntervalSeconds * 1000, Math.max(deadline - Date.now(), 0) + 10)));
  }
}

// Main task queue: every step goes through the API server (and the management API for the check).
export function createVolumeSnapshotRestoreActivities(deps: ActivityDeps) {
  const apisFor = (cluster: string) => snapshotApis(kubernetesAccess(deps.config, cluster));
  return {
    // Preflight, nothing changed: the StatefulSet, its claims and their PVs, the set's snapshots readyToUse.
    async planVolumeSnapshotRestore(input: { cluster: string; setId: string; details: VolumeSnapshotDetails }): Promise<SnapshotRestorePlan> {
      return planSnapshotRestore(await apisFor(input.cluster), input.cluster, input.setId, input.details);
    },

    async scaleStatefulSet(input: { cluster: string; statefulSet: string; replicas: number }): Promise<void> {
      await scaleStatefulSet(await apisFor(input.cluster), input.statefulSet, input.replicas);
    },

    // Until the StatefulSet's pods are gone, or pods 0..replicas-1 Ready with the claims Bound.
    async awaitStatefulSet(input: Waiting & { cluster: string; statefulSet: string; replicas: number; until: 'gone' | 'ready'; claims: string[] }): Promise<void> {
      const apis = await apisFor(input.cluster);
      const what = input.until === 'gone' ? `the pods of StatefulSet ${apis.namespace}/${input.statefulSet} not gone` : `StatefulSet ${apis.namespace}/${input.statefulSet} not ready with ${input.replicas} pod(s)`;
      await untilDone(what, input, () => statefulSetPending(apis, input.statefulSet, input.replicas, input.until, input.claims));
    },

    async retainVolumes(input: { cluster: string; volumes: string[] }): Promise<void> {
      await retainVolumes(await apisFor(input.cluster), input.volumes);
    },

    // Each old claim deleted (once its finalizer lets it go), then created again from its snapshot.
    async replaceClaimsFromSnapshots(input: Waiting & { cluster: string; setId: string; runId: string; claims: ClaimPlan[] }): Promise<void> {
      const apis = await apisFor(input.cluster);
      await untilDone('PVCs not replaced by claims from the snapshots', input, async () => {
        const left: string[] = [];
        for (const c of input.claims) {
          const waiting = await replaceClaimStep(apis, c, input.setId, input.runId);
          if (waiting) left.push(waiting);
        }
        return left;
      });
    },

    // Compensation: each restored claim removed, the previous PV bound again under the claim's name.
    async putBackClaims(input: Waiting & { cluster: string; claims: ClaimPlan[] }): Promise<void> {
      const apis = await apisFor(input.cluster);
      await untilDone('PVCs not put back on their previous volumes', input, async () => {
        const left: string[] = [];
        for (const c of input.claims) {
          const waiting = await putBackClaimStep(apis, c);
          if (waiting) left.push(waiting);
        }
        return left;
      });
    },

    async readRestoredVolumes(input: { cluster: string; claims: ClaimPlan[] }): Promise<Record<string, string>> {
      return restoredVolumes(await apisFor(input.cluster), input.claims);
    },

    // The guide's Step 4/5: the set's nodes running in the cluster, and the recorded queues with their message counts.
    async verifySnapshotRestore(input: Waiting & { cluster: string; nodes: string[]; queues: RecordedQueue[] | null }): Promise<{ nodes: string[]; queues: number | null; messages: number | null }> {
      const api = deps.managementApi(input.cluster);
      let running: string[] = [];
      await untilDone(
        `cluster ${input.cluster} after the snapshot restore: not as recorded`,
        input,
        async () => {
          const nodes = await api.getJson<Array<{ name: string; running?: boolean }>>('/api/nodes').catch((e: unknown) => {
            return [{ name: `(management API: ${(e as Error).message})`, running: false }];
          });
          running = nodes.filter((n) => n.running).map((n) => n.name);
          const missing = input.nodes.filter((n) => !running.includes(n)).map((n) => `node ${n} not running (running: ${running.join(', ') || 'none'})`);
          if (missing.length || !input.queues) return missing;
          const live = new Map((await api.getJson<RecordedQueue[]>('/api/queues?columns=vhost,name,messages')).map((q) => [`${q.vhost}/${q.name}`, q.messages ?? 0]));
          return input.queues.flatMap((q) => {
            const found = live.get(`${q.vhost}/${q.name}`);
            if (found === undefined) return [`queue ${q.name} in vhost ${q.vhost} is missing`];
            return found === q.messages ? [] : [`queue ${q.name} in vhost ${q.vhost} has ${found} messages, the set ${q.messages}`];
          });
        },
        FailureType.RestoreVerificationFailed,
      );
      const queues = input.queues;
      return { nodes: input.nodes.filter((n) => running.includes(n)), queues: queues ? queues.length : null, messages: queues ? queues.reduce((n, q) => n + q.messages, 0) : null };
    },
  };
}

import { ApplicationFailure, CancelledFailure } from '@temporalio/common';
import { statfs } from 'node:fs/promises';
import path from 'node:path';
import { FailureType } from '../../common/failures';
import type { ActivityDeps } from '../deps';
import { hostFor, type NodeRef } from '../../lib/nodeAccess/hosts';
import { assertStaging, NotStaging, preCopy, removeStaging, stagingLayout, syncDelta, treeBytes, type DeltaResult, type PreCopyResult } from '../../lib/dataDirectory/stagedCopy';
import { beating } from '../heartbeats';
import { streamWatch } from './streaming';

export interface StagingPlan {
  copy: 'pre-copy' | 'while-stopped';
  // The staging directory (null when this node's access cannot stage).
  staging: string | null;
  // What is archived: <staging>/tree.
  tree: string | null;
  neededBytes: number;
  freeBytes: number;
  // Why the copy happens while stopped instead.
  note?: string;
}

const MiB = 1024 * 1024;
// Staging holds a full copy: the data directory, 10% for growth while it is copied, and some slack.
export const stagingNeed = (dataBytes: number) => Math.ceil(dataBytes * 1.1) + 64 * MiB;

export function formatBytes(n: number): string {
  return n >= 1024 * MiB ? `${(n / (1024 * MiB)).toFixed(2)} GiB` : `${(n / MiB).toFixed(1)} MiB`;
}

// One staging operation per staging directory in this worker: a new one (a
// retry, or the removal after a failure or cancellation) first stops the one
// still running, so nothing writes into a staging directory while it is removed.
const running = new Map<string, { controller: AbortController; done: Promise<unknown> }>();

async function stopRunning(staging: string, why: string): Promise<void> {
  const current = running.get(staging);
  if (!current) return;
  current.controller.abort(new Error(why));
  await current.done.catch(() => undefined);
}

async function exclusive<T>(staging: string, why: string, signal: AbortSignal | undefined, work: (signal: AbortSignal) => Promise<T>): Promise<T> {
  await stopRunning(staging, why);
  const controller = new AbortController();
  const done = work(signal ? AbortSignal.any([signal, controller.signal]) : controller.signal);
  const entry = { controller, done };
  running.set(staging, entry);
  try {
    return await done;
  } finally {
    if (running.get(staging) === entry) running.delete(staging);
  }
}

function stagingFailure(what: string, error: unknown): unknown {
  if (error instanceof ApplicationFailure || error instanceof CancelledFailure) return error;
  const code = (error as NodeJS.ErrnoException).code;
  // Out of space or a staging directory that is not ours: no retry fixes it.
  const nonRetryable = error instanceof NotStaging || code === 'ENOSPC' || code === 'EDQUOT' || code === 'EROFS';
  return ApplicationFailure.create({ message: `${what} failed: ${(error as Error).message}`, type: FailureType.NodeCommandFailed, nonRetryable });
}

// Nearest existing directory at or above p (statfs needs one).
async function freeBytesAt(p: string): Promise<{ free: number; at: string }> {
  let at = path.resolve(p);
  for (;;) {
    try {
      const s = await statfs(at);
      return { free: s.bavail * s.bsize, at };
    } catch (error) {
      const parent = path.dirname(at);
      if ((error as NodeJS.ErrnoException).code !== 'ENOENT' || parent === at) throw error;
      at = parent;
    }
  }
}

const inside = (child: string, parent: string) => child === parent || child.startsWith(`${parent}/`);

export function createStagingActivities(deps: ActivityDeps) {
  const host = (input: NodeRef) => hostFor(deps.config, input.cluster, input.node);
  return {
    // Preflight of the two-phase copy: where staging goes, whether it fits
    // (data × 1.1 + 64 MiB free there); if not, the copy happens while stopped.
    async planStagedCopy(input: NodeRef & { dataDirectory: string; dataBytes: number }): Promise<StagingPlan> {
      const neededBytes = stagingNeed(input.dataBytes);
      const nodeHost = host(input);
      const staging = nodeHost.stagingDirectory(input.dataDirectory);
      const whileStopped = (note: string, freeBytes = 0): StagingPlan => ({ copy: 'while-stopped', staging: null, tree: null, neededBytes, freeBytes, note });
      if (!staging) return whileStopped(`${nodeHost.describe()} cannot stage a copy`);
      const data = path.resolve(input.dataDirectory);
      const resolved = path.resolve(staging);
      if (inside(resolved, data) || inside(data, resolved)) {
        throw ApplicationFailure.create({
          message: `staging directory ${resolved} overlaps the data directory ${data} of ${input.node}: set clusters.${input.cluster}.nodes[].access.stagingDirectory outside it`,
          type: FailureType.InvalidInput,
          nonRetryable: true,
        });
      }
      try {
        await assertStaging(resolved);
      } catch (error) {
        if (error instanceof NotStaging) return whileStopped(error.message);
        throw error;
      }
      // A staging directory left by an interrupted run is replaced: its bytes count as free.
      const { free, at } = await freeBytesAt(resolved);
      const freeBytes = free + (await treeBytes(resolved));
      if (freeBytes < neededBytes) return whileStopped(`staging needs ${formatBytes(neededBytes)}, ${formatBytes(freeBytes)} free at ${at}`, freeBytes);
      return { copy: 'pre-copy', staging: resolved, tree: stagingLayout(resolved).tree, neededBytes, freeBytes };
    },

    // Phase 1, RabbitMQ running: the whole data directory into staging. A retry starts over.
    async preCopyDataDirectory(input: NodeRef & { dataDirectory: string; staging: string; dataBytes: number }): Promise<Omit<PreCopyResult, 'skipped'> & { skipped: number }> {
      const watch = streamWatch(`pre-copying the data directory of ${input.node}`, input.dataBytes);
      let bytes = 0;
      const beat = setInterval(() => watch.onBytes(bytes), watch.everyMs);
      try {
        const result = await exclusive(input.staging, 'a newer attempt started', watch.signal, (signal) =>
          preCopy(input.dataDirectory, input.staging, { signal, onBytes: (b) => watch.onBytes((bytes = b)) }),
        );
        return { ...result, skipped: result.skipped.length };
      } catch (error) {
        throw stagingFailure(`pre-copying ${input.dataDirectory} into ${input.staging}`, error);
      } finally {
        clearInterval(beat);
        watch.done();
      }
    },

    // Phase 2, app stopped: only what changed since phase 1 is copied again.
    async syncStagedCopy(input: NodeRef & { dataDirectory: string; staging: string }): Promise<DeltaResult> {
      const watch = streamWatch(`copying the changes of ${input.node}`);
      let bytes = 0;
      const beat = setInterval(() => watch.onBytes(bytes), watch.everyMs);
      try {
        return await exclusive(input.staging, 'a newer attempt started', watch.signal, (signal) =>
          syncDelta(input.dataDirectory, input.staging, { signal, onBytes: (b) => watch.onBytes((bytes = b)) }),
        );
      } catch (error) {
        throw stagingFailure(`copying the changes of ${input.dataDirectory} into ${input.staging}`, error);
      } finally {
        clearInterval(beat);
        watch.done();
      }
    },

    // After the backup, on success and on every failure: the staging copy goes
    // (stopping any copy into it still running in this worker first).
    async removeStagedCopy(input: NodeRef & { staging: string }): Promise<{ removed: boolean }> {
      try {
        return { removed: await beating(() => exclusive(input.staging, 'the staging copy is being removed', undefined, () => removeStaging(input.staging))) };
      } catch (error) {
        throw stagingFailure(`removing the staging copy ${input.staging}`, error);
      }
    },
  };
}

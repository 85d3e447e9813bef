import { ApplicationFailure, CancellationScope, isCancellation, patched, uuid4 } from '@temporalio/workflow';
import type { StreamedDataDirectory } from '../lib/dataDirectory/artifactWriter';
import type { z } from 'zod';
import type { NodeFacts } from '../lib/nodeAccess/rabbitNode';
import type { DeltaResult } from '../lib/dataDirectory/stagedCopy';
import type { TarSummary } from '../lib/archive/tarGuard';
import { setPrefix } from '../common/backupSetLayout';
import { newSetId } from '../common/names';
import { BackupDataDirectoryInput, type BackupDataDirectoryResult, type CopyFigures, type StopWindow } from '../contracts/dataDirectory';
import { activitiesWithRetry, nodeActivities } from './toolkit/activities';
import { describe, explainFailure } from './toolkit/failures';
import { parseWorkflowInput } from './toolkit/input';
import { withDataDirectoryLock } from './toolkit/lock';
import { writeSetManifest } from './toolkit/manifest';
import { trackProgress } from './toolkit/progress';
import { allOrCancel, type SagaTiming, whileStopped } from './toolkit/saga';
import { removingIncompleteSet } from './toolkit/incompleteSet';

// What the manifest records per node (details.nodes[]).
export interface NodeBackupRecord extends StreamedDataDirectory, CopyFigures {
  node: string;
  facts: NodeFacts;
  stopWindow: StopWindow;
  verified: TarSummary;
}

type Node = { name: string; taskQueue: string };
interface NodePlan {
  node: Node;
  facts: NodeFacts;
  // Set when this node's copy is staged (pre-copy).
  staging?: { dir: string; tree: string };
  copyNote?: string;
}

// The guide's "Mnesia Option B" as a saga. With copy: pre-copy (default):
// preflight → pre-copy into staging while running → stop_app → copy what
// changed → start_app (always, see whileStopped) → tar|zstd|upload of the
// staging copy → verify → manifest → staging removed (on failure too).
// With copy: while-stopped: preflight → stop_app → tar|zstd|upload → start_app → verify → manifest.
export async function backupDataDirectory(rawInput: BackupDataDirectoryInput): Promise<BackupDataDirectoryResult> {
  const input = parseWorkflowInput(BackupDataDirectoryInput, rawInput, 'backupDataDirectory');
  // Runs started before the cluster lock existed replay without it.
  return patched('data-directory-lock') ? withDataDirectoryLock(input.cluster, () => backUp(input)) : backUp(input);
}

async function backUp(input: z.output<typeof BackupDataDirectoryInput>): Promise<BackupDataDirectoryResult> {
  // Runs started before the two-phase copy existed copied while stopped, and replay so.
  const preCopyOn = patched('data-directory-pre-copy') && input.copy === 'pre-copy';
  const progress = trackProgress();
  const act = activitiesWithRetry('dataDirectory', input.retry);
  const timing: SagaTiming = input;
  const startedAt = new Date();
  const setId = newSetId(startedAt, uuid4());
  const prefix = setPrefix(input.cluster, 'data-directory', setId);
  const { cluster, storage, method } = input;

  const nodes = await act.planDataDirectoryNodes({ cluster, nodes: input.nodes }).catch((error: unknown) => {
    throw explainFailure(`finding the nodes of cluster ${cluster}`, error);
  });
  const preflight = async (node: Node): Promise<NodePlan> => {
    progress('preflight', `${node.name}: node up, versions, data size, storage reachable${preCopyOn ? ', staging space' : ''}`);
    const explain = (error: unknown) => {
      throw explainFailure(`preflight of ${node.name}`, error, 'nothing was stopped');
    };
    const on = nodeActivities('dataDirectory', node.taskQueue, timing).quick;
    const facts = await on.inspectDataDirectoryNode({ cluster, node: node.name, storage, method }).catch(explain);
    if (!preCopyOn) return { node, facts };
    const plan = await on.planStagedCopy({ cluster, node: node.name, dataDirectory: facts.dataDirectory, dataBytes: facts.dataBytes }).catch(explain);
    if (plan.copy === 'pre-copy' && plan.staging && plan.tree) return { node, facts, staging: { dir: plan.staging, tree: plan.tree } };
    progress('preflight', `${node.name}: no pre-copy (${plan.note}): the whole copy happens while the app is stopped`);
    return { node, facts, copyNote: plan.note };
  };

  // Nodes whose staging directory may exist: removed at the end, whatever happened.
  const staged: NodePlan[] = [];
  const preCopy = (p: NodePlan) => async (): Promise<NonNullable<CopyFigures['preCopy']>> => {
    staged.push(p);
    progress('pre-copying data directory', `${p.node.name}: into ${p.staging!.dir} while RabbitMQ runs`);
    const r = await nodeActivities('dataDirectory', p.node.taskQueue, timing)
      .streaming.preCopyDataDirectory({ cluster, node: p.node.name, dataDirectory: p.facts.dataDirectory, staging: p.staging!.dir, dataBytes: p.facts.dataBytes })
      .catch((error: unknown) => {
        throw explainFailure(`pre-copying the data directory of ${p.node.name}`, error, 'nothing was stopped');
      });
    return { files: r.files, bytes: r.bytes, seconds: r.seconds, changedWhileCopied: r.changedWhileCopied };
  };
  // Set once anything may have been written into the set.
  let uploadStarted = false;
  // Reads `from`: the data directory itself (app stopped) or its staging copy (app running).
  const upload = (p: NodePlan, from: string) => () => {
    uploadStarted = true;
    return nodeActivities('dataDirectory', p.node.taskQueue, timing).streaming.streamDataDirectory({ cluster, node: p.node.name, storage, prefix, method, dataDirectory: from, dataBytes: p.facts.dataBytes });
  };
  const uploadStaged = async (p: NodePlan): Promise<StreamedDataDirectory> => {
    progress('uploading staged copy', `${p.node.name}: tar | zstd | upload (${method}) of ${p.staging!.tree}, RabbitMQ running`);
    return upload(p, p.staging!.tree)().catch((error: unknown) => {
      throw explainFailure(`copying the data directory of ${p.node.name}`, error, 'RabbitMQ is running; the staging copy is removed');
    });
  };
  // Inside the stop window: the changes (staged), or the whole copy.
  type Stopped = { delta: DeltaResult } | { streamed: StreamedDataDirectory };
  const whileDown = (p: NodePlan) => async (): Promise<Stopped> =>
    p.staging
      ? { delta: await nodeActivities('dataDirectory', p.node.taskQueue, timing).streaming.syncStagedCopy({ cluster, node: p.node.name, dataDirectory: p.facts.dataDirectory, staging: p.staging.dir }) }
      : { streamed: await upload(p, p.facts.dataDirectory)() };
  const stop = (p: NodePlan) => async () => {
    progress('stopping app', p.node.name);
    await nodeActivities('dataDirectory', p.node.taskQueue, timing).streaming.stopNodeApp({ cluster, node: p.node.name });
    if (p.staging) progress('copying changes', `${p.node.name}: what changed since the pre-copy, into ${p.staging.dir}`);
    else progress('copying data directory', `${p.node.name}: tar | zstd | upload (${method})`);
  };
  const start = (p: NodePlan) => () => nodeActivities('dataDirectory', p.node.taskQueue, timing).restart.startNodeApp({ cluster, node: p.node.name });
  const restarting = (p: NodePlan) => (reason: string) => progress('starting app', `${p.node.name} (${reason})`);
  const record = async (p: NodePlan, stopped: Stopped, window: StopWindow, preCopied?: CopyFigures['preCopy']): Promise<Omit<NodeBackupRecord, 'verified'>> => {
    const figures: CopyFigures = p.staging
      ? { copy: 'pre-copy', preCopy: preCopied, delta: (stopped as { delta: DeltaResult }).delta }
      : { copy: 'while-stopped', ...(p.copyNote ? { copyNote: p.copyNote } : {}) };
    const streamed = 'streamed' in stopped ? stopped.streamed : await uploadStaged(p);
    return { ...streamed, node: p.node.name, facts: p.facts, stopWindow: window, ...figures };
  };

  const backup = async (): Promise<{ location: string; verified: NodeBackupRecord[]; finishedAt: Date }> => {
    const records: Array<Omit<NodeBackupRecord, 'verified'>> = [];
    if (input.mode === 'one-at-a-time') {
      // Each node is back and accepting connections before the next one stops.
      for (const node of nodes) {
        const p = await preflight(node);
        const preCopied = p.staging ? await preCopy(p)() : undefined;
        const what = p.staging ? `copying the changes of the data directory of ${node.name}` : `copying the data directory of ${node.name}`;
        const { result, window } = await whileStopped(what, timing, stop(p), start(p), whileDown(p), restarting(p));
        records.push(await record(p, result, window, preCopied));
      }
    } else {
      // One consistent set: every node pre-copied, stopped (in order), its changes
      // (or whole copy) taken in parallel, all restarted; then the staged copies uploaded.
      const plans = await Promise.all(nodes.map(preflight));
      const preCopied = await allOrCancel(plans.map((p) => (p.staging ? preCopy(p) : async () => undefined)));
      const copied = await whileStopped(
        `copying the data directories of ${nodes.map((n) => n.name).join(', ')}`,
        timing,
        async () => {
          for (const p of plans) await stop(p)();
        },
        async () => {
          await Promise.all(plans.map((p) => start(p)()));
        },
        () => allOrCancel(plans.map(whileDown)),
        (reason) => progress('starting apps', reason),
      );
      records.push(...(await allOrCancel(plans.map((p, i) => () => record(p, copied.result[i]!, copied.window, preCopied[i])))));
    }

    const verified: NodeBackupRecord[] = [];
    for (const [i, r] of records.entries()) {
      progress('verifying artifact', `${r.artifact.name}: checksum, archive listing${method === 'restic' ? ', restic check' : ''}`);
      const check = await nodeActivities('dataDirectory', nodes[i]!.taskQueue, timing)
        .streaming.verifyDataDirectoryArtifact({
          storage,
          prefix,
          artifact: r.artifact,
          tarSha256: r.tarSha256,
          tarBytes: r.tarBytes,
          method,
          node: r.node,
          resticCheck: i === 0,
        })
        .catch((error: unknown) => {
          throw explainFailure(`verifying the uploaded data directory of ${r.node}`, error, `set ${setId} stays incomplete`);
        });
      verified.push({ ...r, verified: check.summary });
    }

    progress('writing manifest', prefix);
    const finishedAt = new Date();
    const { location } = await writeSetManifest(act, {
      storage,
      prefix,
      manifest: {
        cluster,
        component: 'data-directory',
        setId,
        rabbitmqVersion: verified[0]?.facts.rabbitmqVersion ?? null,
        artifacts: verified.map((r) => r.artifact),
        startedAt: startedAt.toISOString(),
        finishedAt: finishedAt.toISOString(),
        details: { method, mode: input.mode, nodes: verified },
      },
    });
    return { location, verified, finishedAt };
  };

  // Staging copies go on success and on every failure or cancellation, after
  // any stopped node was restarted (whileStopped restarts before it reports).
  const removeStaging = async (): Promise<string[]> => {
    const warnings: string[] = [];
    for (const p of staged) {
      progress('removing staging copy', `${p.node.name}: ${p.staging!.dir}`);
      await nodeActivities('dataDirectory', p.node.taskQueue, timing)
        .cleanup.removeStagedCopy({ cluster, node: p.node.name, staging: p.staging!.dir })
        .catch((error: unknown) => warnings.push(`the staging copy ${p.staging!.dir} of ${p.node.name} could not be removed (${describe(error)}): remove it by hand`));
    }
    return warnings;
  };

  let outcome: { ok: true; value: Awaited<ReturnType<typeof backup>> } | { ok: false; error: unknown };
  try {
    // A failed backup's partial set (no manifest: never restorable) is removed; the nodes were restarted before.
    outcome = { ok: true, value: await removingIncompleteSet({ storage, cluster, component: 'data-directory', setId }, { mayHoldData: () => uploadStarted }, backup) };
  } catch (error) {
    outcome = { ok: false, error };
  }
  const warnings = await CancellationScope.nonCancellable(removeStaging);
  if (!outcome.ok) {
    const { error } = outcome;
    if (warnings.length === 0 || isCancellation(error) || !(error instanceof ApplicationFailure)) throw error;
    throw ApplicationFailure.create({ message: `${error.message}; ${warnings.join('; ')}`, type: error.type ?? undefined, nonRetryable: error.nonRetryable ?? undefined, details: error.details as unknown[] | undefined });
  }
  const { location, verified, finishedAt } = outcome.value;
  progress('done', location);
  return {
    cluster,
    setId,
    method,
    mode: input.mode,
    location,
    nodes: verified.map((r) => ({
      node: r.node,
      artifact: r.artifact.name,
      bytes: r.artifact.size,
      tarBytes: r.tarBytes,
      stopWindow: r.stopWindow,
      ...(r.restic ? { resticSnapshotId: r.restic.snapshotId } : {}),
      copy: r.copy,
      ...(r.copyNote ? { copyNote: r.copyNote } : {}),
      ...(r.preCopy ? { preCopy: r.preCopy } : {}),
      ...(r.delta ? { delta: r.delta } : {}),
    })),
    ...(warnings.length > 0 ? { warnings } : {}),
    startedAt: startedAt.toISOString(),
    finishedAt: finishedAt.toISOString(),
  };
}

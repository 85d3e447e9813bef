import { uuid4, workflowInfo } from '@temporalio/workflow';
import type { StreamedDataDirectory } from '../activities/node/backupActivities';
import type { NodeFacts } from '../activities/node/rabbitNode';
import type { TarSummary } from '../activities/archive/tarGuard';
import { BackupDataDirectoryInput } from '../common/dataDirectoryInputs';
import { newSetId, setPrefix } from '../common/names';
import { nodeActivities, whileStopped, type SagaTiming, type StopWindow } from './dataDirectorySaga';
import { activitiesWithRetry, explainFailure, parseWorkflowInput, trackProgress } from './support';

// What the manifest records per node (details.nodes[]).
export interface NodeBackupRecord extends StreamedDataDirectory {
  node: string;
  facts: NodeFacts;
  stopWindow: StopWindow;
  verified: TarSummary;
}

export interface BackupDataDirectoryResult {
  cluster: string;
  setId: string;
  method: 'archive' | 'restic';
  mode: 'one-at-a-time' | 'all-together';
  location: string;
  nodes: Array<{ node: string; artifact: string; bytes: number; tarBytes: number; stopWindow: StopWindow; resticSnapshotId?: string }>;
  startedAt: string;
  finishedAt: string;
}

type Node = { name: string; taskQueue: string };

// The guide's "Mnesia Option B" as a saga: preflight → stop_app → tar|zstd|upload
// in one pass → start_app (always, see whileStopped) → verify → manifest.
export async function backupDataDirectory(rawInput: BackupDataDirectoryInput): Promise<BackupDataDirectoryResult> {
  const input = parseWorkflowInput(BackupDataDirectoryInput, rawInput, 'backupDataDirectory');
  const progress = trackProgress();
  const act = activitiesWithRetry(input.retry);
  const timing: SagaTiming = input;
  const startedAt = new Date();
  const setId = newSetId(startedAt, uuid4());
  const prefix = setPrefix(input.cluster, 'data-directory', setId);
  const { cluster, storage, method } = input;

  const nodes = await act.planDataDirectoryNodes({ cluster, nodes: input.nodes }).catch((error: unknown) => {
    throw explainFailure(`finding the nodes of cluster ${cluster}`, error);
  });
  const preflight = async (node: Node) => {
    progress('preflight', `${node.name}: node up, versions, data size, storage reachable`);
    return nodeActivities(node.taskQueue, timing)
      .quick.inspectDataDirectoryNode({ cluster, node: node.name, storage, method })
      .catch((error: unknown) => {
        throw explainFailure(`preflight of ${node.name}`, error, 'nothing was stopped');
      });
  };
  const copy = (node: Node, facts: NodeFacts) => () =>
    nodeActivities(node.taskQueue, timing).streaming.streamDataDirectory({
      cluster,
      node: node.name,
      storage,
      prefix,
      method,
      dataDirectory: facts.dataDirectory,
      dataBytes: facts.dataBytes,
    });
  const stop = (node: Node) => async () => {
    progress('stopping app', node.name);
    await nodeActivities(node.taskQueue, timing).quick.stopNodeApp({ cluster, node: node.name });
    progress('copying data directory', `${node.name}: tar | zstd | upload (${method})`);
  };
  const start = (node: Node) => () => nodeActivities(node.taskQueue, timing).restart.startNodeApp({ cluster, node: node.name });
  const restarting = (node: Node) => (reason: string) => progress('starting app', `${node.name} (${reason})`);

  const records: Array<Omit<NodeBackupRecord, 'verified'>> = [];
  if (input.mode === 'one-at-a-time') {
    // Each node is back and accepting connections before the next one stops.
    for (const node of nodes) {
      const facts = await preflight(node);
      const { result, window } = await whileStopped(`copying the data directory of ${node.name}`, timing, stop(node), start(node), copy(node, facts), restarting(node));
      records.push({ ...result, node: node.name, facts, stopWindow: window });
    }
  } else {
    // One consistent set: every node stopped (in order), copied in parallel, then all restarted.
    const facts = await Promise.all(nodes.map(preflight));
    const copied = await whileStopped(
      `copying the data directories of ${nodes.map((n) => n.name).join(', ')}`,
      timing,
      async () => {
        for (const node of nodes) await stop(node)();
      },
      async () => {
        await Promise.all(nodes.map((node) => start(node)()));
      },
      () => Promise.all(nodes.map((node, i) => copy(node, facts[i]!)())),
      (reason) => progress('starting apps', reason),
    );
    nodes.forEach((node, i) => records.push({ ...copied.result[i]!, node: node.name, facts: facts[i]!, stopWindow: copied.window }));
  }

  const verified: NodeBackupRecord[] = [];
  for (const [i, record] of records.entries()) {
    progress('verifying artifact', `${record.artifact.name}: checksum, archive listing${method === 'restic' ? ', restic check' : ''}`);
    const check = await nodeActivities(nodes[i]!.taskQueue, timing)
      .streaming.verifyDataDirectoryArtifact({
        storage,
        prefix,
        artifact: record.artifact,
        tarSha256: record.tarSha256,
        method,
        node: record.node,
        resticCheck: i === 0,
      })
      .catch((error: unknown) => {
        throw explainFailure(`verifying the uploaded data directory of ${record.node}`, error, `set ${setId} stays incomplete`);
      });
    verified.push({ ...record, verified: check.summary });
  }

  progress('writing manifest', prefix);
  const { workflowId, runId } = workflowInfo();
  const finishedAt = new Date();
  const { location } = await act
    .writeManifest({
      storage,
      prefix,
      manifest: {
        cluster,
        component: 'data-directory',
        setId,
        rabbitmqVersion: verified[0]?.facts.rabbitmqVersion ?? null,
        artifacts: verified.map((r) => r.artifact),
        workflow: { workflowId, runId },
        startedAt: startedAt.toISOString(),
        finishedAt: finishedAt.toISOString(),
        details: { method, mode: input.mode, nodes: verified },
      },
    })
    .catch((error: unknown) => {
      throw explainFailure('writing the manifest', error, `set ${setId} stays incomplete and is never offered for restore`);
    });
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
    })),
    startedAt: startedAt.toISOString(),
    finishedAt: finishedAt.toISOString(),
  };
}

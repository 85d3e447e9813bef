import { ApplicationFailure, CancellationScope, isCancellation, patched } from '@temporalio/workflow';
import type { z } from 'zod';
import type { NodeFacts } from '../lib/nodeAccess/rabbitNode';
import { DataDirectoryDetails, type DataDirectoryNodeRecord } from '../common/dataDirectoryDetails';
import { FailureType } from '../common/failures';
import { compactUtc } from '../common/names';
import { parseUntrusted, verifiedArtifactOrRefuse } from '../common/untrusted';
import { RestoreDataDirectoryInput, type RestoreDataDirectoryResult } from '../contracts/dataDirectory';
import { activitiesWithRetry, nodeActivities } from './toolkit/activities';
import { explainFailure } from './toolkit/failures';
import { parseWorkflowInput } from './toolkit/input';
import { withDataDirectoryLock } from './toolkit/lock';
import { trackProgress } from './toolkit/progress';
import { stopWindow, type SagaTiming } from './toolkit/saga';
import { membersLeftRunning, restoreWholeCluster } from './steps/wholeClusterRestore';
import { verifiedSetOrRefuse } from './toolkit/verifiedSet';

// The guide's "Recovery 5: full recovery from a Mnesia backup": checksums and
// archive safety first, refusals with the alternative, then per node
// stop_app → data directory aside → extract → ownership → start_app → verify;
// on failure the previous data directory is put back and the node started.
export async function restoreDataDirectory(rawInput: RestoreDataDirectoryInput): Promise<RestoreDataDirectoryResult> {
  const input = parseWorkflowInput(RestoreDataDirectoryInput, rawInput, 'restoreDataDirectory');
  // Runs started before the cluster lock existed replay without it.
  return patched('data-directory-lock') ? withDataDirectoryLock(input.cluster, () => restore(input)) : restore(input);
}

async function restore(input: z.output<typeof RestoreDataDirectoryInput>): Promise<RestoreDataDirectoryResult> {
  const progress = trackProgress();
  const act = activitiesWithRetry('dataDirectory', input.retry);
  const timing: SagaTiming = input;
  const { cluster, storage } = input;
  const sourceCluster = input.sourceCluster ?? cluster;

  progress('verifying checksums', `${sourceCluster} data-directory ${input.from}`);
  const set = await verifiedSetOrRefuse(act, { cluster: sourceCluster, component: 'data-directory', set: input.from, storage }, 'nothing was changed');
  const details = recordedDetails(set.manifest);
  if (input.method && input.method !== details.method) {
    throw ApplicationFailure.create({
      message: `invalid restoreDataDirectory input: method: set ${set.manifest.setId} was taken with method ${details.method}, not ${input.method}`,
      type: FailureType.InvalidInput,
      nonRetryable: true,
    });
  }
  const targets = await act.planDataDirectoryNodes({ cluster, nodes: input.nodes }).catch((error: unknown) => {
    throw explainFailure(`finding the nodes of cluster ${cluster}`, error);
  });

  // Everything is checked on every node before any node is stopped.
  const plans: Array<{ node: { name: string; taskQueue: string }; record: DataDirectoryNodeRecord; facts: NodeFacts }> = [];
  for (const node of targets) {
    progress('preflight', node.name);
    const record = details.nodes.find((r) => r.node === node.name);
    const facts = await nodeActivities('dataDirectory', node.taskQueue, timing).quick.inspectDataDirectoryNode({ cluster, node: node.name }).catch((error: unknown) => {
      throw explainFailure(`preflight of ${node.name}`, error, 'nothing was changed');
    });
    const outside = membersLeftRunning(facts, targets);
    if (outside.length > 0) {
      throw ApplicationFailure.create({
        message: `restore of ${targets.map((t) => t.name).join(', ')} refused, nothing was changed: ${node.name} is a member of a cluster with ${outside.join(', ')}, which this restore would leave running; a data directory put back under running peers diverges from them (they hold newer state), and RabbitMQ refuses or overwrites it. Alternatives: let ${node.name} re-sync from its peers (rabbitmqctl stop_app; rabbitmqctl reset; rabbitmqctl join_cluster ${outside[0]}; rabbitmqctl start_app), or restore the whole cluster together (configure every member under clusters.${cluster}.nodes and leave --nodes out)`,
        type: FailureType.DataDirectoryRestoreRefused,
        nonRetryable: true,
      });
    }
    const reason = refusal(record, facts, details.nodes);
    if (reason) {
      throw ApplicationFailure.create({
        message: `restore of set ${set.manifest.setId} into ${node.name} refused, nothing was changed: ${reason}. A data directory restores only to a node with the same node name and data-directory path (elsewhere quorum queues come up down). Alternative: restore definitions and messages instead (rabbitvault restore definitions --cluster ${cluster} --source-cluster ${sourceCluster} --from latest, then rabbitvault restore messages)`,
        type: FailureType.DataDirectoryRestoreRefused,
        nonRetryable: true,
      });
    }
    progress('checking archive', `${record!.artifact.name}: checksums, every entry safe to extract`);
    await nodeActivities('dataDirectory', node.taskQueue, timing)
      .streaming.verifyDataDirectoryArtifact({ storage: set.storage, prefix: set.prefix, artifact: record!.artifact, tarSha256: record!.tarSha256, tarBytes: record!.tarBytes, method: details.method, node: node.name })
      .catch((error: unknown) => {
        throw explainFailure(`checking the backup of ${node.name}`, error, 'nothing was changed, the node was not stopped');
      });
    plans.push({ node, record: record!, facts });
  }

  // Members of one real cluster go back together (RabbitMQ's cluster restart rules).
  if ((plans[0]?.facts.clusterNodes?.length ?? 0) > 1 && patched('whole-cluster-restore')) {
    return restoreWholeCluster({ cluster, sourceCluster, setId: set.manifest.setId, storage: set.storage, prefix: set.prefix, method: details.method, plans, timing, progress });
  }

  const restored: RestoreDataDirectoryResult['nodes'] = [];
  for (const { node, record, facts } of plans) {
    const a = nodeActivities('dataDirectory', node.taskQueue, timing);
    const ref = { cluster, node: node.name };
    const asidePath = `${facts.dataDirectory}.before-restore-${compactUtc(new Date())}`;
    const stoppedAt = new Date();
    try {
      progress('stopping app', node.name);
      await a.streaming.stopNodeApp(ref);
      progress('extracting', `${record.artifact.name} into ${facts.dataDirectory} (previous kept at ${asidePath})`);
      await CancellationScope.withTimeout(timing.downtimeLimitSeconds * 1000, () =>
        a.streaming.extractDataDirectory({
          ...ref,
          storage: set.storage,
          prefix: set.prefix,
          artifact: record.artifact,
          tarSha256: record.tarSha256,
          tarBytes: record.tarBytes,
          method: details.method,
          dataDirectory: facts.dataDirectory,
          asidePath,
        }),
      );
      progress('starting app', node.name);
      await a.restart.startNodeApp(ref);
      progress('verifying', `${node.name}: queues and message counts as in the manifest`);
      const check = await a.quick.verifyRestoredNode({ ...ref, expected: record.facts.queues, timeoutSeconds: 60 });
      restored.push({ node: node.name, ...check, stopWindow: stopWindow(stoppedAt, new Date()) });
    } catch (error) {
      progress('compensating', `${node.name}: putting the previous data directory back and starting the node`);
      const putBack = await CancellationScope.nonCancellable(async () => {
        const r = await a.restart.putBackDataDirectory({ ...ref, dataDirectory: facts.dataDirectory, asidePath });
        await a.restart.startNodeApp(ref);
        return r;
      }).catch((compensationError: unknown) => {
        throw explainFailure(`putting back the data directory of ${node.name}`, compensationError, `it may be at ${asidePath}`);
      });
      if (isCancellation(error)) throw error;
      const changed = `${restored.length ? `restored before: ${restored.map((r) => r.node).join(', ')}; ` : ''}${node.name}: ${putBack.putBack ? 'previous data directory put back, node restarted' : 'data directory untouched, node restarted'}`;
      throw explainFailure(`restoring the data directory of ${node.name}`, error, `changed: ${changed}`);
    }
    progress('cleaning up', `removing ${asidePath}`);
    await a.quick.removeAsideDataDirectory({ ...ref, asidePath });
  }
  progress('done', `${restored.length} node(s) restored from ${set.manifest.setId}`);
  return { cluster, sourceCluster, setId: set.manifest.setId, nodes: restored };
}

// The manifest's details, checked like everything read from storage: a record's
// artifact must be one the set verification hashed, never a name of its own.
function recordedDetails(manifest: { setId: string; details: unknown; artifacts: Array<{ name: string; size: number; sha256: string }> }): DataDirectoryDetails {
  const source = { set: manifest.setId, artifact: 'manifest.json details' };
  const details = parseUntrusted(DataDirectoryDetails, manifest.details, source);
  for (const record of details.nodes) verifiedArtifactOrRefuse(manifest, record.artifact, `the record of node ${record.node}`, source);
  return details;
}

// Why a backed-up data directory cannot go onto this node, or undefined if it can.
function refusal(record: DataDirectoryNodeRecord | undefined, target: NodeFacts, all: DataDirectoryNodeRecord[]): string | undefined {
  if (!record) return `the set has no data directory of node ${target.nodeName} (it has ${all.map((r) => r.node).join(', ')})`;
  if (record.facts.nodeName !== target.nodeName) return `the backup is of node ${record.facts.nodeName}, the target is ${target.nodeName}`;
  if (record.facts.dataDirectory !== target.dataDirectory) {
    return `the backup's data directory is ${record.facts.dataDirectory}, the target's is ${target.dataDirectory}`;
  }
  const [bMajor, bMinor] = record.facts.rabbitmqVersion.split('.');
  const [tMajor, tMinor] = target.rabbitmqVersion.split('.');
  if (bMajor !== tMajor || bMinor !== tMinor) {
    return `versions incompatible: the backup is of RabbitMQ ${record.facts.rabbitmqVersion}, the target runs ${target.rabbitmqVersion} (a data directory restores within the same release series)`;
  }
  const unknownFlags = record.facts.featureFlags.filter((f) => !target.featureFlags.includes(f));
  if (unknownFlags.length > 0) return `the backup has feature flags the target has not enabled: ${unknownFlags.join(', ')}`;
  return undefined;
}

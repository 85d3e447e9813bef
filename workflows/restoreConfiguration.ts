import { ApplicationFailure, CancellationScope, workflowInfo } from '@temporalio/workflow';
import type { z } from 'zod';
import type { PlannedConfigFile } from '../activities/configuration/configurationRestore';
import type { KubernetesRestorePlan } from '../lib/kubernetes/configMap';
import { ConfigurationDetails, type NodeConfigFile } from '../common/configurationDetails';
import { RestoreConfigurationInput, type RestoreConfigurationResult } from '../contracts/configuration';
import { FailureType } from '../common/failures';
import { compactUtc } from '../common/names';
import { parseUntrusted, verifiedArtifactOrRefuse } from '../common/untrusted';
import { activitiesWithRetry, nodeActivities } from './toolkit/activities';
import { describe, explainFailure } from './toolkit/failures';
import { parseWorkflowInput } from './toolkit/input';
import { withDataDirectoryLock } from './toolkit/lock';
import { trackProgress } from './toolkit/progress';
import type { SagaTiming } from './toolkit/saga';
import { verifiedSetOrRefuse } from './toolkit/verifiedSet';
import { applyConfigMap, type ConfigMapRef } from './steps/kubernetesConfigMap';

// The guide's "Restore Configuration": checksums verified first; per node a
// plan (identical / replace / create); the changed files written, each
// replaced file kept beside it as <file>.rabbitvault-before-<restore time>;
// with restart, the node stopped and started to read them, one node at a
// time. A node that does not come back gets its old files and is started
// again; the failure says which nodes were changed and which rolled back.
export async function restoreConfiguration(rawInput: RestoreConfigurationInput): Promise<RestoreConfigurationResult> {
  const input = parseWorkflowInput(RestoreConfigurationInput, rawInput, 'restoreConfiguration');
  const progress = trackProgress();
  const act = activitiesWithRetry('configuration', input.retry);
  const sourceCluster = input.sourceCluster ?? input.cluster;
  const restoreTag = compactUtc(new Date(workflowInfo().startTime));
  const timing = { downtimeLimitSeconds: input.nodeStartTimeoutSeconds, nodeStartTimeoutSeconds: input.nodeStartTimeoutSeconds, heartbeatTimeoutSeconds: input.heartbeatTimeoutSeconds, retry: input.retry };

  progress('verifying backup set', `${sourceCluster}/configuration/${input.from}`);
  const set = await verifiedSetOrRefuse(act, { storage: input.storage, cluster: sourceCluster, component: 'configuration', set: input.from }, 'no node was touched');
  // The details come from storage: strict schema, and every artifact they name is one the set verified.
  const source = { set: set.manifest.setId, artifact: 'manifest.json (details)' };
  const details = parseUntrusted(ConfigurationDetails, set.manifest.details, source);
  for (const n of details.nodes) for (const f of n.files) verifiedArtifactOrRefuse(set.manifest, { name: f.artifact }, `${f.path} of node ${n.node}`, source);
  const configMapArtifact = details.kubernetes && verifiedArtifactOrRefuse(set.manifest, { name: details.kubernetes.configMap.artifact }, `ConfigMap ${details.kubernetes.configMap.name}`, source);
  const inSet = details.nodes;
  const k8s = input.kubernetes ? details.kubernetes : undefined;
  const missing = (input.nodes ?? []).filter((n) => !inSet.some((s) => s.node === n));
  if (missing.length) {
    throw ApplicationFailure.create({
      message: `invalid restoreConfiguration input: nodes: ${missing.join(', ')} not in set ${set.manifest.setId} (it has ${inSet.map((s) => s.node).join(', ')}); no node was touched`,
      type: FailureType.InvalidInput,
      nonRetryable: true,
    });
  }
  const chosen = inSet.filter((s) => !input.nodes || input.nodes.includes(s.node));
  const queues = chosen.length
    ? await act.planDataDirectoryNodes({ cluster: input.cluster, nodes: chosen.map((c) => c.node) }).catch((error: unknown) => {
        throw explainFailure('finding the nodes in the target cluster', error, 'no node was touched');
      })
    : [];

  let configMap: { ref: ConfigMapRef; plan: KubernetesRestorePlan } | undefined;
  if (k8s) {
    progress('planning', `ConfigMap ${k8s.namespace}/${k8s.configMap.name}`);
    // Verified above whenever the set has Kubernetes details.
    const artifact = configMapArtifact!;
    const ref = { cluster: input.cluster, storage: set.storage, prefix: set.prefix, artifact: artifact.name, sha256: artifact.sha256 };
    const plan = await act.planKubernetesConfigMapRestore({ ...ref, restoreTag: restoreTag.toLowerCase(), statefulSet: k8s.statefulSet }).catch((error: unknown) => {
      throw explainFailure(`planning the restore of ConfigMap ${k8s.namespace}/${k8s.configMap.name}`, error, 'nothing was touched');
    });
    configMap = { ref, plan };
  }

  const plans: NodePlan[] = [];
  for (const [i, c] of chosen.entries()) {
    progress('planning', c.node);
    const taskQueue = queues[i]!.taskQueue;
    const plan = await nodeActivities('configuration', taskQueue, timing)
      .quick.planConfigurationRestore({ cluster: input.cluster, node: c.node, files: c.files, restoreTag, setId: set.manifest.setId })
      .catch((error: unknown) => {
        throw explainFailure(`planning the restore on ${c.node}`, error, 'no node was touched');
      });
    plans.push({ node: c.node, taskQueue, files: c.files, plan });
  }
  const result: RestoreConfigurationResult = {
    cluster: input.cluster,
    sourceCluster,
    setId: set.manifest.setId,
    dryRun: input.dryRun,
    nodes: plans.map((p) => ({ node: p.node, files: p.plan, restarted: false })),
    filesChanged: input.dryRun ? 0 : plans.reduce((sum, p) => sum + p.plan.filter((f) => f.action !== 'identical').length, 0),
    ...(configMap ? { kubernetes: { ...configMap.plan, namespace: k8s!.namespace, statefulSet: k8s!.statefulSet, restarted: false } } : {}),
  };
  if (input.dryRun) {
    progress('done', 'dry run: nothing written');
    return result;
  }

  // Restarting nodes takes the cluster's lock, like data-directory backups and restores: never two stoppers at once.
  const apply = async () => {
    // What is already restored, for the message of a later failure.
    const done: string[] = [];
    if (configMap && configMap.plan.action !== 'identical') {
      const restartedAt = new Date(workflowInfo().startTime).toISOString();
      const { restarted } = await applyConfigMap(act, configMap.ref, k8s!, configMap.plan, { restart: input.restart, restartedAt, progress });
      result.kubernetes!.restarted = restarted;
      done.push(`ConfigMap ${k8s!.namespace}/${configMap.plan.configMap}`);
    }
    await applyPlans({ input, set: { storage: set.storage, prefix: set.prefix }, plans, result, restoreTag, timing, progress, done });
  };
  await (input.restart ? withDataDirectoryLock(input.cluster, apply) : apply());
  progress('done', `${result.filesChanged} file(s) written`);
  return result;
}

type NodePlan = { node: string; taskQueue: string; files: NodeConfigFile[]; plan: PlannedConfigFile[] };

// Per node, one at a time: write, restart, check; a failing node is rolled back and the failure says what changed.
async function applyPlans({ input, set, plans, result, restoreTag, timing, progress, done }: {
  input: z.output<typeof RestoreConfigurationInput>;
  set: { storage: string; prefix: string };
  plans: NodePlan[];
  result: RestoreConfigurationResult;
  restoreTag: string;
  timing: SagaTiming;
  progress: (step: string, detail?: string) => void;
  done: string[];
}): Promise<void> {
  const changes = (plan: PlannedConfigFile[]) => plan.filter((p) => p.action !== 'identical').length;
  for (const [i, p] of plans.entries()) {
    if (changes(p.plan) === 0) continue;
    const node = nodeActivities('configuration', p.taskQueue, timing);
    const ref = { cluster: input.cluster, node: p.node };
    let stopping = false;
    try {
      progress('writing files', `${p.node}: ${changes(p.plan)} file(s)`);
      await node.quick.writeConfigurationFiles({ ...ref, storage: set.storage, prefix: set.prefix, files: p.files, plan: p.plan });
      if (input.restart) {
        progress('restarting', p.node);
        stopping = true;
        await node.streaming.stopNodeVm(ref);
        await node.restart.startNodeApp(ref);
        result.nodes[i]!.restarted = true;
      }
      const { differing } = await node.quick.checkConfigurationFiles({ ...ref, files: p.files });
      if (differing.length) throw ApplicationFailure.create({ message: `after the restore ${differing.join(', ')} still differ from the set`, type: FailureType.RestoreVerificationFailed, nonRetryable: true });
      done.push(p.node);
    } catch (error) {
      // Compensation, out of reach of a cancellation: the node's old files back, and the node running again.
      const undo = await CancellationScope.nonCancellable(async () => {
        const { putBack } = await node.quick.rollBackConfigurationFiles({ ...ref, files: p.files, plan: p.plan });
        // A node not yet stopped still runs with its old files in memory: it is left running.
        if (stopping) {
          await node.streaming.stopNodeVm(ref).catch(() => undefined);
          await node.restart.startNodeApp(ref);
        }
        return `${putBack.length} file(s) of ${p.node} put back${stopping ? ' and the node started with them' : ''}`;
      }).catch((undoError: unknown) => `putting back the files of ${p.node} failed too (${describe(undoError)}): the replaced files are kept as *.rabbitvault-before-${restoreTag}`);
      throw explainFailure(
        `restoring the configuration of ${p.node}`,
        error,
        `${undo}; ${done.length ? `already restored and left so: ${done.join(', ')}` : 'nothing else was changed'}`,
      );
    }
  }
}

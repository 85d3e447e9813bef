import { CancellationScope, isCancellation } from '@temporalio/workflow';
import type { DataDirectoryNodeRecord } from '../../common/dataDirectoryDetails';
import type { DataDirectoryMethod } from '../../common/dataDirectoryMethod';
import { compactUtc } from '../../common/names';
import type { RestoreDataDirectoryResult } from '../../contracts/dataDirectory';
import type { NodeFacts } from '../../lib/nodeAccess/rabbitNode';
import { nodeActivities } from '../toolkit/activities';
import { describe, explainFailure } from '../toolkit/failures';
import type { ReportProgress } from '../toolkit/progress';
import { allOrCancel, stopWindow, type SagaTiming } from '../toolkit/saga';

// Members of the node's cluster that are not among the restore's targets: a
// restore that would leave them running is refused.
export function membersLeftRunning(facts: NodeFacts, targets: Array<{ name: string }>): string[] {
  return (facts.clusterNodes ?? []).filter((member) => !targets.some((t) => t.name === member));
}

interface ClusterRestore {
  cluster: string;
  sourceCluster: string;
  setId: string;
  storage: string;
  prefix: string;
  method: DataDirectoryMethod;
  plans: Array<{ node: { name: string; taskQueue: string }; record: DataDirectoryNodeRecord; facts: NodeFacts }>;
  timing: SagaTiming;
  progress: ReportProgress;
}

// The guide's Recovery 5 for a real cluster, by RabbitMQ's cluster restart
// rules: every member stopped (one after the other), every data directory
// replaced, then every member started at once, so each finds its peers
// within the table-loading window (mnesia_table_loading_retry_timeout x
// retry_limit, 5 minutes by default) whichever stopped last. force_boot is
// never used: it is the operator's call. A failure puts back every
// member's previous data directory and starts them all together again.
export async function restoreWholeCluster(r: ClusterRestore): Promise<RestoreDataDirectoryResult> {
  const { cluster, plans, timing, progress } = r;
  const stamp = compactUtc(new Date());
  const on = (name: string) => nodeActivities('dataDirectory', plans.find((p) => p.node.name === name)!.node.taskQueue, timing);
  const asideOf = (p: ClusterRestore['plans'][number]) => `${p.facts.dataDirectory}.before-restore-${stamp}`;
  const names = plans.map((p) => p.node.name);
  const startAll = () => Promise.all(names.map((name) => on(name).restart.startNodeApp({ cluster, node: name })));
  const stopped: string[] = [];
  const stoppedAt = new Date();
  let startedAt = stoppedAt;
  try {
    for (const p of plans) {
      progress('stopping app', `${p.node.name} (${stopped.length + 1} of ${plans.length}; the whole cluster goes down together)`);
      stopped.push(p.node.name);
      await on(p.node.name).streaming.stopNodeApp({ cluster, node: p.node.name });
    }
    progress('extracting', `${names.join(', ')}: each previous data directory kept beside it (.before-restore-${stamp})`);
    await CancellationScope.withTimeout(timing.downtimeLimitSeconds * 1000, () =>
      allOrCancel(
        plans.map((p) => () =>
          on(p.node.name).streaming.extractDataDirectory({
            cluster,
            node: p.node.name,
            storage: r.storage,
            prefix: r.prefix,
            artifact: p.record.artifact,
            tarSha256: p.record.tarSha256,
            tarBytes: p.record.tarBytes,
            method: r.method,
            dataDirectory: p.facts.dataDirectory,
            asidePath: asideOf(p),
          }),
        ),
      ),
    );
    progress('starting apps', `${names.join(', ')} together: each waits for its peers while its tables load`);
    await startAll();
    startedAt = new Date();
    const nodes: RestoreDataDirectoryResult['nodes'] = [];
    for (const p of plans) {
      progress('verifying', `${p.node.name}: queues and message counts as in the manifest`);
      const check = await on(p.node.name).quick.verifyRestoredNode({ cluster, node: p.node.name, expected: p.record.facts.queues, timeoutSeconds: 60 });
      nodes.push({ node: p.node.name, ...check, stopWindow: stopWindow(stoppedAt, startedAt) });
    }
    progress('verifying', 'every quorum queue has a leader and every replica online');
    const quorum = await on(names[0]!).quick.checkQuorumReplicas({ cluster, node: names[0]!, timeoutSeconds: 120 });
    for (const p of plans) {
      progress('cleaning up', `${p.node.name}: removing ${asideOf(p)}`);
      await on(p.node.name).quick.removeAsideDataDirectory({ cluster, node: p.node.name, asidePath: asideOf(p) });
    }
    progress('done', `${plans.length} node(s) of ${cluster} restored together from ${r.setId}`);
    return { cluster, sourceCluster: r.sourceCluster, setId: r.setId, nodes, wholeCluster: { startedTogether: names, quorumQueues: quorum.quorumQueues, replicasOnline: quorum.replicas } };
  } catch (error) {
    progress('compensating', `${stopped.join(', ')}: putting each previous data directory back, then starting them together`);
    const outcome = await CancellationScope.nonCancellable(async () => {
      const putBack = await Promise.all(
        plans.filter((p) => stopped.includes(p.node.name)).map(async (p) => {
          const done = await on(p.node.name)
            .restart.putBackDataDirectory({ cluster, node: p.node.name, dataDirectory: p.facts.dataDirectory, asidePath: asideOf(p) })
            .then((x) => (x.putBack ? 'previous data directory put back' : 'data directory untouched'))
            .catch((e: unknown) => `NOT put back (${describe(e)}): it is at ${asideOf(p)}`);
          return `${p.node.name}: ${done}`;
        }),
      );
      const started = await Promise.all(names.map((name) => on(name).restart.startNodeApp({ cluster, node: name }).then(() => `${name} running`, (e: unknown) => `${name} NOT started (${describe(e)})`)));
      return `${putBack.join('; ')}; ${started.join(', ')}`;
    });
    if (isCancellation(error)) throw error;
    throw explainFailure(`restoring the data directories of ${cluster} together`, error, `changed: ${outcome}`);
  }
}

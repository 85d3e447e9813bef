import { defaultPayloadConverter } from '@temporalio/common';
import type { Client } from '@temporalio/client';
import type { RabbitvaultConfig } from '../../config/schema';
import { restoreWorkflowTypes } from '../schedules/componentWorkflows';

export interface RestoreInUse {
  workflowId: string;
  cluster: string;
  // undefined: every component (drills and validation restore the newest of each)
  component?: string;
  // A set id, or "latest".
  set: string;
}

// Running restores, found through Temporal visibility (no lock objects: a
// restore started from the Web UI or the Temporal CLI is seen too). The set is
// read from each run's input in its first history event.
export async function findRestoresInUse(client: Client, config: RabbitvaultConfig): Promise<RestoreInUse[]> {
  const restoreTypes = restoreWorkflowTypes(config);
  const types = [...restoreTypes.keys(), 'restoreDrill', 'validateBackups'];
  const query = `ExecutionStatus = 'Running' AND WorkflowType IN (${types.map((t) => `'${t}'`).join(', ')})`;
  const found: RestoreInUse[] = [];
  for await (const execution of client.workflow.list({ query })) {
    const history = await client.workflow.getHandle(execution.workflowId, execution.runId).fetchHistory();
    const payload = history.events?.[0]?.workflowExecutionStartedEventAttributes?.input?.payloads?.[0];
    const input = (payload ? defaultPayloadConverter.fromPayload(payload) : {}) as Record<string, unknown>;
    const str = (v: unknown) => (typeof v === 'string' ? v : undefined);
    if (execution.type === 'validateBackups') {
      const clusters = Array.isArray(input.clusters) ? (input.clusters as string[]) : Object.keys(config.clusters);
      clusters.forEach((cluster) => found.push({ workflowId: execution.workflowId, cluster, set: 'latest' }));
    } else if (execution.type === 'restoreDrill') {
      found.push({ workflowId: execution.workflowId, cluster: str(input.cluster) ?? '', set: 'latest' });
    } else {
      found.push({
        workflowId: execution.workflowId,
        cluster: str(input.sourceCluster) ?? str(input.cluster) ?? '',
        component: str(input.component) ?? restoreTypes.get(execution.type),
        set: str(input.from) ?? str(input.set) ?? 'latest',
      });
    }
  }
  return found;
}

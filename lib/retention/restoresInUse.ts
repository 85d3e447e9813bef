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

// The running restore that reads a set (by its id, or as the "latest" of its
// cluster+component, or a drill/validation of its cluster), if any.
export function restoreReading(prefix: string, inUse: RestoreInUse[]): RestoreInUse | undefined {
  const [cluster, component, setId] = prefix.split('/');
  return inUse.find((r) => r.cluster === cluster && (r.component === undefined || r.component === component) && (r.set === 'latest' || r.set === setId));
}

// Running restores, asked again right before each delete but at most once per
// intervalMs: a restore that started after the plan is seen within that
// interval, and thousands of deletes cost at most one visibility query per interval.
export class RestoreWatch {
  private inUse: RestoreInUse[] = [];
  private askedAt = -Infinity;
  queries = 0;

  constructor(
    private readonly ask: () => Promise<RestoreInUse[]>,
    private readonly intervalMs: number,
  ) {}

  async reading(prefix: string): Promise<RestoreInUse | undefined> {
    if (Date.now() - this.askedAt >= this.intervalMs) {
      // The answer is as old as the question: the interval counts from when it was asked.
      const askedAt = Date.now();
      this.inUse = await this.ask();
      this.askedAt = askedAt;
      this.queries += 1;
    }
    return restoreReading(prefix, this.inUse);
  }
}

import { WorkflowFailedError, type Client } from '@temporalio/client';
import type { Component } from '../../common/names';
import type { RabbitvaultConfig } from '../../config/schema';
import { componentWorkflow } from '../schedules/componentWorkflows';
import { webUiLink } from '../temporal/webUi';
import type { ComponentHealth, FailedRun } from './backupHealth';

// Names here come from the config's schema (ResourceName, Component, workflow
// type names), so they are safe inside a visibility query's quotes.
const quoted = (value: string) => `'${value.replace(/'/g, "\\'")}'`;

async function failureMessage(client: Client, workflowId: string, runId: string): Promise<string> {
  try {
    await client.workflow.getHandle(workflowId, runId, { followRuns: false }).result();
    return 'completed';
  } catch (error) {
    if (error instanceof WorkflowFailedError) return (error.cause as { message?: string } | undefined)?.message ?? error.message;
    return (error as Error).message;
  }
}

// A component's failed (or timed-out) backup runs that Temporal visibility
// still holds: all of them, those closed after the newest complete set, and
// the newest with its failure message (a workflow's failure names no secret:
// secrets are references resolved inside activities).
export async function failedRuns(
  config: RabbitvaultConfig,
  client: Client,
  { cluster, component, lastSuccessAt, withMessage }: { cluster: string; component: Component; lastSuccessAt?: string; withMessage: boolean },
): Promise<NonNullable<ComponentHealth['failures']>> {
  const type = componentWorkflow(config, component).backup;
  // This deployment's runs only (its task queue), as its schedules are.
  const query = `TaskQueue = ${quoted(config.temporal.taskQueue)} AND WorkflowType = ${quoted(type)} AND (ExecutionStatus = 'Failed' OR ExecutionStatus = 'TimedOut') AND RabbitvaultCluster = ${quoted(cluster)} AND RabbitvaultComponent = ${quoted(component)}`;
  const total = (await client.workflow.count(query)).count;
  if (total === 0) return { total: 0, sinceLastSuccess: 0 };
  const sinceQuery = lastSuccessAt ? `${query} AND CloseTime > ${quoted(lastSuccessAt)}` : query;
  const sinceLastSuccess = lastSuccessAt ? (await client.workflow.count(sinceQuery)).count : total;
  let newest: { workflowId: string; runId: string; closedAt: Date } | undefined;
  let looked = 0;
  for await (const run of client.workflow.list({ query, pageSize: 20 })) {
    const closedAt = run.closeTime ?? run.startTime;
    if (!newest || closedAt > newest.closedAt) newest = { workflowId: run.workflowId, runId: run.runId, closedAt };
    if (++looked >= 20) break;
  }
  if (!newest) return { total, sinceLastSuccess };
  const run: FailedRun = {
    workflowId: newest.workflowId,
    runId: newest.runId,
    closedAt: newest.closedAt.toISOString(),
    ...(withMessage ? { message: await failureMessage(client, newest.workflowId, newest.runId) } : {}),
    webUiUrl: webUiLink(config, newest.workflowId, newest.runId),
  };
  return { total, sinceLastSuccess, newest: run };
}

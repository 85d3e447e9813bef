import type { Client, WorkflowHandleWithFirstExecutionRunId, WorkflowOptions, WorkflowStartOptions } from '@temporalio/client';
import type { WorkflowInput, WorkflowName, WorkflowResult } from '../../contracts';

// A workflow as Temporal's client types it, read from its contract: a start's
// input and its handle's result type-check without loading workflow code.
export type ContractedWorkflow<N extends WorkflowName> = (input: WorkflowInput<N>) => Promise<WorkflowResult<N>>;

export type ContractedHandle<N extends WorkflowName> = WorkflowHandleWithFirstExecutionRunId<ContractedWorkflow<N>>;

// Starts a workflow by its type name with the input its contract takes.
export async function startWorkflow<N extends WorkflowName>(client: Client, workflowType: N, input: WorkflowInput<N>, options: WorkflowOptions): Promise<ContractedHandle<N>> {
  const start: WorkflowStartOptions<ContractedWorkflow<N>> = { ...options, args: [input] };
  return client.workflow.start<ContractedWorkflow<N>>(workflowType, start);
}

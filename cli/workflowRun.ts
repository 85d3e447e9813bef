import { Client, WorkflowFailedError, type Workflow, type WorkflowHandle, type WorkflowResultType } from '@temporalio/client';
import type { RabbitvaultConfig } from '../config/schema';
import { ClusterAttribute, ComponentAttribute } from '../common/searchAttributes';
import type { WorkflowInput, WorkflowName } from '../contracts';
import { connectClient } from '../lib/temporal/connection';
import { startWorkflow, type ContractedHandle } from '../lib/temporal/startWorkflow';
export { webUiLink } from '../lib/temporal/webUi';
import { progressLine, progressQuery, type Progress } from '../common/progress';

// One workflow start; the input is checked against the workflow's contract.
export interface StartRequest<N extends WorkflowName> {
  workflowType: N;
  workflowId: string;
  input: WorkflowInput<N>;
  cluster: string;
  component: string;
}

export async function openClient(config: RabbitvaultConfig): Promise<Client> {
  const connection = await connectClient(config).catch((error: Error) => {
    throw new Error(`cannot reach Temporal at ${config.temporal.address}: ${error.message}`);
  });
  return new Client({ connection, namespace: config.temporal.namespace });
}

// On the config's task queue, searchable in the Web UI by cluster and component.
export async function startSearchable<N extends WorkflowName>(client: Client, config: RabbitvaultConfig, request: StartRequest<N>): Promise<ContractedHandle<N>> {
  try {
    return await startWorkflow(client, request.workflowType, request.input, {
      taskQueue: config.temporal.taskQueue,
      workflowId: request.workflowId,
      typedSearchAttributes: [
        { key: ClusterAttribute, value: request.cluster },
        { key: ComponentAttribute, value: request.component },
      ],
    });
  } catch (error) {
    const message = (error as Error).message;
    if (/search attribute/i.test(message)) {
      throw new Error(
        `${message}: register rabbitvault's search attributes once with \`temporal operator search-attribute create --name RabbitvaultCluster --type Keyword --name RabbitvaultComponent --type Keyword\``,
      );
    }
    throw error;
  }
}

// Prints each new step as the workflow reports it, then returns its result.
// Without a printer (--json) it only waits; the poll's sleep ends with the result.
export async function follow<W extends Workflow>(handle: WorkflowHandle<W>, print?: (line: string) => void): Promise<WorkflowResultType<W>> {
  if (!print) return handle.result();
  let printed = 0;
  let done = false;
  let wake = () => undefined as void;
  // Prints the steps since the last poll from the workflow's step log; a final
  // poll after the result catches steps that finished between two polls.
  const printNew = (p: Progress | undefined) => {
    if (!p) return;
    const log = p.log ?? [progressLine(p.step, p.detail)];
    const fresh = log.slice(Math.max(0, log.length - (p.stepsDone - printed)));
    for (const line of fresh) if (line !== 'done' && !line.startsWith('done: ')) print(`  ... ${line}`);
    printed = p.stepsDone;
  };
  const poll = async () => {
    while (!done) {
      const p = await handle.query(progressQuery).catch(() => undefined as Progress | undefined);
      if (!done) printNew(p);
      await new Promise<void>((resolve) => {
        wake = resolve;
        setTimeout(resolve, 300);
      });
    }
  };
  const polling = poll();
  try {
    const result = await handle.result();
    done = true;
    printNew(await handle.query(progressQuery).catch(() => undefined));
    return result;
  } finally {
    done = true;
    wake();
    await polling;
  }
}

export function failureMessage(error: unknown): string {
  if (error instanceof WorkflowFailedError) {
    const cause = error.cause as { message?: string } | undefined;
    return cause?.message ?? error.message;
  }
  return (error as Error).message ?? String(error);
}

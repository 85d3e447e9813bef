// Compile time only (nothing imports this file, so it is never bundled):
// every exported workflow takes its contract's input and returns its
// contract's result, and every workflow has a contract. A workflow and the
// starts typed by contracts/ cannot drift apart.
import type { WorkflowContracts, WorkflowName } from '../contracts';
import type * as workflows from './index';

type Exported = typeof workflows;

type Implementations = { [N in WorkflowName]: (input: WorkflowContracts[N]['input']) => Promise<WorkflowContracts[N]['result']> };

// An error here names the workflow whose signature differs from its contract.
type Implements<T extends Implementations> = T;
export type EveryContractImplemented = Implements<Exported>;

// An error here: a workflow exported without a contract (add it to contracts/).
type NoneLeft<T extends never> = T;
export type EveryWorkflowContracted = NoneLeft<Exclude<keyof Exported, WorkflowName>>;

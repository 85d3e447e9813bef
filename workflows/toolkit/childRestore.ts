import { executeChild, workflowInfo } from '@temporalio/workflow';
import type { Component } from '../../common/names';
import { ClusterAttribute, ComponentAttribute } from '../../common/searchAttributes';
import { explainFailure } from './failures';

export interface ChildRestore {
  // The component's restore workflow type and the input configured for it (componentWorkflows).
  workflow: string;
  restoreInput: Record<string, unknown>;
  component: Component;
  sourceCluster: string;
  set: string;
  storage: string;
  // The cluster restored into: a drill's target or validation's throwaway cluster.
  into: string;
  // Appended to this workflow's id: `<id>-restore-<idSuffix>`.
  idSuffix: string;
}

// A set restored into another cluster by the component's own restore workflow,
// run as a child (searchable by cluster and component). A failed restore is an
// outcome to report, not this workflow's failure: it comes back as `failure`.
export async function restoreAsChild(r: ChildRestore): Promise<{ childId: string; failure?: string }> {
  const childId = `${workflowInfo().workflowId}-restore-${r.idSuffix}`;
  return executeChild(r.workflow, {
    workflowId: childId,
    args: [{ ...r.restoreInput, cluster: r.into, sourceCluster: r.sourceCluster, from: r.set, storage: r.storage }],
    typedSearchAttributes: [
      { key: ClusterAttribute, value: r.into },
      { key: ComponentAttribute, value: r.component },
    ],
  }).then(
    () => ({ childId }),
    (error: unknown) => ({ childId, failure: explainFailure(`restore into ${r.into}`, error).message }),
  );
}

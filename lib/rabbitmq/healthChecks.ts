import { ApplicationFailure } from '@temporalio/common';
import { FailureType } from '../../common/failures';
import type { ManagementApi } from './managementApi';

// A restore's preflight, the 4.x way (/api/health/checks/*, not the
// aliveness-test that is a no-op from 4.1): a target in a memory or disk
// alarm blocks publishers, a stopped vhost refuses declarations. Refused
// before anything on the target changes.
export async function refuseUnhealthyTarget(api: ManagementApi, untouched: string): Promise<void> {
  const failing = await api.failingHealthChecks();
  if (failing.length === 0) return;
  throw ApplicationFailure.create({
    message: `cluster ${api.clusterName} fails its health checks (${failing.join('; ')}): ${untouched}; clear the alarm or start what is down, then rerun`,
    type: FailureType.TargetUnhealthy,
    nonRetryable: true,
  });
}

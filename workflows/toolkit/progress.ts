import { setHandler } from '@temporalio/workflow';
import { PROGRESS_LOG_SIZE, progressLine, progressQuery, type Progress } from '../../common/progress';

import type { Failover } from '../../lib/rabbitmq/endpoints';

export type ReportProgress = (step: string, detail?: string) => void;

// Steps an operator can follow live (`--wait`, Web UI queries).
export function trackProgress(): ReportProgress {
  const current: Progress = { step: 'starting', stepsDone: 0, log: [] };
  setHandler(progressQuery, () => current);
  return (step, detail) => {
    current.stepsDone += 1;
    current.step = step;
    current.detail = detail;
    current.log = [...(current.log ?? []), progressLine(step, detail)].slice(-PROGRESS_LOG_SIZE);
  };
}

// A step that went on through another node of the cluster names the ones that did not answer.
export function reportFailover(progress: ReportProgress, what: string, failover: Failover | undefined): void {
  if (failover) progress('node skipped', `${what}: ${failover.unreachable.join('; ')}; went on through ${failover.via}`);
}

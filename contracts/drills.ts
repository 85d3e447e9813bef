import { z } from 'zod';
import { Component, ResourceName } from '../common/names';
import { retryField as retry } from './retry';

// Workflow type name: recorded in every history and schedule, never renamed.
export const DrillsWorkflow = { drill: 'restoreDrill' } as const;

export const RestoreDrillInput = z
  .object({
    cluster: ResourceName,
    // Drill target (default drills.targetCluster); never the source cluster.
    target: ResourceName.optional(),
    components: z.array(Component).optional(),
    storage: ResourceName.optional(),
    retry,
  })
  .strict()
  .refine((i) => i.target === undefined || i.target !== i.cluster, { message: 'must differ from cluster', path: ['target'] });
export type RestoreDrillInput = z.input<typeof RestoreDrillInput>;

export interface DrillComponent {
  component: Component;
  status: 'restored' | 'failed' | 'no-backups' | 'no-restore-workflow';
  setId?: string;
  setFinishedAt?: string;
  rpoSeconds?: number;
  rpoTargetSeconds: number;
  rpoMet?: boolean;
  restoreSeconds?: number;
  rtoTargetSeconds: number;
  rtoMet?: boolean;
  detail: string;
}

export interface DrillReport {
  cluster: string;
  target: string;
  storage?: string;
  startedAt: string;
  finishedAt: string;
  // RTO: the whole drill (verify + restore every component) against the guide's full-DR target.
  rtoSeconds: number;
  rtoTargetSeconds: number;
  passed: boolean;
  components: DrillComponent[];
}

export interface RestoreDrillResult extends DrillReport {
  reportJson: string;
  reportMarkdown: string;
}

export interface DrillsContracts {
  [DrillsWorkflow.drill]: { input: RestoreDrillInput; result: RestoreDrillResult };
}

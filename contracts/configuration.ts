import { z } from 'zod';
import type { PlannedConfigFile } from '../activities/configuration/configurationRestore';
import type { KubernetesRestorePlan } from '../lib/kubernetes/configMap';
import type { ConfigurationDetails } from '../common/configurationDetails';
import { NodeName, ResourceName, SetRef } from '../common/names';
import { retryField as retry } from './retry';

// Workflow type names: recorded in every history and schedule, never renamed.
export const ConfigurationWorkflow = { backup: 'backupConfiguration', restore: 'restoreConfiguration' } as const;

export const BackupConfigurationInput = z
  .object({
    cluster: ResourceName,
    storage: ResourceName.optional(),
    // Subset of the cluster's configured nodes (default: all, in config order).
    nodes: z.array(NodeName).min(1).optional(),
    retry,
  })
  .strict();
export type BackupConfigurationInput = z.input<typeof BackupConfigurationInput>;

export interface BackupConfigurationResult {
  cluster: string;
  setId: string;
  storage: string;
  location: string;
  nodes: ConfigurationDetails['nodes'];
  kubernetes?: ConfigurationDetails['kubernetes'];
  startedAt: string;
  finishedAt: string;
}

export const RestoreConfigurationInput = z
  .object({
    cluster: ResourceName,
    from: SetRef,
    sourceCluster: ResourceName.optional(),
    storage: ResourceName.optional(),
    // Nodes of the set to restore (default: every node in the set); each must be configured in the target cluster.
    nodes: z.array(NodeName).min(1).optional(),
    // The set's Kubernetes ConfigMap too, when it has one (kubectl apply; with restart, a rollout restart of the StatefulSet).
    kubernetes: z.boolean().default(true),
    // Plan only: which files differ from the set, nothing written.
    dryRun: z.boolean().default(false),
    // RabbitMQ reads its configuration files only when the Erlang VM starts:
    // restart stops and starts each changed node, one at a time, and rolls
    // the node's files back when it does not come up with them.
    restart: z.boolean().default(false),
    // How long a restarted node may take to run again.
    nodeStartTimeoutSeconds: z.number().positive().max(86400).default(600),
    // A worker that dies while it stops or starts a node is noticed after this
    // long without a heartbeat, and the step runs again on a live worker.
    heartbeatTimeoutSeconds: z.number().positive().max(3600).default(30),
    retry,
  })
  .strict();
export type RestoreConfigurationInput = z.input<typeof RestoreConfigurationInput>;

export interface RestoredNodeConfiguration {
  node: string;
  files: PlannedConfigFile[];
  // Whether the node was stopped and started to read the restored files.
  restarted: boolean;
}

export interface RestoreConfigurationResult {
  cluster: string;
  sourceCluster: string;
  setId: string;
  dryRun: boolean;
  nodes: RestoredNodeConfiguration[];
  // Files written on all nodes (replace + create).
  filesChanged: number;
  // The set's ConfigMap (Kubernetes): what was (or, in a dry run, would be) done, key names only.
  kubernetes?: KubernetesRestorePlan & { namespace: string; statefulSet: string; restarted: boolean };
}

export interface ConfigurationContracts {
  [ConfigurationWorkflow.backup]: { input: BackupConfigurationInput; result: BackupConfigurationResult };
  [ConfigurationWorkflow.restore]: { input: RestoreConfigurationInput; result: RestoreConfigurationResult };
}

import type { ActivityDeps } from '../deps';
import { createConfigurationBackupActivities } from './configurationBackup';
import { createConfigurationRestoreActivities } from './configurationRestore';
import { createKubernetesConfigurationBackupActivities } from './kubernetesConfigurationBackup';
import { createKubernetesConfigurationRestoreActivities } from './kubernetesConfigurationRestore';

// Configuration on the nodes' hosts: all but planConfigurationSources run on the node's own task queue.
export function createConfigurationActivities(deps: ActivityDeps) {
  return { ...createConfigurationBackupActivities(deps), ...createConfigurationRestoreActivities(deps) };
}

// Configuration on Kubernetes: on the main task queue.
export function createKubernetesConfigurationActivities(deps: ActivityDeps) {
  return { ...createKubernetesConfigurationBackupActivities(deps), ...createKubernetesConfigurationRestoreActivities(deps) };
}

import { uuid4 } from '@temporalio/workflow';
import type { CapturedNodeConfiguration } from '../activities/configuration/configurationBackup';
import type { ConfigurationDetails } from '../common/configurationDetails';
import { BackupConfigurationInput, type BackupConfigurationResult } from '../contracts/configuration';
import { setPrefix } from '../common/backupSetLayout';
import { newSetId } from '../common/names';
import { activitiesWithRetry, nodeActivities } from './toolkit/activities';
import { explainFailure } from './toolkit/failures';
import { parseWorkflowInput } from './toolkit/input';
import { writeSetManifest } from './toolkit/manifest';
import { trackProgress } from './toolkit/progress';

// The guide's "Configuration Backup". On Kubernetes: the release's ConfigMap,
// Secret and PVCs as the API returns them, its Helm values and chart info, and
// rabbitmq.conf / enabled_plugins extracted from the ConfigMap. For nodes on
// hosts: the files each node says it was started with (rabbitmq.conf and
// conf.d, advanced.config, enabled_plugins, rabbitmq-env.conf), byte for byte
// with mode and owner, read on the node's host by the worker serving its node
// task queue. Nothing is stopped. The manifest is written last.
export async function backupConfiguration(rawInput: BackupConfigurationInput): Promise<BackupConfigurationResult> {
  const input = parseWorkflowInput(BackupConfigurationInput, rawInput, 'backupConfiguration');
  const progress = trackProgress();
  const act = activitiesWithRetry('configuration', input.retry);
  const startedAt = new Date();
  const setId = newSetId(startedAt, uuid4());
  const prefix = setPrefix(input.cluster, 'configuration', setId);
  const timing = { downtimeLimitSeconds: 0, nodeStartTimeoutSeconds: 0, heartbeatTimeoutSeconds: 30, retry: input.retry };

  const sources = await act.planConfigurationSources({ cluster: input.cluster, nodes: input.nodes }).catch((error: unknown) => {
    throw explainFailure('planning what to read', error, 'nothing was read');
  });
  const incomplete = `set ${setId} stays incomplete and is never offered for restore`;
  let kubernetes: Awaited<ReturnType<typeof act.exportKubernetesConfiguration>> | undefined;
  if (sources.kubernetes) {
    progress('reading Kubernetes objects', 'ConfigMap, Secret, PersistentVolumeClaims, Helm release');
    kubernetes = await act.exportKubernetesConfiguration({ cluster: input.cluster, storage: input.storage, prefix }).catch((error: unknown) => {
      throw explainFailure(`reading the Kubernetes objects of ${input.cluster}`, error, incomplete);
    });
  }
  const captured: CapturedNodeConfiguration[] = [];
  for (const { name, taskQueue } of sources.nodes) {
    progress('reading configuration files', name);
    captured.push(
      await nodeActivities('configuration', taskQueue, timing)
        .quick.captureNodeConfiguration({ cluster: input.cluster, node: name, storage: input.storage, prefix })
        .catch((error: unknown) => {
          throw explainFailure(`reading the configuration files of ${name}`, error, incomplete);
        }),
    );
  }

  progress('writing manifest', prefix);
  const details: ConfigurationDetails = {
    nodes: captured.map(({ node, rabbitmqVersion, files }) => ({ node, rabbitmqVersion, files })),
    ...(kubernetes ? { kubernetes: kubernetes.details } : {}),
  };
  const finishedAt = new Date();
  const { location } = await writeSetManifest(act, {
    storage: input.storage,
    prefix,
    manifest: {
      cluster: input.cluster,
      component: 'configuration',
      setId,
      rabbitmqVersion: captured[0]?.rabbitmqVersion ?? kubernetes?.details.helm.appVersion ?? null,
      artifacts: [...(kubernetes?.artifacts ?? []), ...captured.flatMap((c) => c.artifacts)],
      startedAt: startedAt.toISOString(),
      finishedAt: finishedAt.toISOString(),
      details,
    },
  });
  progress('done', location);
  return {
    cluster: input.cluster,
    setId,
    storage: captured[0]?.storage ?? kubernetes!.storage,
    location,
    nodes: details.nodes,
    ...(details.kubernetes ? { kubernetes: details.kubernetes } : {}),
    startedAt: startedAt.toISOString(),
    finishedAt: finishedAt.toISOString(),
  };
}

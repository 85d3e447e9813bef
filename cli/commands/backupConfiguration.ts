import { backupConfigurationWorkflowId } from '../../common/workflowIds';
import { BackupConfigurationInput, ConfigurationWorkflow } from '../../contracts/configuration';
import { checkInput, parseFlags } from '../args';
import type { CliContext } from '../context';
import { runWorkflowCommand } from '../runWorkflowCommand';

const usage = 'usage: rabbitvault backup configuration --cluster NAME [--node NODE]... [--storage NAME] [--wait] [--json]';

export async function backupConfigurationCommand(ctx: CliContext, argv: string[]): Promise<number> {
  const { values } = parseFlags(
    argv,
    { cluster: { type: 'string' }, storage: { type: 'string' }, node: { type: 'string', multiple: true }, wait: { type: 'boolean', default: false } },
    usage,
  );
  const input = checkInput(BackupConfigurationInput, { cluster: values.cluster, storage: values.storage, nodes: values.node }, { cluster: '--cluster', storage: '--storage', nodes: '--node' });
  const { retry: _retry, ...workflowInput } = input;
  return runWorkflowCommand(
    ctx,
    {
      workflowType: ConfigurationWorkflow.backup,
      workflowId: backupConfigurationWorkflowId(input.cluster, new Date()),
      input: workflowInput,
      cluster: input.cluster,
      component: 'configuration',
    },
    { wait: values.wait, json: values.json },
    (r) => [
      `backed up the configuration of ${r.cluster}${r.kubernetes ? ` (Kubernetes release ${r.kubernetes.release} in ${r.kubernetes.namespace})` : ''} and ${r.nodes.length} node(s) on hosts: set ${r.setId} at ${r.location}`,
      ...(r.kubernetes
        ? [
            `  ConfigMap ${r.kubernetes.configMap.name} (${r.kubernetes.configMap.keys.join(', ')}), Secret ${r.kubernetes.secret.name} (${r.kubernetes.secret.keys.length} keys), PVCs ${r.kubernetes.persistentVolumeClaims.map((p) => p.name).join(', ') || 'none'}`,
            `  Helm ${r.kubernetes.helm.chart} revision ${r.kubernetes.helm.revision} (${r.kubernetes.helm.status}): ${r.kubernetes.helm.valuesArtifact}, ${r.kubernetes.helm.chartInfoArtifact}; extracted ${r.kubernetes.extracted.map((e) => e.key).join(', ') || 'nothing'}`,
          ]
        : []),
      ...r.nodes.flatMap((n) => [`  ${n.node} (RabbitMQ ${n.rabbitmqVersion}):`, ...n.files.map((f) => `    ${f.kind} ${f.path} (${f.size} bytes, mode ${f.mode} ${f.owner}:${f.group})`)]),
    ],
  );
}

import type { RabbitvaultConfig } from '../../config/schema';

// A workflow run's page in the Temporal Web UI (temporal.webUiUrl): the audit trail of every step.
export function webUiLink(config: RabbitvaultConfig, workflowId: string, runId: string): string {
  const base = config.temporal.webUiUrl.replace(/\/+$/, '');
  return `${base}/namespaces/${encodeURIComponent(config.temporal.namespace)}/workflows/${encodeURIComponent(workflowId)}/${runId}/history`;
}

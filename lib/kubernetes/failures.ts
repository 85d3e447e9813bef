import { ApplicationFailure } from '@temporalio/common';
import { FailureType } from '../../common/failures';

// ApiException of @kubernetes/client-node: `code` is the HTTP status. The body
// may echo the object: only its reason goes into the failure.
export function kubernetesFailure(error: unknown, what: string, field?: string): ApplicationFailure {
  const code = (error as { code?: number }).code;
  const reason = (() => {
    try {
      return (JSON.parse(String((error as { body?: unknown }).body)) as { message?: string }).message;
    } catch {
      return undefined;
    }
  })();
  if (code === 404) {
    return ApplicationFailure.create({ message: `${what} not found${field ? `: set ${field}` : ''}`, type: FailureType.KubernetesObjectNotFound, nonRetryable: true });
  }
  const detail = reason ?? (error as Error).message?.split('\n')[0]?.slice(0, 200) ?? String(error);
  if (code === 401 || code === 403) {
    return ApplicationFailure.create({ message: `${what}: the Kubernetes API refused the kubeconfig's credentials (${code}: ${detail})`, type: FailureType.AuthenticationFailed, nonRetryable: true });
  }
  return ApplicationFailure.create({ message: `${what}: ${code ? `HTTP ${code}: ` : ''}${detail}`, type: FailureType.KubernetesApiError });
}

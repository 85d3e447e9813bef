import { ApplicationFailure } from '@temporalio/common';
import { FailureType } from '../../common/failures';
import type { ClusterConfig } from '../../config/schema';
import { resolveSecret } from '../secrets/resolveSecret';

// user:password@ of any URL in a text: the config schema refuses credentials in
// URLs, and a message that reaches workflow history must not carry them anyway.
export function withoutUrlCredentials(text: string): string {
  return text.replace(/([a-z][a-z0-9+.-]*:\/\/)[^/\s@]*@/gi, '$1');
}

// The RabbitMQ management HTTP API of one cluster. Credentials are resolved
// here, inside the activity, and appear in no error message.
export class ManagementApi {
  private readonly baseUrl: string;
  // The base URL as messages show it (never with credentials).
  private readonly where: string;
  private readonly username: string;
  private readonly authorization: string;

  constructor(
    readonly clusterName: string,
    private readonly cluster: ClusterConfig,
  ) {
    this.baseUrl = cluster.management.url.replace(/\/+$/, '');
    this.where = withoutUrlCredentials(this.baseUrl);
    this.username = cluster.management.username;
    const password = resolveSecret(cluster.management.password, `clusters.${clusterName}.management.password`);
    this.authorization = `Basic ${Buffer.from(`${this.username}:${password}`).toString('base64')}`;
  }

  get url(): string {
    return this.where;
  }

  // Raw bytes as RabbitMQ produced them, so the artifact imports as is.
  async exportDefinitions(): Promise<Buffer> {
    const res = await this.request('GET', '/api/definitions');
    return Buffer.from(await res.arrayBuffer());
  }

  // RabbitMQ imports synchronously: 10,000 queues take 15-40 s on a small node,
  // so the import has its own, longer timeout. A resend after a timeout is safe
  // (the import is idempotent) and the restore re-verifies the target after it.
  async importDefinitions(body: Buffer): Promise<void> {
    await this.request('POST', '/api/definitions', body, this.cluster.management.importTimeoutSeconds);
  }

  async overview(): Promise<{ rabbitmq_version?: string; cluster_name?: string }> {
    const res = await this.request('GET', '/api/overview');
    return (await res.json()) as { rabbitmq_version?: string; cluster_name?: string };
  }

  // Any GET of the API as parsed JSON (queue listings for message backups).
  async getJson<T>(path: string): Promise<T> {
    const res = await this.request('GET', path);
    return (await res.json()) as T;
  }

  private async request(method: 'GET' | 'POST', path: string, body?: Buffer, timeoutSeconds = this.cluster.management.timeoutSeconds): Promise<Response> {
    const target = `${this.baseUrl}${path}`;
    let res: Response;
    try {
      res = await fetch(target, {
        method,
        headers: { authorization: this.authorization, ...(body ? { 'content-type': 'application/json' } : {}) },
        body,
        signal: AbortSignal.timeout(timeoutSeconds * 1000),
      });
    } catch (error) {
      const timedOut = (error as { name?: string }).name === 'TimeoutError';
      throw ApplicationFailure.create({
        message: timedOut
          ? `management API at ${this.where} did not answer ${method} ${path} within ${timeoutSeconds} s`
          : `management API unreachable at ${this.where}: ${withoutUrlCredentials(describeNetworkError(error))}`,
        type: FailureType.ManagementApiUnreachable,
      });
    }
    if (res.status === 401 || res.status === 403) {
      await res.body?.cancel();
      throw ApplicationFailure.create({
        message: `authentication failed for ${this.username} at ${this.where}${res.status === 403 ? ' (user lacks the administrator tag)' : ''}`,
        type: FailureType.AuthenticationFailed,
        nonRetryable: true,
      });
    }
    if (!res.ok) {
      const reason = (await res.text()).slice(0, 500);
      const retryable = res.status >= 500 || res.status === 429;
      throw ApplicationFailure.create({
        message: `${method} ${this.where}${path} answered ${res.status}: ${withoutUrlCredentials(reason)}`,
        type: method === 'POST' && !retryable ? FailureType.ImportRejected : FailureType.ManagementApiError,
        nonRetryable: !retryable,
      });
    }
    return res;
  }
}

function describeNetworkError(error: unknown): string {
  const e = error as { name?: string; message?: string; cause?: { code?: string; message?: string } };
  return e.cause?.code ?? e.cause?.message ?? e.message ?? String(error);
}

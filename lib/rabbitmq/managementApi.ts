import { ApplicationFailure } from '@temporalio/common';
import { FailureType } from '../../common/failures';
import type { ClusterConfig } from '../../config/schema';
import { serviceEndpoints, type PodEndpoint } from '../kubernetes/serviceTunnel';
import { resolveSecret } from '../secrets/resolveSecret';
import { endpointUrls, type Failover } from './endpoints';

// user:password@ of any URL in a text: the config schema refuses credentials in
// URLs, and a message that reaches workflow history must not carry them anyway.
export function withoutUrlCredentials(text: string): string {
  return text.replace(/([a-z][a-z0-9+.-]*:\/\/)[^/\s@]*@/gi, '$1');
}

// The RabbitMQ management HTTP API of one cluster. Credentials are resolved
// here, inside the activity, and appear in no error message. With one URL per
// node, a node that does not answer is skipped for the next one (every node of
// a cluster serves the whole cluster's API), and the skip is kept in `failover`.
// With management.via: kubernetes-service the nodes are the Service's ready
// pods, reached through the Kubernetes API server (lib/kubernetes/serviceTunnel.ts);
// the requests are the same.
export class ManagementApi {
  private baseUrls: string[];
  // How messages name each base URL, and why its last connection failed when the Kubernetes API said so.
  private labels: string[];
  private tunnelFailures: Array<PodEndpoint['failure'] | undefined> = [];
  private resolving?: Promise<void>;
  // The URL that answered last: tried first, so one dead node costs one failed connect per client.
  private current = 0;
  private readonly skipped = new Map<string, string>();
  private readonly username: string;
  private readonly authorization: string;

  constructor(
    readonly clusterName: string,
    private readonly cluster: ClusterConfig,
    // Told of each node skipped (progress, logs).
    private readonly onFailover?: (note: string) => void,
  ) {
    this.baseUrls = endpointUrls(cluster.management.url).map((u) => u.replace(/\/+$/, ''));
    this.labels = this.baseUrls.map(withoutUrlCredentials);
    const service = cluster.management.service;
    if (cluster.management.via === 'kubernetes-service' && service) {
      const ref = { name: service.name, port: service.port, namespace: service.namespace ?? cluster.kubernetes?.namespace ?? 'default' };
      this.labels = [`service ${ref.namespace}/${ref.name}:${ref.port} (through the Kubernetes API)`];
      this.resolving = (async () => {
        if (!cluster.kubernetes) {
          throw ApplicationFailure.create({ message: `management.via: kubernetes-service needs the cluster's kubeconfig: set clusters.${clusterName}.kubernetes`, type: FailureType.UnknownCluster, nonRetryable: true });
        }
        const pods = await serviceEndpoints(cluster.kubernetes, ref);
        this.baseUrls = pods.map((p) => p.baseUrl);
        this.labels = pods.map((p) => p.label);
        this.tunnelFailures = pods.map((p) => p.failure);
      })();
      // Read again by the first request; an unread rejection must not end the worker.
      this.resolving.catch(() => undefined);
    }
    this.username = cluster.management.username;
    const password = resolveSecret(cluster.management.password, `clusters.${clusterName}.management.password`);
    this.authorization = `Basic ${Buffer.from(`${this.username}:${password}`).toString('base64')}`;
  }

  // The base URL in use, as messages show it (never with credentials).
  get url(): string {
    return this.labels[this.current]!;
  }

  // Set once a node was skipped: which ones, why, and the node that answered.
  get failover(): Failover | undefined {
    if (this.skipped.size === 0) return undefined;
    return { unreachable: [...this.skipped].map(([url, reason]) => `${url}: ${reason}`), via: this.url };
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

  // GET /api/vhosts: each vhost with its description, tags and default queue type.
  async listVhosts(): Promise<unknown> {
    return (await this.request('GET', '/api/vhosts')).json();
  }

  // Creates the vhost with its metadata, or updates an existing one's
  // description and tags. 3.10 reads the default queue type as
  // "defaultqueuetype" and only when it creates the vhost; later versions read
  // "default_queue_type". Both are sent; each version ignores the other's.
  async putVhost(name: string, metadata: { description: string; tags: string[]; defaultQueueType?: string }): Promise<void> {
    const body = {
      description: metadata.description,
      tags: metadata.tags.join(','),
      ...(metadata.defaultQueueType ? { default_queue_type: metadata.defaultQueueType, defaultqueuetype: metadata.defaultQueueType } : {}),
    };
    await this.request('PUT', `/api/vhosts/${encodeURIComponent(name)}`, Buffer.from(JSON.stringify(body)));
  }

  // The 4.x way to ask whether a node can take traffic (aliveness-test is a
  // no-op from 4.1): /api/health/checks/{alarms,local-alarms,virtual-hosts,
  // protocol-listener/amqp}, all in RabbitMQ since 3.8.10. Returns each
  // failing check with RabbitMQ's reason; [] when healthy.
  async failingHealthChecks(): Promise<string[]> {
    const failing: string[] = [];
    for (const check of HEALTH_CHECKS) {
      try {
        await this.request('GET', `/api/health/checks/${check}`);
      } catch (error) {
        const failure = error as ApplicationFailure;
        if (failure.type !== FailureType.ManagementApiError || !/ answered 503: /.test(failure.message)) throw error;
        failing.push(`${check}: ${reasonOf(failure.message.slice(failure.message.indexOf(' answered 503: ') + 15))}`);
      }
    }
    return failing;
  }

  // A GET that answers null for 404 (an object, or a plugin's route, that is not there).
  async getJsonOrNull<T>(path: string): Promise<T | null> {
    try {
      return await this.getJson<T>(path);
    } catch (error) {
      if (/ answered 404: /.test((error as Error).message)) return null;
      throw error;
    }
  }

  async putJson(path: string, body: unknown): Promise<void> {
    await this.request('PUT', path, Buffer.from(JSON.stringify(body)));
  }

  // DELETE that is done when the object is already gone.
  async deleteIfPresent(path: string): Promise<boolean> {
    try {
      await this.request('DELETE', path);
      return true;
    } catch (error) {
      if (/ answered 404: /.test((error as Error).message)) return false;
      throw error;
    }
  }

  // Any GET of the API as parsed JSON (queue listings for message backups).
  async getJson<T>(path: string): Promise<T> {
    const res = await this.request('GET', path);
    return (await res.json()) as T;
  }

  private async request(method: 'GET' | 'POST' | 'PUT' | 'DELETE', path: string, body?: Buffer, timeoutSeconds = this.cluster.management.timeoutSeconds): Promise<Response> {
    await this.resolving;
    const reasons: string[] = [];
    for (let n = 0; n < this.baseUrls.length; n += 1) {
      const i = (this.current + n) % this.baseUrls.length;
      try {
        const res = await this.requestAt(i, method, path, body, timeoutSeconds);
        if (i !== this.current) {
          this.current = i;
          this.onFailover?.(`management API of ${this.clusterName}: went on through ${this.url} (${reasons.join('; ')})`);
        }
        return res;
      } catch (error) {
        // Only a node that does not answer is skipped: a refusal or an error
        // answered by RabbitMQ would be the same on every node.
        if ((error as ApplicationFailure).type !== FailureType.ManagementApiUnreachable || this.baseUrls.length === 1) throw error;
        const where = this.labels[i]!;
        const reason = (error as Error).message.replace(` at ${where}`, '');
        this.skipped.set(where, reason);
        reasons.push(`${where}: ${reason}`);
      }
    }
    throw ApplicationFailure.create({
      message: `management API of cluster ${this.clusterName} unreachable at every node: ${reasons.join('; ')}`,
      type: FailureType.ManagementApiUnreachable,
    });
  }

  private async requestAt(i: number, method: 'GET' | 'POST' | 'PUT' | 'DELETE', path: string, body: Buffer | undefined, timeoutSeconds: number): Promise<Response> {
    const baseUrl = this.baseUrls[i]!;
    const where = this.labels[i]!;
    let res: Response;
    try {
      res = await fetch(`${baseUrl}${path}`, {
        method,
        headers: { authorization: this.authorization, ...(body ? { 'content-type': 'application/json' } : {}) },
        body,
        signal: AbortSignal.timeout(timeoutSeconds * 1000),
      });
    } catch (error) {
      // The Kubernetes API's own answer (403 on pods/portforward, no kubelet) says more than a closed socket.
      const tunnelFailure = this.tunnelFailures[i]?.();
      if (tunnelFailure) throw tunnelFailure;
      const timedOut = (error as { name?: string }).name === 'TimeoutError';
      throw ApplicationFailure.create({
        message: timedOut
          ? `management API at ${where} did not answer ${method} ${path} within ${timeoutSeconds} s`
          : `management API unreachable at ${where}: ${withoutUrlCredentials(describeNetworkError(error))}`,
        type: FailureType.ManagementApiUnreachable,
      });
    }
    if (res.status === 401 || res.status === 403) {
      await res.body?.cancel();
      throw ApplicationFailure.create({
        message: `authentication failed for ${this.username} at ${where}${res.status === 403 ? ' (user lacks the administrator tag)' : ''}`,
        type: FailureType.AuthenticationFailed,
        nonRetryable: true,
      });
    }
    if (!res.ok) {
      const reason = (await res.text()).slice(0, 500);
      const retryable = res.status >= 500 || res.status === 429;
      throw ApplicationFailure.create({
        message: `${method} ${this.tunnelFailures.length ? `${path} at ${where}` : `${where}${path}`} answered ${res.status}: ${withoutUrlCredentials(reason)}`,
        type: method !== 'GET' && !retryable ? FailureType.ImportRejected : FailureType.ManagementApiError,
        nonRetryable: !retryable,
      });
    }
    return res;
  }
}

export const HEALTH_CHECKS = ['alarms', 'local-alarms', 'virtual-hosts', 'protocol-listener/amqp'] as const;

// {"status":"failed","reason":"..."} as RabbitMQ answers a failing check.
function reasonOf(body: string): string {
  try {
    const parsed = JSON.parse(body) as { reason?: unknown };
    if (typeof parsed.reason === 'string') return parsed.reason.slice(0, 300);
  } catch {
    // not JSON: the text itself
  }
  return body.slice(0, 300);
}

function describeNetworkError(error: unknown): string {
  const e = error as { name?: string; message?: string; cause?: { code?: string; message?: string } };
  return e.cause?.code ?? e.cause?.message ?? e.message ?? String(error);
}

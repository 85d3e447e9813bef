import net from 'node:net';
import { Writable } from 'node:stream';
import { ApplicationFailure } from '@temporalio/common';
import { FailureType } from '../../common/failures';
import type { KubernetesAccess } from '../../config/kubernetesSchema';
import { clientNode } from './client';

// The management API of a cluster on Kubernetes, reached with nothing but a
// kubeconfig: the Service's ready pods through the API server's
// pods/portforward (what `kubectl port-forward service/NAME` does). Not the
// API server's services/proxy: it removes the Authorization header once it has
// authenticated the caller (k8s.io/apiserver filters/authentication.go), and
// RabbitMQ reads its basic-auth credentials from that header only. A
// port-forward carries the HTTP bytes unchanged, Authorization included.

export interface ManagementServiceRef {
  name: string;
  port: number | string;
  namespace: string;
}

// One ready pod behind the Service, as the management client uses it.
export interface PodEndpoint {
  baseUrl: string;
  // "pod mq/mq-0:15672 (service rabbitmq, Kubernetes API https://...)": for messages, without credentials.
  label: string;
  // Why the last connection through this pod's tunnel failed, when the API server said so.
  failure(): ApplicationFailure | undefined;
}

type ClientNode = Awaited<ReturnType<typeof clientNode>>;
type KubeConfig = InstanceType<ClientNode['KubeConfig']>;

export async function serviceEndpoints(access: KubernetesAccess, service: ManagementServiceRef): Promise<PodEndpoint[]> {
  const k8s = await clientNode();
  const kc = new k8s.KubeConfig();
  if (access.kubeconfig === 'in-cluster') kc.loadFromCluster();
  else kc.loadFromFile(access.kubeconfig);
  if (access.context) kc.setCurrentContext(access.context);
  const server = kc.getCurrentCluster()?.server ?? 'unknown server';
  const pods = await readyPods(kc, k8s, service, server);
  return Promise.all(
    pods.map(async ({ pod, port }) => {
      const tunnel = await podTunnel(kc, `${access.kubeconfig}|${access.context ?? ''}|${server}`, service.namespace, pod, port);
      return { baseUrl: `http://127.0.0.1:${tunnel.localPort}`, label: `pod ${service.namespace}/${pod}:${port} (service ${service.name}, Kubernetes API ${server})`, failure: () => tunnel.failure };
    }),
  );
}

function forbidden(verb: string, resource: string, namespace: string, server: string): ApplicationFailure {
  return ApplicationFailure.create({
    message: `the Kubernetes API server ${server} refused "${verb} ${resource}" in namespace ${namespace} to the kubeconfig's user (403 Forbidden): grant it with an RBAC Role (docs/configuration.md#management-through-the-kubernetes-api)`,
    type: FailureType.AuthenticationFailed,
    nonRetryable: true,
  });
}

function apiFailure(error: unknown, verb: string, resource: string, service: ManagementServiceRef, server: string): ApplicationFailure {
  const code = (error as { code?: number }).code;
  if (code === 403) return forbidden(verb, resource, service.namespace, server);
  if (code === 404 && resource === 'services') {
    return ApplicationFailure.create({ message: `service ${service.name} not found in namespace ${service.namespace} (Kubernetes API ${server}): set management.service.name and namespace`, type: FailureType.KubernetesObjectNotFound, nonRetryable: true });
  }
  const detail = (error as Error).message?.split('\n')[0]?.slice(0, 200) ?? String(error);
  return ApplicationFailure.create({ message: `${verb} ${resource} in namespace ${service.namespace} (Kubernetes API ${server}): ${code ? `HTTP ${code}: ` : ''}${detail}`, type: FailureType.KubernetesApiError });
}

// The Service's port mapped to each ready pod's port through its EndpointSlices, as kube-proxy does.
async function readyPods(kc: KubeConfig, k8s: ClientNode, service: ManagementServiceRef, server: string): Promise<Array<{ pod: string; port: number }>> {
  const svc = await kc
    .makeApiClient(k8s.CoreV1Api)
    .readNamespacedService({ name: service.name, namespace: service.namespace })
    .catch((error: unknown) => Promise.reject(apiFailure(error, 'get', 'services', service, server)));
  const ports = svc.spec?.ports ?? [];
  const servicePort = ports.find((p) => p.port === service.port || p.name === service.port);
  if (!servicePort) {
    throw ApplicationFailure.create({
      message: `service ${service.name} in namespace ${service.namespace} has no port ${service.port} (it has ${ports.map((p) => `${p.port}${p.name ? `/${p.name}` : ''}`).join(', ') || 'none'}): set management.service.port`,
      type: FailureType.KubernetesObjectNotFound,
      nonRetryable: true,
    });
  }
  const slices = await kc
    .makeApiClient(k8s.DiscoveryV1Api)
    .listNamespacedEndpointSlice({ namespace: service.namespace, labelSelector: `kubernetes.io/service-name=${service.name}` })
    .catch((error: unknown) => Promise.reject(apiFailure(error, 'list', 'endpointslices.discovery.k8s.io', service, server)));
  const found = new Map<string, number>();
  let readyWithoutPod = 0;
  for (const slice of slices.items) {
    const port = slice.ports?.find((p) => (p.name ?? '') === (servicePort.name ?? ''))?.port;
    if (port === undefined) continue;
    // An endpoint whose readiness is unknown counts as ready (EndpointConditions).
    for (const e of slice.endpoints.filter((e) => e.conditions?.ready !== false)) {
      if (e.targetRef?.kind === 'Pod' && e.targetRef.name) found.set(e.targetRef.name, port);
      else readyWithoutPod += 1;
    }
  }
  if (found.size === 0) {
    throw ApplicationFailure.create({
      message: `service ${service.name} in namespace ${service.namespace} has no ready endpoints${readyWithoutPod ? ` that are pods (${readyWithoutPod} ready address(es) without a pod: a port-forward needs a pod)` : ' (no RabbitMQ pod behind it is ready)'}`,
      type: FailureType.ManagementApiUnreachable,
    });
  }
  return [...found].sort(([a], [b]) => a.localeCompare(b)).map(([pod, port]) => ({ pod, port }));
}

interface PodTunnel {
  localPort: number;
  failure?: ApplicationFailure;
}

// One loopback listener per pod and port for the worker's lifetime (like a
// long-running kubectl port-forward): each connection to it is one
// port-forward through the API server. Reused by every later activity.
const tunnels = new Map<string, Promise<PodTunnel>>();

function podTunnel(kc: KubeConfig, identity: string, namespace: string, pod: string, port: number): Promise<PodTunnel> {
  const key = `${identity}|${namespace}|${pod}|${port}`;
  let tunnel = tunnels.get(key);
  if (!tunnel) {
    tunnel = openTunnel(kc, namespace, pod, port);
    tunnels.set(key, tunnel);
    tunnel.catch(() => tunnels.delete(key));
  }
  return tunnel;
}

async function openTunnel(kc: KubeConfig, namespace: string, pod: string, port: number): Promise<PodTunnel> {
  const k8s = await clientNode();
  const server = kc.getCurrentCluster()?.server ?? 'unknown server';
  const tunnel: PodTunnel = { localPort: 0 };
  const listener = net.createServer((socket) => {
    let errorText = '';
    const errors = new Writable({
      write(chunk: Buffer, _encoding, done) {
        errorText += chunk.toString('utf8');
        done();
      },
    });
    socket.on('error', () => socket.destroy());
    new k8s.PortForward(kc, true)
      .portForward(namespace, pod, [port], socket, errors, socket)
      .then((ws) => {
        tunnel.failure = undefined;
        const socketOf = ws as unknown as { on(event: 'close', f: () => void): void; close(): void };
        socketOf.on('close', () => {
          if (errorText) tunnel.failure = forwardFailure(`port-forward to pod ${namespace}/${pod}:${port} failed in the pod: ${errorText.trim().slice(0, 300)}`);
          socket.end();
        });
        socket.on('close', () => socketOf.close());
      })
      .catch((error: unknown) => {
        tunnel.failure = upgradeFailure(error, namespace, pod, port, server);
        socket.destroy();
      });
  });
  listener.unref();
  await new Promise<void>((resolve, reject) => {
    listener.once('error', reject);
    listener.listen(0, '127.0.0.1', () => resolve());
  });
  tunnel.localPort = (listener.address() as net.AddressInfo).port;
  return tunnel;
}

function forwardFailure(message: string): ApplicationFailure {
  return ApplicationFailure.create({ message, type: FailureType.ManagementApiUnreachable });
}

// The ws library refuses an upgrade the API server did not grant with
// "Unexpected server response: <status>".
function upgradeFailure(error: unknown, namespace: string, pod: string, port: number, server: string): ApplicationFailure {
  const text = (error as { message?: string }).message ?? String(error);
  const status = Number(/Unexpected server response: (\d{3})/.exec(text)?.[1] ?? 0);
  if (status === 403) return forbidden('get', 'pods/portforward', namespace, server);
  if (status === 401) {
    return ApplicationFailure.create({ message: `the Kubernetes API server ${server} did not accept the kubeconfig's credentials (401)`, type: FailureType.AuthenticationFailed, nonRetryable: true });
  }
  if (status === 404) return forwardFailure(`pod ${namespace}/${pod} not found through the Kubernetes API ${server} (404): it went away since the Service was read`);
  return forwardFailure(`the Kubernetes API server ${server} could not open a port-forward to pod ${namespace}/${pod}:${port}${status ? ` (HTTP ${status}: the pod's kubelet did not answer, or the pod is not running)` : `: ${text.slice(0, 200)}`}`);
}

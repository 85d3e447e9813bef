// management.via: kubernetes-service against the test stack's real
// kube-apiserver: the Service is read, its EndpointSlices give the ready pods,
// and each request goes through pods/portforward. A pod on the stack's kwok
// node is forwarded to test node 0's management port, so a definitions backup
// and restore go through to RabbitMQ; a pod on a node without a kubelet shows
// the failure when the last hop cannot be made.
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { after, before, describe, test } from 'node:test';
import { RabbitvaultConfig } from '../config/schema';
import type { BackupDefinitionsResult, RestoreDefinitionsResult } from '../contracts/definitions';
import { clientNode } from '../lib/kubernetes/client';
import { clusterEntry, failureOf, historyText, startHarness, testConfig, workflowId, type Harness } from './support/harness';
import { testNode, testStack } from './support/stack';

const namespace = `rv-mgmt-${randomBytes(3).toString('hex')}`;
const password = `pw-${randomBytes(8).toString('hex')}`;
const node = `rv-no-kubelet-${randomBytes(3).toString('hex')}`;
const quick = { retry: { initialIntervalSeconds: 0.2, maximumIntervalSeconds: 0.5, maximumAttempts: 2 } };

async function kube() {
  const k8s = await clientNode();
  const kc = new k8s.KubeConfig();
  kc.loadFromFile(testStack().kubernetes.kubeconfig);
  return { core: kc.makeApiClient(k8s.CoreV1Api), discovery: kc.makeApiClient(k8s.DiscoveryV1Api) };
}

// A Service without selector and the EndpointSlice a controller would write for it: one pod, ready or not, listening on podPort.
async function serviceWithPod(k: Awaited<ReturnType<typeof kube>>, name: string, pod: string, ready: boolean, podPort = 15672): Promise<void> {
  await k.core.createNamespacedService({ namespace, body: { metadata: { name }, spec: { ports: [{ name: 'management', port: 15672, targetPort: podPort }] } } });
  await k.discovery.createNamespacedEndpointSlice({
    namespace,
    body: {
      metadata: { name: `${name}-1`, labels: { 'kubernetes.io/service-name': name } },
      addressType: 'IPv4',
      ports: [{ name: 'management', port: podPort, protocol: 'TCP' }],
      endpoints: [{ addresses: ['10.0.0.20'], conditions: { ready }, targetRef: { kind: 'Pod', name: pod, namespace } }],
    },
  });
}

describe('management API through the Kubernetes API server (real kube-apiserver)', () => {
  let h: Harness;
  let k: Awaited<ReturnType<typeof kube>>;
  const cluster = (service: string) => {
    const { management, amqp } = clusterEntry(testNode(0), `value:${password}`);
    return {
      management: { via: 'kubernetes-service', service: { name: service }, username: management.username, password: management.password, timeoutSeconds: 5 },
      amqp,
      kubernetes: { kubeconfig: testStack().kubernetes.kubeconfig, namespace, release: 'mq' },
    };
  };
  // Node 0's real credentials, through the Service whose pod kwok runs.
  const throughKwok = () => {
    const { management, amqp } = clusterEntry(testNode(0));
    return { ...cluster('rabbitmq-kwok'), management: { via: 'kubernetes-service', service: { name: 'rabbitmq-kwok' }, username: management.username, password: management.password, timeoutSeconds: 5 }, amqp };
  };
  const backup = async (clusterName: string) => {
    const id = workflowId('backup-via-kubernetes');
    const failure = await failureOf(h.client.workflow.execute('backupDefinitions', { taskQueue: h.config.temporal.taskQueue, workflowId: id, args: [{ cluster: clusterName, ...quick }] }));
    return { failure, history: await historyText(h, id) };
  };

  before(async () => {
    k = await kube();
    await k.core.createNamespace({ body: { metadata: { name: namespace } } });
    // No controller creates it on this stack; the pod's admission needs it.
    await k.core.createNamespacedServiceAccount({ namespace, body: { metadata: { name: 'default' } } });
    await serviceWithPod(k, 'rabbitmq-notready', 'mq-0', false);
    // Pod port 15673: kwok, which takes over every node (--manage-all-nodes), forwards only 15672.
    await serviceWithPod(k, 'rabbitmq', 'mq-0', true, 15673);
    // The pod's node has an address and a kubelet port where no kubelet listens (until kwok manages it).
    await k.core.createNode({ body: { metadata: { name: node }, status: { addresses: [{ type: 'InternalIP', address: '127.0.0.1' }], daemonEndpoints: { kubeletEndpoint: { Port: 1 } } } } });
    await k.core.createNamespacedPod({ namespace, body: { metadata: { name: 'mq-0' }, spec: { nodeName: node, containers: [{ name: 'rabbitmq', image: 'rabbitmq:4.1', ports: [{ containerPort: 15672 }] }] } } });
    // A pod kwok runs (its 15672 forwarded to test node 0's management port), Ready, behind its own Service.
    await k.core.createNamespacedPod({
      namespace,
      body: { metadata: { name: 'kwok-0' }, spec: { nodeName: testStack().kubernetes.node, automountServiceAccountToken: false, containers: [{ name: 'rabbitmq', image: 'rabbitmq:4.1', ports: [{ containerPort: 15672 }] }] } },
    });
    for (let i = 0; !(await k.core.readNamespacedPod({ namespace, name: 'kwok-0' })).status?.conditions?.some((c) => c.type === 'Ready' && c.status === 'True'); i++) {
      assert.ok(i < 120, 'pod kwok-0 became Ready (kwok)');
      await new Promise((r) => setTimeout(r, 250));
    }
    await serviceWithPod(k, 'rabbitmq-kwok', 'kwok-0', true);
    const base = testConfig({ a: clusterEntry(testNode(0)) });
    h = await startHarness(
      RabbitvaultConfig.parse({ ...base, clusters: { missing: cluster('no-such-service'), notready: cluster('rabbitmq-notready'), nokubelet: cluster('rabbitmq'), kwok: throughKwok() } }),
    );
  });
  after(async () => {
    await h?.stop();
    await k?.core.deleteNamespace({ name: namespace }).catch(() => undefined);
    await k?.core.deleteNode({ name: node }).catch(() => undefined);
  });

  test('config: via kubernetes-service needs service and no url; direct needs url', () => {
    const management = (m: Record<string, unknown>) => RabbitvaultConfig.safeParse({ storage: { default: 'l', targets: { l: { type: 'local', path: '/b' } } }, clusters: { c: { management: { username: 'u', password: 'env:P', ...m } } } });
    const issues = (m: Record<string, unknown>) => {
      const r = management(m);
      return r.success ? [] : r.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`);
    };
    assert.deepEqual(issues({ via: 'kubernetes-service', service: { name: 'rabbitmq' } }), []);
    const parsed = management({ via: 'kubernetes-service', service: { name: 'rabbitmq' } });
    assert.ok(parsed.success);
    assert.equal(parsed.data.clusters.c!.management.service!.port, 15672);
    assert.match(issues({ via: 'kubernetes-service' }).join('\n'), /clusters\.c\.management\.service: is needed with via: kubernetes-service/);
    assert.match(issues({ via: 'kubernetes-service', service: { name: 'r' }, url: 'http://r:15672' }).join('\n'), /clusters\.c\.management\.url: must not be set/);
    assert.match(issues({}).join('\n'), /clusters\.c\.management\.url: is needed/);
    assert.match(issues({ url: 'http://r:15672', service: { name: 'r' } }).join('\n'), /clusters\.c\.management\.service: is read only with via: kubernetes-service/);
  });

  test('a Service that does not exist: one clear failure naming it and its namespace, not retried', async () => {
    const { failure } = await backup('missing');
    assert.equal(failure.type, 'KubernetesObjectNotFound');
    assert.match(failure.message, new RegExp(`service no-such-service not found in namespace ${namespace}`));
  });

  test('a Service whose only pod is not ready: "has no ready endpoints"', async () => {
    const { failure } = await backup('notready');
    assert.equal(failure.type, 'ManagementApiUnreachable');
    assert.match(failure.message, new RegExp(`service rabbitmq-notready in namespace ${namespace} has no ready endpoints`));
  });

  // Without a kubelet the API server cannot reach the node; with the stack's
  // kwok as kubelet, kwok has no forward for port 15673 and says so on the
  // port-forward's error stream. Either way the failure names the pod.
  test('a ready pod whose port cannot be forwarded: the failure names the pod and why; no credential in the history', async () => {
    const { failure, history } = await backup('nokubelet');
    assert.equal(failure.type, 'ManagementApiUnreachable');
    assert.match(failure.message, new RegExp(`port-forward to pod ${namespace}/mq-0:15673`));
    const token = /token: (\S+)/.exec(readFileSync(testStack().kubernetes.kubeconfig, 'utf8'))?.[1];
    assert.ok(token);
    for (const secret of [password, Buffer.from(`guest:${password}`).toString('base64'), token]) assert.ok(!history.includes(secret), 'no credential in the workflow history');
  });

  // The round trip through the port-forward: a vhost and a queue backed up,
  // deleted, then restored with nothing but the kubeconfig and RabbitMQ's credentials.
  test('definitions backup and restore through the port-forward to a pod kwok runs: the deleted vhost and queue come back', async () => {
    const api = (path: string, init: RequestInit = {}) =>
      fetch(`${testNode(0).managementUrl}/api/${path}`, { ...init, headers: { authorization: `Basic ${Buffer.from('guest:guest').toString('base64')}`, 'content-type': 'application/json' } });
    const vhost = `rv-via-kwok-${randomBytes(3).toString('hex')}`;
    assert.ok((await api(`vhosts/${vhost}`, { method: 'PUT', body: '{}' })).ok);
    assert.ok((await api(`permissions/${vhost}/guest`, { method: 'PUT', body: JSON.stringify({ configure: '.*', write: '.*', read: '.*' }) })).ok);
    assert.ok((await api(`queues/${vhost}/orders`, { method: 'PUT', body: JSON.stringify({ durable: true, arguments: { 'x-queue-type': 'quorum' } }) })).ok);
    try {
      const backup = (await h.client.workflow.execute('backupDefinitions', { taskQueue: h.config.temporal.taskQueue, workflowId: workflowId('backup-through-kwok'), args: [{ cluster: 'kwok', ...quick }] })) as BackupDefinitionsResult;
      assert.ok(backup.counts.vhosts >= 2 && backup.counts.queues >= 1, JSON.stringify(backup.counts));
      assert.ok((await api(`vhosts/${vhost}`, { method: 'DELETE' })).ok);
      assert.equal((await api(`queues/${vhost}/orders`)).status, 404);
      const id = workflowId('restore-through-kwok');
      const restore = (await h.client.workflow.execute('restoreDefinitions', { taskQueue: h.config.temporal.taskQueue, workflowId: id, args: [{ cluster: 'kwok', from: backup.setId, onConflict: 'keep-target', ...quick }] })) as RestoreDefinitionsResult;
      assert.ok(restore.plan.create.some((e) => e.includes(vhost)), JSON.stringify(restore.plan.create));
      assert.equal(restore.verification?.ok, true);
      const queue = (await (await api(`queues/${vhost}/orders`)).json()) as { name: string; type: string };
      assert.deepEqual([queue.name, queue.type], ['orders', 'quorum']);
      assert.ok(!(await historyText(h, id)).includes(Buffer.from('guest:guest').toString('base64')), 'no credential in the workflow history');
    } finally {
      await api(`vhosts/${vhost}`, { method: 'DELETE' });
    }
  });
});

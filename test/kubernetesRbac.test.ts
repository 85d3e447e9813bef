// The shipped least-privilege Role (deploy/kubernetes/role.yaml), checked on
// the test stack's real kube-apiserver (RBAC): a ServiceAccount gets exactly
// its rules, and one worker runs with that token only (never the stack's
// system:masters kubeconfig) a definitions backup through
// management.via: kubernetes-service, a configuration backup of a Helm
// release, a data-directory backup of a pod over exec and a volume-snapshot
// backup. Then the same with one rule taken away: one clear, non-retryable
// Forbidden naming the verb and the resource.
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { parseAllDocuments } from 'yaml';
import { RabbitvaultConfig } from '../config/schema';
import type { BackupConfigurationResult } from '../contracts/configuration';
import type { BackupDataDirectoryResult } from '../contracts/dataDirectory';
import type { BackupDefinitionsResult } from '../contracts/definitions';
import type { BackupVolumeSnapshotResult } from '../contracts/volumeSnapshot';
import { clientNode } from '../lib/kubernetes/client';
import { installVolumeSnapshotCrds } from '../scripts/devstack/volumeSnapshotCrds';
import { appRunning, nodeEnv } from './dataDirectory.support';
import { clusterEntry, failureOf, startHarness, testConfig, workflowId, type Harness } from './support/harness';
import { apis, createHelmRelease, type TestKubernetes } from './support/kubernetesFixtures';
import { serviceAccountKubeconfig, type PolicyRule } from './support/kubernetesIdentity';
import { playSnapshotController, snapshotApi, type PlayedController } from './support/snapshotController';
import { testNode, testStack } from './support/stack';

const root = path.resolve(__dirname, '..');
const deployDir = path.join(root, 'deploy', 'kubernetes');
const namespace = `rv-rbac-${randomBytes(3).toString('hex')}`;
const snapshotClass = `rbac-snapclass-${randomBytes(3).toString('hex')}`;
const POD = 'mq-0';
const a = testNode(0); // where kwok's port-forward of every pod's 15672 lands
const b = testNode(1); // what an exec into the pod reaches
const retry = { initialIntervalSeconds: 0.5, maximumAttempts: 2 };

interface Manifest {
  kind: string;
  metadata: { name: string; namespace?: string };
  rules?: PolicyRule[];
  roleRef?: { kind: string; name: string };
  subjects?: Array<{ kind: string; name: string; namespace?: string }>;
  data?: Record<string, string>;
  spec?: { template: { spec: { serviceAccountName?: string; containers: Array<{ env?: Array<{ name: string }> }> } } };
}

function manifests(file: string): Manifest[] {
  return parseAllDocuments(readFileSync(path.join(deployDir, file), 'utf8')).map((d) => d.toJS() as Manifest);
}
const shipped = manifests('role.yaml');
const roleRules = shipped.find((m) => m.kind === 'Role')!.rules!;
const clusterRules = shipped.find((m) => m.kind === 'ClusterRole')!.rules!;

// The Role's rules without one resource: what a fault token lacks.
const without = (resource: string): PolicyRule[] =>
  roleRules.map((r) => ({ ...r, resources: r.resources.filter((x) => x !== resource) })).filter((r) => r.resources.length > 0);

// The first failed activity of a workflow: its step, attempt, failure type and whether it was non-retryable.
async function failedStep(h: Harness, id: string) {
  const events = (await h.client.workflow.getHandle(id).fetchHistory()).events ?? [];
  const failed = events.find((e) => e.activityTaskFailedEventAttributes)?.activityTaskFailedEventAttributes;
  assert.ok(failed, `workflow ${id} has a failed activity`);
  const scheduled = events.find((e) => Number(e.eventId) === Number(failed.scheduledEventId))?.activityTaskScheduledEventAttributes;
  const started = events.find((e) => Number(e.eventId) === Number(failed.startedEventId))?.activityTaskStartedEventAttributes;
  return {
    activity: scheduled?.activityType?.name,
    attempt: started?.attempt,
    type: failed.failure?.applicationFailureInfo?.type,
    nonRetryable: failed.failure?.applicationFailureInfo?.nonRetryable === true,
    message: failed.failure?.message ?? '',
  };
}

async function createPod(k: TestKubernetes, name: string): Promise<void> {
  await k.core.createNamespacedPod({
    namespace,
    body: {
      metadata: { name, labels: { app: 'rabbitmq' } },
      spec: { nodeName: testStack().kubernetes.node, automountServiceAccountToken: false, containers: [{ name: 'rabbitmq', image: 'rabbitmq:3.10-management', ports: [{ containerPort: 15672 }] }] },
    },
  });
  for (let i = 0; ; i++) {
    const pod = await k.core.readNamespacedPod({ namespace, name });
    if (pod.status?.conditions?.some((c) => c.type === 'Ready' && c.status === 'True')) return;
    assert.ok(i < 120, `pod ${name} became Ready (kwok)`);
    await new Promise((r) => setTimeout(r, 250));
  }
}

// The Service a Helm chart makes, and the EndpointSlice its controller would write (none runs here): the ready pod.
async function createService(name: string, pod: string): Promise<void> {
  const k8s = await clientNode();
  const kc = new k8s.KubeConfig();
  kc.loadFromFile(testStack().kubernetes.kubeconfig);
  const core = kc.makeApiClient(k8s.CoreV1Api);
  const discovery = kc.makeApiClient(k8s.DiscoveryV1Api);
  await core.createNamespacedService({ namespace, body: { metadata: { name }, spec: { selector: { app: 'rabbitmq' }, ports: [{ name: 'management', port: 15672, targetPort: 15672 }] } } });
  await discovery.createNamespacedEndpointSlice({
    namespace,
    body: {
      metadata: { name: `${name}-1`, labels: { 'kubernetes.io/service-name': name } },
      addressType: 'IPv4',
      ports: [{ name: 'management', port: 15672, protocol: 'TCP' }],
      endpoints: [{ addresses: ['10.0.0.30'], conditions: { ready: true }, targetRef: { kind: 'Pod', name: pod, namespace } }],
    },
  });
}

test('deploy/kubernetes: the Deployment runs as the ServiceAccount the bindings name, with a config that parses and whose env: references it sets', () => {
  const [, serviceAccount] = manifests('serviceaccount.yaml');
  assert.equal(serviceAccount?.kind, 'ServiceAccount');
  const bindings = manifests('rolebinding.yaml');
  const roleBinding = bindings.find((m) => m.kind === 'RoleBinding')!;
  const clusterBinding = bindings.find((m) => m.kind === 'ClusterRoleBinding')!;
  const role = shipped.find((m) => m.kind === 'Role')!;
  assert.deepEqual([roleBinding.roleRef, roleBinding.metadata.namespace], [{ apiGroup: 'rbac.authorization.k8s.io', kind: 'Role', name: role.metadata.name }, role.metadata.namespace]);
  assert.equal(clusterBinding.roleRef?.name, shipped.find((m) => m.kind === 'ClusterRole')!.metadata.name);
  for (const binding of [roleBinding, clusterBinding]) assert.deepEqual(binding.subjects, [{ kind: 'ServiceAccount', name: serviceAccount.metadata.name, namespace: serviceAccount.metadata.namespace }]);
  // Nothing broader than the code uses: no wildcard, no write to Secrets, no cluster-wide pods.
  for (const r of [...roleRules, ...clusterRules]) assert.ok(![...r.verbs, ...r.resources, ...r.apiGroups].includes('*'), JSON.stringify(r));
  assert.deepEqual(roleRules.find((r) => r.resources.includes('secrets'))?.verbs, ['get', 'list']);
  // The ClusterRole holds only cluster-scoped kinds: everything namespaced is in the Role.
  const clusterScoped = new Set(['volumesnapshotclasses', 'volumesnapshotcontents', 'persistentvolumes']);
  for (const resource of clusterRules.flatMap((r) => r.resources)) assert.ok(clusterScoped.has(resource), `${resource} in the ClusterRole is cluster-scoped`);

  const deployment = manifests('deployment.yaml');
  const configMap = deployment.find((m) => m.kind === 'ConfigMap')!;
  const workload = deployment.find((m) => m.kind === 'Deployment')!;
  assert.equal(workload.metadata.namespace, serviceAccount.metadata.namespace);
  assert.equal(workload.spec?.template.spec.serviceAccountName, serviceAccount.metadata.name);
  const text = configMap.data!['rabbitvault.yaml']!;
  const config = RabbitvaultConfig.parse(parseAllDocuments(text)[0]!.toJS());
  for (const cluster of Object.values(config.clusters)) {
    assert.equal(cluster.kubernetes?.kubeconfig, 'in-cluster');
    assert.equal(cluster.kubernetes?.namespace, role.metadata.namespace, 'the Role is in the namespace the config names');
  }
  const env = new Set(workload.spec!.template.spec.containers.flatMap((c) => (c.env ?? []).map((e) => e.name)));
  for (const [, name] of text.matchAll(/env:([A-Za-z_][A-Za-z0-9_]*)/g)) assert.ok(env.has(name!), `the Deployment sets ${name}`);
});

describe('the worker with the shipped Role\'s token only (real kube-apiserver, RBAC)', () => {
  let k: TestKubernetes;
  let h: Harness;
  let controller: PlayedController | undefined;
  const run = async <T>(type: string, input: Record<string, unknown>): Promise<T> => {
    try {
      return (await h.client.workflow.execute(type, { taskQueue: h.config.temporal.taskQueue, workflowId: workflowId(type), args: [input] })) as T;
    } catch (error) {
      throw new Error(`${type} failed: ${(await failureOf(Promise.reject(error))).message}`);
    }
  };
  const fails = async (type: string, input: Record<string, unknown>) => {
    const id = workflowId(`${type}-forbidden`);
    const failure = await failureOf(h.client.workflow.execute(type, { taskQueue: h.config.temporal.taskQueue, workflowId: id, args: [input] }));
    return { failure, step: await failedStep(h, id) };
  };

  before(async () => {
    k = await apis();
    await Promise.all([
      installVolumeSnapshotCrds(testStack().kubernetes.kubeconfig),
      b.reset(),
      // Namespace, ConfigMap, Secret, PVC data-mq-0, StatefulSet mq (1 replica) and two Helm revisions of release mq.
      createHelmRelease(k, namespace, { conf: 'loopback_users.guest = false\n', plugins: '[rabbitmq_management].\n', password: `pw-${randomBytes(6).toString('hex')}` }),
    ]);
    // No controller manager: the namespace's default ServiceAccount, as it would make it.
    await k.core.createNamespacedServiceAccount({ namespace, body: { metadata: { name: 'default' } } });
    await createPod(k, POD);
    await createService('rabbitmq', POD);
    await (await snapshotApi()).createClusterCustomObject({
      group: 'snapshot.storage.k8s.io',
      version: 'v1',
      plural: 'volumesnapshotclasses',
      body: { apiVersion: 'snapshot.storage.k8s.io/v1', kind: 'VolumeSnapshotClass', metadata: { name: snapshotClass }, driver: 'hostpath.csi.k8s.io', deletionPolicy: 'Delete' },
    });
    controller = await playSnapshotController(namespace);

    const [full, noExec, noForward, noSecrets] = await Promise.all([
      serviceAccountKubeconfig(k, namespace, 'rabbitvault', roleRules, clusterRules),
      serviceAccountKubeconfig(k, namespace, 'no-exec', without('pods/exec')),
      serviceAccountKubeconfig(k, namespace, 'no-portforward', without('pods/portforward')),
      serviceAccountKubeconfig(k, namespace, 'no-secrets', without('secrets')),
    ]);
    // "mq": the release, its management API through the Service; "pod": node b in pod mq-0, over exec.
    const viaService = (kubeconfig: string) => ({
      management: { via: 'kubernetes-service', service: { name: 'rabbitmq' }, username: 'guest', password: 'value:guest', timeoutSeconds: 5 },
      amqp: clusterEntry(a).amqp,
      kubernetes: { kubeconfig, namespace, release: 'mq', volumeSnapshotClass: snapshotClass },
    });
    const inPod = (kubeconfig: string) => ({
      ...clusterEntry(b),
      nodes: [
        {
          name: b.nodeName,
          access: { type: 'kubernetes', pod: POD, namespace, kubeconfig, rabbitmqctl: '/usr/lib/rabbitmq/bin/rabbitmqctl', rabbitmqServer: '/usr/lib/rabbitmq/bin/rabbitmq-server', env: nodeEnv(b) },
        },
      ],
    });
    const base = testConfig({ a: clusterEntry(a) });
    const config = RabbitvaultConfig.parse({
      ...base,
      clusters: { mq: viaService(full), pod: inPod(full), noexec: inPod(noExec), noforward: viaService(noForward), nosecrets: viaService(noSecrets) },
    });
    // No kubeconfig in the worker's config but the ServiceAccounts'.
    assert.ok(!JSON.stringify(config).includes(testStack().kubernetes.kubeconfig));
    h = await startHarness(config);
  });
  after(async () => {
    await controller?.stop();
    await h?.stop();
    if (!(await appRunning(b))) await b.ctl(['start_app']).catch(() => undefined);
    await b.reset();
    // Cluster-scoped objects; the namespace stays Terminating without a namespace controller (the stack's teardown removes it).
    await k?.rbac.deleteClusterRoleBinding({ name: `${namespace}-rabbitvault` }).catch(() => undefined);
    await k?.rbac.deleteClusterRole({ name: `${namespace}-rabbitvault` }).catch(() => undefined);
    await (await snapshotApi()).deleteClusterCustomObject({ group: 'snapshot.storage.k8s.io', version: 'v1', plural: 'volumesnapshotclasses', name: snapshotClass }).catch(() => undefined);
    await k?.core.deleteNamespace({ name: namespace }).catch(() => undefined);
  });

  test('definitions backup through management.via: kubernetes-service (Service, EndpointSlice, pods/portforward)', async () => {
    const r = await run<BackupDefinitionsResult>('backupDefinitions', { cluster: 'mq', retry });
    assert.ok(r.counts.users >= 1, JSON.stringify(r.counts));
    assert.equal(r.rabbitmqVersion?.split('.')[0], (await (await fetch(`${a.managementUrl}/api/overview`, { headers: { authorization: `Basic ${Buffer.from('guest:guest').toString('base64')}` } })).json() as { rabbitmq_version: string }).rabbitmq_version.split('.')[0]);
  });

  test('configuration backup of the Helm release (ConfigMap, Secret, PVC, release Secrets)', async () => {
    const r = await run<BackupConfigurationResult>('backupConfiguration', { cluster: 'mq', retry });
    assert.equal(r.kubernetes?.release, 'mq');
    assert.deepEqual(r.nodes, []);
  });

  test('data-directory backup of the pod over exec; the node runs after', async () => {
    const r = await run<BackupDataDirectoryResult>('backupDataDirectory', { cluster: 'pod', heartbeatTimeoutSeconds: 10, retry });
    assert.deepEqual(r.nodes.map((n) => n.node), [b.nodeName]);
    assert.ok(r.nodes[0]!.tarBytes > 0);
    assert.ok(await appRunning(b), 'the node runs after the backup');
  });

  test('volume-snapshot backup (VolumeSnapshotClasses, StatefulSet, PVCs, VolumeSnapshots, VolumeSnapshotContents) and verify', async () => {
    const r = await run<BackupVolumeSnapshotResult>('backupVolumeSnapshot', { cluster: 'mq', pollIntervalSeconds: 0.2, readyTimeoutSeconds: 30, retry });
    assert.deepEqual(r.snapshots.map((s) => s.persistentVolumeClaim), ['data-mq-0']);
    assert.match(r.snapshots[0]!.volumeSnapshotContent, /^snapcontent-/);
    const report = await run<{ ok: boolean; problems: unknown[] }>('verifyBackup', { cluster: 'mq', component: 'volume-snapshot', set: r.setId });
    assert.equal(report.ok, true, JSON.stringify(report.problems));
    assert.deepEqual(controller?.errors, []);
  });

  test('without pods/exec: one non-retryable Forbidden naming the verb and pods/exec; the node untouched', async () => {
    const { failure, step } = await fails('backupDataDirectory', { cluster: 'noexec', heartbeatTimeoutSeconds: 10, retry });
    assert.equal(failure.type, 'AuthenticationFailed', failure.message);
    assert.match(failure.message, new RegExp(`Forbidden: .* may not get/create pods/exec in namespace ${namespace} \\(exec into pod ${namespace}/${POD}\\); grant verbs "get" and "create" on resource "pods/exec"`));
    assert.deepEqual([step.attempt, step.nonRetryable, step.type], [1, true, 'AuthenticationFailed'], JSON.stringify(step));
    assert.ok(await appRunning(b), 'nothing was stopped');
  });

  test('without pods/portforward: one non-retryable failure naming "get pods/portforward" and the namespace', async () => {
    const { failure, step } = await fails('backupDefinitions', { cluster: 'noforward', retry });
    assert.equal(failure.type, 'AuthenticationFailed', failure.message);
    assert.match(failure.message, new RegExp(`refused "get pods/portforward" in namespace ${namespace}`));
    assert.deepEqual([step.attempt, step.nonRetryable], [1, true], JSON.stringify(step));
  });

  test('without secrets: the configuration backup fails at once, the API server\'s reason naming verb and resource', async () => {
    const { failure, step } = await fails('backupConfiguration', { cluster: 'nosecrets', retry });
    assert.equal(failure.type, 'AuthenticationFailed', failure.message);
    assert.match(failure.message, new RegExp(`Secret ${namespace}/mq: .*403.*cannot get resource "secrets"`));
    assert.deepEqual([step.attempt, step.nonRetryable], [1, true], JSON.stringify(step));
  });
});

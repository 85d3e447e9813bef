import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { copyFileSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { parse } from 'yaml';
import type { RabbitvaultConfig } from '../config/schema';
import type { BackupConfigurationResult, RestoreConfigurationResult } from '../contracts/configuration';
import { clusterEntry, failureOf, historyText, startHarness, testConfig, workflowId, type Harness } from './support/harness';
import { runCli } from './support/cli';
import { apis, createHelmRelease, type TestKubernetes } from './support/kubernetesFixtures';
import { scratchDir, testNode, testStack } from './support/stack';
import { writeConfigFile } from './support/workerProcess';

const namespace = `rv-${randomBytes(3).toString('hex')}`;
const password = `pw-${randomBytes(8).toString('hex')}`;
const conf = 'listeners.tcp.default = 5672\nmanagement.tcp.port = 15672\nvm_memory_high_watermark.relative = 0.6\n';
const plugins = '[rabbitmq_management,rabbitmq_peer_discovery_k8s,rabbitmq_prometheus].\n';
const quick = { retry: { initialIntervalSeconds: 0.5, maximumIntervalSeconds: 2, maximumAttempts: 3 } };


describe('configuration backup and restore on Kubernetes (Helm release; real kube-apiserver)', () => {
  let h: Harness;
  let config: RabbitvaultConfig;
  let core: TestKubernetes['core'];
  let appsApi: TestKubernetes['apps'];
  let backedUp: BackupConfigurationResult;
  const start = (type: string, input: unknown) => h.client.workflow.start(type, { taskQueue: h.config.temporal.taskQueue, workflowId: workflowId(type), args: [input] });
  const run = async <T>(type: string, input: unknown) => (await start(type, input)).result() as Promise<T>;
  const storedFile = (name: string) => path.join((config.storage.targets.local as { path: string }).path, 'k', 'configuration', backedUp.setId, name);
  const configMapData = async () => (await core.readNamespacedConfigMap({ name: 'mq', namespace })).data;

  before(async () => {
    ({ core, apps: appsApi } = await apis());
    await createHelmRelease({ core, apps: appsApi }, namespace, { conf, plugins, password });
    const base = testConfig({ k: clusterEntry(testNode(0)) });
    config = { ...base, clusters: { k: { ...base.clusters.k!, kubernetes: { kubeconfig: testStack().kubernetes.kubeconfig, namespace, release: 'mq' } } } };
    h = await startHarness(config);
  });
  after(async () => {
    await h?.stop();
    await core?.deleteNamespace({ name: namespace }).catch(() => undefined);
  });

  test("backup: ConfigMap, Secret, PVC, Helm values of the newest revision, chart info and the extracted files; no secret value in the workflow's history", async () => {
    const handle = await start('backupConfiguration', { cluster: 'k', ...quick });
    backedUp = (await handle.result()) as BackupConfigurationResult;
    const k8s = backedUp.kubernetes!;
    assert.equal(k8s.namespace, namespace);
    assert.deepEqual(k8s.configMap.keys, ['enabled_plugins', 'rabbitmq.conf']);
    assert.deepEqual(k8s.secret.keys, ['rabbitmq-erlang-cookie', 'rabbitmq-password']);
    assert.deepEqual(k8s.persistentVolumeClaims.map((p) => [p.name, p.storageClass, p.size]), [['data-mq-0', 'standard', '8Gi']]);
    assert.deepEqual([k8s.helm.revision, k8s.helm.chart, k8s.helm.status], [2, 'rabbitmq-16.0.2', 'deployed']);
    assert.deepEqual(parse(readFileSync(storedFile(k8s.helm.valuesArtifact), 'utf8')), { replicaCount: 3, auth: { username: 'admin', existingPasswordSecret: 'mq' } });
    assert.deepEqual(JSON.parse(readFileSync(storedFile(k8s.helm.chartInfoArtifact), 'utf8')), { name: 'mq', namespace, revision: '2', updated: '2026-11-22T10:00:00Z', status: 'deployed', chart: 'rabbitmq-16.0.2', app_version: '4.1.3' });
    assert.equal(readFileSync(storedFile('rabbitmq.conf'), 'utf8'), conf);
    assert.equal(readFileSync(storedFile('enabled_plugins'), 'utf8'), plugins);
    const secret = JSON.parse(readFileSync(storedFile('secret.json'), 'utf8')) as { data: Record<string, string>; metadata: Record<string, unknown> };
    assert.equal(Buffer.from(secret.data['rabbitmq-password']!, 'base64').toString(), password);
    assert.equal(secret.metadata.managedFields, undefined);
    const pvc = JSON.parse(readFileSync(storedFile('pvc-data-mq-0.json'), 'utf8')) as { spec: { resources: { requests: { storage: string } } } };
    assert.equal(pvc.spec.resources.requests.storage, '8Gi');
    const history = await historyText(h, handle.workflowId);
    assert.ok(history.includes('rabbitmq-password'), 'the history names the Secret keys');
    assert.ok(!history.includes(password) && !history.includes(Buffer.from(password).toString('base64')), 'the password is not in the history');
  });

  test('dry run: the changed keys of the ConfigMap, nothing written', async () => {
    await core.replaceNamespacedConfigMap({ name: 'mq', namespace, body: { metadata: { name: 'mq' }, data: { 'rabbitmq.conf': `${conf}log.console.level = debug\n`, enabled_plugins: plugins } } });
    const dry = await run<RestoreConfigurationResult>('restoreConfiguration', { cluster: 'k', from: 'latest', dryRun: true, ...quick });
    assert.equal(dry.kubernetes!.action, 'replace');
    assert.deepEqual(dry.kubernetes!.keysChanged, ['rabbitmq.conf']);
    assert.match((await configMapData())!['rabbitmq.conf']!, /log\.console\.level = debug/);
  });

  test('tampered artifact: refused before the cluster is touched', async () => {
    const file = storedFile('configmap.json');
    const good = readFileSync(file);
    writeFileSync(file, Buffer.concat([good, Buffer.from(' ')]));
    try {
      const failure = await failureOf(run('restoreConfiguration', { cluster: 'k', from: backedUp.setId, restart: true, ...quick }));
      assert.equal(failure.type, 'ManifestChecksumMismatch');
      assert.match((await configMapData())!['rabbitmq.conf']!, /log\.console\.level = debug/);
    } finally {
      writeFileSync(file, good);
    }
  });

  // Issue 10: a set rewritten (checksums matching) to name another ConfigMap or StatefulSet.
  test('forged set naming another ConfigMap or StatefulSet: ConfigurationPathRefused, nothing written or rolled', async () => {
    const setDir = path.dirname(storedFile('manifest.json'));
    const manifest = JSON.parse(readFileSync(storedFile('manifest.json'), 'utf8')) as {
      setId: string;
      artifacts: Array<{ name: string; size: number; sha256: string }>;
      details: { kubernetes: { statefulSet: string; configMap: { artifact: string } } };
    };
    const forgedDirs: string[] = [];
    const forge = (label: string, change: (m: typeof manifest, configMap: { metadata: { name: string } }) => void): string => {
      const setId = `${manifest.setId.slice(0, 16)}-${createHash('sha256').update(label).digest('hex').slice(0, 8)}`;
      const dir = path.join(path.dirname(setDir), setId);
      forgedDirs.push(dir);
      mkdirSync(dir, { recursive: true });
      for (const a of manifest.artifacts) copyFileSync(path.join(setDir, a.name), path.join(dir, a.name));
      const forged = structuredClone(manifest);
      forged.setId = setId;
      const configMap = JSON.parse(readFileSync(path.join(dir, 'configmap.json'), 'utf8')) as { metadata: { name: string } };
      change(forged, configMap);
      const bytes = Buffer.from(JSON.stringify(configMap));
      writeFileSync(path.join(dir, 'configmap.json'), bytes);
      const entry = forged.artifacts.find((a) => a.name === 'configmap.json')!;
      Object.assign(entry, { size: bytes.length, sha256: createHash('sha256').update(bytes).digest('hex') });
      writeFileSync(path.join(dir, 'manifest.json'), JSON.stringify(forged));
      return setId;
    };
    const before = await configMapData();
    const rolledBefore = (await appsApi.readNamespacedStatefulSet({ name: 'mq', namespace })).spec?.template?.metadata?.annotations;
    const cases: Array<[string, string, RegExp]> = [
      ['configmap', forge('configmap', (_m, cm) => (cm.metadata.name = 'kube-proxy')), /ConfigMap kube-proxy is not the one clusters\.k\.kubernetes names \(mq\)/],
      ['statefulset', forge('statefulset', (m) => (m.details.kubernetes.statefulSet = 'coredns')), /StatefulSet coredns is not the one clusters\.k\.kubernetes names \(mq\)/],
    ];
    try {
      for (const [label, setId, reason] of cases) {
        const failure = await failureOf(run('restoreConfiguration', { cluster: 'k', from: setId, restart: true, ...quick }));
        assert.equal(failure.type, 'ConfigurationPathRefused', `${label}: ${failure.message}`);
        assert.match(failure.message, reason);
      }
    } finally {
      // The forged sets would be "latest" for the tests after this one.
      for (const dir of forgedDirs) rmSync(dir, { recursive: true, force: true });
    }
    assert.deepEqual(await configMapData(), before, 'the ConfigMap is as it was');
    await assert.rejects(core.readNamespacedConfigMap({ name: 'kube-proxy', namespace }), 'no ConfigMap of the set\'s naming was created');
    assert.deepEqual((await appsApi.readNamespacedStatefulSet({ name: 'mq', namespace })).spec?.template?.metadata?.annotations, rolledBefore, 'the StatefulSet was not rolled');
  });

  test('restore with restart: ConfigMap data as backed up, the replaced one kept, the StatefulSet rolled (restartedAt)', async () => {
    const r = await run<RestoreConfigurationResult>('restoreConfiguration', { cluster: 'k', from: 'latest', restart: true, ...quick });
    assert.equal(r.kubernetes!.restarted, true);
    assert.deepEqual(await configMapData(), { 'rabbitmq.conf': conf, enabled_plugins: plugins });
    const kept = await core.readNamespacedConfigMap({ name: r.kubernetes!.previous!, namespace });
    assert.match(kept.data!['rabbitmq.conf']!, /log\.console\.level = debug/);
    const set = await appsApi.readNamespacedStatefulSet({ name: 'mq', namespace });
    assert.ok(Date.parse(set.spec!.template.metadata!.annotations!['kubectl.kubernetes.io/restartedAt']!) > Date.now() - 600_000);
    const again = await run<RestoreConfigurationResult>('restoreConfiguration', { cluster: 'k', from: 'latest', restart: true, ...quick });
    assert.equal(again.kubernetes!.action, 'identical');
    assert.equal(again.kubernetes!.restarted, false);
  });

  test('a deleted ConfigMap is created again', async () => {
    await core.deleteNamespacedConfigMap({ name: 'mq', namespace });
    const r = await run<RestoreConfigurationResult>('restoreConfiguration', { cluster: 'k', from: 'latest', ...quick });
    assert.equal(r.kubernetes!.action, 'create');
    assert.deepEqual(await configMapData(), { 'rabbitmq.conf': conf, enabled_plugins: plugins });
  });

  test('CLI: backup configuration and restore configuration --dry-run name the objects', async () => {
    const dir = scratchDir('kubernetes-cli');
    const file = writeConfigFile(config, path.join(dir, 'rabbitvault.yaml'));
    const backup = await runCli(['backup', 'configuration', '--cluster', 'k', '--wait', '--config', file], dir);
    assert.equal(backup.code, 0, backup.stderr);
    assert.match(backup.stdout, new RegExp(`backed up the configuration of k \\(Kubernetes release mq in ${namespace}\\) and 0 node\\(s\\) on hosts`));
    assert.match(backup.stdout, /ConfigMap mq \(enabled_plugins, rabbitmq\.conf\), Secret mq \(2 keys\), PVCs data-mq-0/);
    assert.match(backup.stdout, /Helm rabbitmq-16\.0\.2 revision 2 \(deployed\)/);
    assert.ok(!backup.stdout.includes(password));
    const dry = await runCli(['restore', 'configuration', '--cluster', 'k', '--from', 'latest', '--dry-run', '--wait', '--config', file], dir);
    assert.equal(dry.code, 0, dry.stderr);
    assert.match(dry.stdout, new RegExp(`ConfigMap ${namespace}/mq: identical`));
  });

  test('a release with persistence off (no PVC) backs up without one', async () => {
    // No controller here removes the pvc-protection finalizer: drop it so the delete completes.
    const pvc = await core.readNamespacedPersistentVolumeClaim({ name: 'data-mq-0', namespace });
    await core.replaceNamespacedPersistentVolumeClaim({ name: 'data-mq-0', namespace, body: { ...pvc, metadata: { ...pvc.metadata, finalizers: [] } } });
    await core.deleteNamespacedPersistentVolumeClaim({ name: 'data-mq-0', namespace });
    const r = await run<BackupConfigurationResult>('backupConfiguration', { cluster: 'k', ...quick });
    assert.deepEqual(r.kubernetes!.persistentVolumeClaims, []);
  });

  test('an object that is not there fails at once, naming the config field', async () => {
    await h.stop();
    const wrong = { ...config, clusters: { k: { ...config.clusters.k!, kubernetes: { ...config.clusters.k!.kubernetes!, secret: 'no-such-secret' } } } };
    h = await startHarness(wrong);
    const failure = await failureOf(run('backupConfiguration', { cluster: 'k', ...quick }));
    assert.equal(failure.type, 'KubernetesObjectNotFound');
    assert.match(failure.message, new RegExp(`Secret ${namespace}/no-such-secret not found: set clusters\\.k\\.kubernetes\\.secret`));
  });
});

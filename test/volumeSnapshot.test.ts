import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { existsSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import type { Manifest } from '../common/manifest';
import { VolumeSnapshotDetails } from '../common/volumeSnapshotDetails';
import type { RabbitvaultConfig } from '../config/schema';
import type { VerificationReport } from '../lib/backupSets/verify';
import type { BackupVolumeSnapshotResult } from '../contracts/volumeSnapshot';
import { installVolumeSnapshotCrds } from '../scripts/devstack/volumeSnapshotCrds';
import { appRunning, dataConfig, startDataHarness } from './dataDirectory.support';
import { runCli } from './support/cli';
import { failureOf, workflowId, type Harness } from './support/harness';
import { apis, type TestKubernetes } from './support/kubernetesFixtures';
import { playSnapshotController, snapshotApi, type PlayedController } from './support/snapshotController';
import { scratchDir, testNode, testStack } from './support/stack';
import { writeConfigFile } from './support/workerProcess';
import type { PruneBackupsResult } from '../contracts/retention';
import type { ValidationReport } from '../contracts/validation';

const namespace = `rv-snap-${randomBytes(3).toString('hex')}`;
const snapshotClass = `csi-snapclass-${randomBytes(3).toString('hex')}`;
const quick = { pollIntervalSeconds: 0.2, readyTimeoutSeconds: 30, retry: { initialIntervalSeconds: 0.5, maximumIntervalSeconds: 2, maximumAttempts: 3 } };
const api = { group: 'snapshot.storage.k8s.io', version: 'v1' };

// A StatefulSet with `replicas` pods and one PVC per pod named claim(i), as the chart or the operator leave them.
async function statefulSetWithClaims({ core, apps }: TestKubernetes, name: string, replicas: number, claim: (i: number) => string, template: string, claims = replicas): Promise<void> {
  for (let i = 0; i < claims; i++) {
    await core.createNamespacedPersistentVolumeClaim({ namespace, body: { metadata: { name: claim(i) }, spec: { accessModes: ['ReadWriteOnce'], storageClassName: 'csi-hostpath', resources: { requests: { storage: '8Gi' } } } } });
  }
  await apps.createNamespacedStatefulSet({
    namespace,
    body: {
      metadata: { name },
      spec: {
        replicas,
        serviceName: name,
        selector: { matchLabels: { app: name } },
        template: { metadata: { labels: { app: name } }, spec: { containers: [{ name: 'rabbitmq', image: 'rabbitmq:4.1' }] } },
        volumeClaimTemplates: [{ metadata: { name: template }, spec: { accessModes: ['ReadWriteOnce'], resources: { requests: { storage: '8Gi' } } } }],
      },
    },
  });
}

describe('volume-snapshot backup (the guide\'s Option A; real kube-apiserver with the VolumeSnapshot CRDs, the test plays the snapshot controller)', () => {
  const node = testNode(0);
  let h: Harness;
  let k: TestKubernetes;
  let controller: PlayedController;
  let backupsDir: string;
  const start = (input: unknown, id = 'snapshot') => h.client.workflow.start('backupVolumeSnapshot', { taskQueue: h.config.temporal.taskQueue, workflowId: workflowId(id), args: [input] });
  const run = async (input: unknown) => (await start(input)).result() as Promise<BackupVolumeSnapshotResult>;
  const manifestOf = (cluster: string, setId: string) => JSON.parse(readFileSync(path.join(backupsDir, cluster, 'volume-snapshot', setId, 'manifest.json'), 'utf8')) as Manifest;
  const snapshotsThere = async () => ((await (await snapshotApi()).listNamespacedCustomObject({ ...api, namespace, plural: 'volumesnapshots' })) as { items: Array<{ metadata: { name: string; labels?: Record<string, string> } }> }).items;

  before(async () => {
    process.env.RABBITVAULT_CACHE_DIR ??= scratchDir('snapshot-retention-cache');
    const started = Date.now();
    await installVolumeSnapshotCrds(testStack().kubernetes.kubeconfig);
    k = await apis();
    await k.core.createNamespace({ body: { metadata: { name: namespace } } });
    await (await snapshotApi()).createClusterCustomObject({ ...api, plural: 'volumesnapshotclasses', body: { apiVersion: `${api.group}/${api.version}`, kind: 'VolumeSnapshotClass', metadata: { name: snapshotClass }, driver: 'hostpath.csi.k8s.io', deletionPolicy: 'Delete' } });
    // The cluster operator's naming (3 replicas) for cluster "c", the Helm chart's (1 replica) for "helm".
    await statefulSetWithClaims(k, 'mq-server', 3, (i) => `persistence-mq-server-${i}`, 'persistence');
    await statefulSetWithClaims(k, 'hr', 1, (i) => `data-hr-${i}`, 'data');
    await statefulSetWithClaims(k, 'lonely', 2, (i) => `data-lonely-${i}`, 'data', 0);
    const base = dataConfig([node]);
    const kubernetes = { kubeconfig: testStack().kubernetes.kubeconfig, namespace, release: 'mq', volumeSnapshotClass: snapshotClass };
    const c = { ...base.clusters.c!, kubernetes };
    const { nodes: _nodes, ...withoutNodes } = c;
    const config = {
      ...base,
      retention: { ...base.retention, components: { 'volume-snapshot': { keepLast: 1 } } },
      clusters: {
        c,
        helm: { ...withoutNodes, nodes: [], kubernetes: { ...kubernetes, release: 'hr' } },
        noclass: { ...withoutNodes, nodes: [], kubernetes: { ...kubernetes, volumeSnapshotClass: 'csi-missing' } },
        nopvc: { ...withoutNodes, nodes: [], kubernetes: { ...kubernetes, release: 'lonely' } },
      },
    } as RabbitvaultConfig;
    backupsDir = (config.storage.targets.local as { path: string }).path;
    h = await startDataHarness(config);
    controller = await playSnapshotController(namespace);
    process.stderr.write(`volume-snapshot setup: ${Date.now() - started} ms\n`);
  });
  after(async () => {
    await controller?.stop();
    await h?.stop();
    // Without a namespace controller the namespace would stay Terminating: its objects are left to the stack's teardown.
    if (!(await appRunning(node))) await node.ctl(['start_app']).catch(() => undefined);
  });

  test('crash-consistent: 3 replicas with the operator naming, one ready snapshot per PVC, manifest, verify', async () => {
    const r = await run({ cluster: 'c', ...quick });
    assert.equal(r.consistent, false);
    assert.equal(r.stopWindow, undefined);
    assert.equal(r.statefulSet, 'mq-server');
    assert.deepEqual(
      r.snapshots.map((s) => [s.persistentVolumeClaim, s.pod, s.restoreSize]),
      [0, 1, 2].map((i) => [`persistence-mq-server-${i}`, `mq-server-${i}`, '8Gi']),
    );
    const there = await snapshotsThere();
    for (const s of r.snapshots) {
      const found = there.find((o) => o.metadata.name === s.name);
      assert.equal(found?.metadata.labels?.['rabbitvault.io/set-id'], r.setId, `${s.name} exists, labelled with the set`);
      assert.match(s.volumeSnapshotContent, /^snapcontent-/);
    }
    const manifest = manifestOf('c', r.setId);
    assert.equal(manifest.component, 'volume-snapshot');
    assert.match(manifest.rabbitmqVersion ?? '', /^\d+\.\d+/);
    const details = VolumeSnapshotDetails.parse(manifest.details);
    assert.deepEqual([details.namespace, details.statefulSet, details.volumeSnapshotClass, details.driver, details.naming, details.consistent], [namespace, 'mq-server', snapshotClass, 'hostpath.csi.k8s.io', 'operator', false]);
    assert.deepEqual(details.nodes, [node.nodeName]);
    assert.deepEqual(details.snapshots.map((s) => s.name), r.snapshots.map((s) => s.name));
    const record = JSON.parse(readFileSync(path.join(backupsDir, 'c', 'volume-snapshot', r.setId, 'volume-snapshots.json'), 'utf8')) as Array<{ volumeSnapshot: { status: { readyToUse: boolean } }; volumeSnapshotContent: { metadata: { name: string } } }>;
    assert.deepEqual(record.map((o) => [o.volumeSnapshot.status.readyToUse, o.volumeSnapshotContent.metadata.name]), r.snapshots.map((s) => [true, s.volumeSnapshotContent]));

    const verify = () => h.client.workflow.execute('verifyBackup', { taskQueue: h.config.temporal.taskQueue, workflowId: workflowId('verify'), args: [{ cluster: 'c', component: 'volume-snapshot', set: r.setId }] });
    const report = (await verify()) as VerificationReport;
    assert.equal(report.ok, true);
    // A snapshot deleted behind the set's back fails verify, naming it (the guide's Troubleshooting 4).
    await (await snapshotApi()).deleteNamespacedCustomObject({ ...api, namespace, plural: 'volumesnapshots', name: r.snapshots[1]!.name });
    const broken = await failureOf(verify());
    assert.match(broken.message, new RegExp(`VolumeSnapshot ${namespace}/${r.snapshots[1]!.name}: not found; VolumeSnapshots there: .*${r.snapshots[0]!.name} \\(ready`));
    assert.deepEqual(controller.errors, []);
  });

  test('consistent: every node stopped until the snapshots are cut, running again after, stop window recorded', async (t) => {
    const runningWhenSnapshotted: boolean[] = [];
    controller.onSeen = async () => {
      runningWhenSnapshotted.push(await appRunning(node));
    };
    try {
      const r = await run({ cluster: 'c', consistent: true, ...quick });
      assert.equal(r.consistent, true);
      assert.deepEqual(runningWhenSnapshotted, [false, false, false], 'the app was stopped when each snapshot was taken');
      assert.ok(await appRunning(node), 'RabbitMQ runs again after the backup');
      assert.ok(r.stopWindow && r.stopWindow.seconds > 0 && r.stopWindow.seconds < 60, `stop window ${JSON.stringify(r.stopWindow)}`);
      t.diagnostic(`stop window ${r.stopWindow.seconds.toFixed(1)} s (includes the played controller's three app checks)`);
      const details = manifestOf('c', r.setId).details as { consistent: boolean; stopWindow?: unknown };
      assert.equal(details.consistent, true);
      assert.deepEqual(details.stopWindow, r.stopWindow);
    } finally {
      controller.onSeen = undefined;
    }
  });

  test('a snapshot never ready: times out, the node is started again, the snapshots and the set removed', async () => {
    const before = (await snapshotsThere()).map((s) => s.metadata.name);
    const setsBefore = readdirSync(path.join(backupsDir, 'c', 'volume-snapshot'));
    controller.answer = 'never';
    try {
      const failure = await failureOf(start({ cluster: 'c', consistent: true, ...quick, readyTimeoutSeconds: 2 }).then((h) => h.result()));
      assert.equal(failure.type, 'VolumeSnapshotTimeout');
      assert.match(failure.message, /not cut \(no status\.creationTime\) by the deadline .*persistence-mq-server-0-.* \(no status yet\).*RabbitMQ was restarted.*VolumeSnapshots removed: persistence-mq-server-0-/);
    } finally {
      controller.answer = 'ready';
    }
    assert.ok(await appRunning(node), 'RabbitMQ runs again');
    assert.deepEqual((await snapshotsThere()).map((s) => s.metadata.name), before, 'no snapshot of the failed backup is left');
    assert.deepEqual(readdirSync(path.join(backupsDir, 'c', 'volume-snapshot')), setsBefore, 'no set was left');
  });

  test('the downtime limit reached while waiting for the cut: the wait is cancelled, the node started, the snapshots removed', async () => {
    const before = (await snapshotsThere()).map((s) => s.metadata.name);
    controller.answer = 'never';
    try {
      const failure = await failureOf(start({ cluster: 'c', consistent: true, ...quick, downtimeLimitSeconds: 3 }).then((h) => h.result()));
      assert.equal(failure.type, 'DowntimeLimitReached');
      assert.match(failure.message, /downtime limit of 3 s reached while the app was stopped.*RabbitMQ restarted.*; VolumeSnapshots removed: persistence-mq-server-0-/);
    } finally {
      controller.answer = 'ready';
    }
    assert.ok(await appRunning(node), 'RabbitMQ runs again');
    assert.deepEqual((await snapshotsThere()).map((s) => s.metadata.name), before, 'no snapshot of the failed backup is left');
  });

  test("the controller's status.error is the failure; crash-consistent, nothing stopped", async () => {
    controller.answer = { error: 'Failed to check and update snapshot content: rpc error: code = Internal desc = disk full' };
    try {
      const failure = await failureOf(start({ cluster: 'c', ...quick }).then((h) => h.result()));
      assert.equal(failure.type, 'VolumeSnapshotFailed');
      assert.match(failure.message, /VolumeSnapshot .*\/persistence-mq-server-\d-.* of persistence-mq-server-\d: Failed to check and update snapshot content: .*disk full; VolumeSnapshots removed: /);
    } finally {
      controller.answer = 'ready';
    }
  });

  test('the Helm chart naming (data-<release>-N) is found; through the CLI', async () => {
    const dir = scratchDir('snapshot-cli');
    const file = writeConfigFile(h.config, path.join(dir, 'rabbitvault.yaml'));
    const cli = await runCli(['backup', 'snapshot', '--cluster', 'helm', '--ready-timeout', '30', '--wait', '--config', file], dir);
    assert.equal(cli.code, 0, cli.stderr);
    const setId = /set (\d{8}T\d{6}Z-[0-9a-f]{8}) at /.exec(cli.stdout)?.[1];
    assert.match(cli.stdout, new RegExp(`snapshotted 1 PVC\\(s\\) of ${namespace}/hr \\(class ${snapshotClass}, crash-consistent\\): set `));
    assert.match(cli.stdout, /^ {2}data-hr-0 \(hr-0\): VolumeSnapshot data-hr-0-\d{8}t\d{6}z-[0-9a-f]{8}, content snapcontent-.*, restoreSize 8Gi$/m);
    assert.equal(VolumeSnapshotDetails.parse(manifestOf('helm', setId!).details).naming, 'helm');
    const usage = await runCli(['backup', 'snapshot', '--config', file], dir);
    assert.notEqual(usage.code, 0);
    assert.match(usage.stderr, /--cluster/);
  });

  test('retention deletes the VolumeSnapshots of a pruned set; validation checks the newest set\'s are ready', async () => {
    const execute = <T>(type: string, input: unknown) => h.client.workflow.execute(type, { taskQueue: h.config.temporal.taskQueue, workflowId: workflowId(type), args: [input] }) as Promise<T>;
    const older = await run({ cluster: 'helm', ...quick });
    // Set ids sort by their second: the newer one is a second later.
    await new Promise((r) => setTimeout(r, 1100));
    const newer = await run({ cluster: 'helm', ...quick });
    const pruned = await execute<PruneBackupsResult>('pruneBackups', { storages: ['local'], clusters: ['helm'], components: ['volume-snapshot'], dryRun: false });
    assert.ok(pruned.storages[0]!.deleted.some((d) => d.setId === older.setId), 'the older set is pruned');
    assert.ok(!pruned.storages[0]!.deleted.some((d) => d.setId === newer.setId), 'the newest set stays');
    const names = (await snapshotsThere()).map((s) => s.metadata.name);
    assert.ok(!names.includes(older.snapshots[0]!.name), 'the pruned set\'s VolumeSnapshot is deleted');
    assert.ok(names.includes(newer.snapshots[0]!.name), 'the kept set\'s VolumeSnapshot stays');

    const validate = () => execute<ValidationReport>('validateBackups', { clusters: ['helm'], components: ['volume-snapshot'], storage: 'local', restoreInto: null });
    const report = await validate();
    assert.equal(report.results[0]!.setId, newer.setId);
    assert.ok(report.results[0]!.checks.some((c) => c.check === 'snapshots ready' && c.ok), JSON.stringify(report.results[0]!.checks));
    await (await snapshotApi()).deleteNamespacedCustomObject({ ...api, namespace, plural: 'volumesnapshots', name: newer.snapshots[0]!.name });
    const failed = await failureOf(validate());
    assert.match(failed.message, new RegExp(`snapshots ready.*VolumeSnapshot ${namespace}/${newer.snapshots[0]!.name}: not found`));
  });

  test('preflight: a missing class lists the classes that exist; missing PVCs list the PVCs there; bad input names the field', async () => {
    const noClass = await failureOf(run({ cluster: 'noclass', ...quick }));
    assert.equal(noClass.type, 'KubernetesObjectNotFound');
    assert.match(noClass.message, new RegExp(`VolumeSnapshotClass csi-missing not found; VolumeSnapshotClasses that exist: .*${snapshotClass} \\(driver hostpath.csi.k8s.io\\).*: set clusters.noclass.kubernetes.volumeSnapshotClass; nothing was stopped or created`));
    const noPvc = await failureOf(run({ cluster: 'nopvc', ...quick }));
    assert.match(noPvc.message, /the PVCs of StatefulSet .*\/lonely \(2 replicas\) were not found: looked for data-lonely-0\.\.1, persistence-lonely-server-0\.\.1; PVCs there: data-hr-0, persistence-mq-server-0, persistence-mq-server-1, persistence-mq-server-2: set clusters.nopvc.kubernetes.persistentVolumeClaims/);
    const invalid = await failureOf(run({ cluster: 'c', consistent: 'yes' }));
    assert.equal(invalid.type, 'InvalidInput');
    assert.match(invalid.message, /consistent/);
    assert.ok(!existsSync(path.join(backupsDir, 'noclass')) && !existsSync(path.join(backupsDir, 'nopvc')), 'no set was started');
  });

  // The replay test's input: `RECORD_HISTORIES=1 npm test -- test/volumeSnapshot.test.ts` after an intended, patched() change.
  // Registered only when asked: not a skipped test in the default run.
  if (process.env.RECORD_HISTORIES)
  test('record backupVolumeSnapshot histories', async () => {
    const record = async (name: string, input: unknown) => {
      // The replay test replays under the file name.
      const handle = await h.client.workflow.start('backupVolumeSnapshot', { taskQueue: h.config.temporal.taskQueue, workflowId: `${name}.json`, args: [input] });
      await handle.result().catch(() => undefined);
      writeFileSync(path.join(__dirname, 'histories', `${name}.json`), JSON.stringify(await handle.fetchHistory(), null, 1));
    };
    await record('backup-volume-snapshot', { cluster: 'c', ...quick });
    await record('backup-volume-snapshot-consistent', { cluster: 'c', consistent: true, ...quick });
    controller.answer = 'never';
    try {
      await record('backup-volume-snapshot-timeout', { cluster: 'c', consistent: true, ...quick, readyTimeoutSeconds: 2 });
    } finally {
      controller.answer = 'ready';
    }
  });
});

import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { runCli } from './support/cli';
import { clusterEntry, startHarness, testConfig, type Harness } from './support/harness';
import { ensureTestBucket } from './support/minioBucket';
import { declareQueue, liveDefinitions } from './support/rabbitHttp';
import { scratchDir, testNode, testStack } from './support/stack';
import { writeConfigFile } from './support/workerProcess';

const nodeA = testNode(0);
const nodeB = testNode(1);

describe('operator CLI', () => {
  let h: Harness;
  let dir: string;
  const rv = (...args: string[]) => runCli([...args, '--config', path.join(dir, 'rabbitvault.yaml')], dir);

  before(async () => {
    await Promise.all([nodeA.reset(), nodeB.reset()]);
    await declareQueue(nodeA, '/', 'cli.queue');
    await ensureTestBucket();
    dir = scratchDir('cli');
    h = await startHarness(testConfig({ a: clusterEntry(nodeA), b: clusterEntry(nodeB) }));
    writeConfigFile(h.config, path.join(dir, 'rabbitvault.yaml'));
  });
  after(() => h.stop());

  test('config check prints every problem with its path', async () => {
    const bad = path.join(dir, 'bad.yaml');
    writeFileSync(bad, 'storage:\n  default: nowhere\n  targets:\n    local: { type: local, path: ./b }\nclusters:\n  prod:\n    management: { url: not-a-url, username: admin, password: hunter2 }\n');
    const r = await runCli(['config', 'check', '--config', bad], dir);
    assert.equal(r.code, 1);
    assert.match(r.stderr, /clusters\.prod\.management\.url: Invalid url/);
    assert.match(r.stderr, /clusters\.prod\.management\.password: must be a reference/);
    assert.match(r.stderr, /storage\.default: must name one of storage\.targets/);
    assert.ok(!r.stderr.includes('hunter2'), 'a literal password is not echoed');
    const ok = await rv('config', 'check');
    assert.equal(ok.code, 0, ok.stderr);
    assert.match(ok.stdout, /config OK: .*2 cluster\(s\): a, b/);
  });

  test('backup, list, show, verify and restore definitions end to end', async () => {
    const started = await rv('backup', 'definitions', '--cluster', 'a', '--wait');
    assert.equal(started.code, 0, started.stderr);
    assert.match(started.stdout, /started backupDefinitions: workflow id backup-definitions-a-\d{8}T\d{6}Z/);
    assert.ok(started.stdout.includes(`Web UI: http://127.0.0.1:8233/namespaces/${h.config.temporal.namespace}/workflows/backup-definitions-a-`), started.stdout);
    assert.match(started.stdout, /backed up definitions of a \(RabbitMQ 3\.10\.8\): 1 vhosts, 1 users, 1 queues/);

    const list = await rv('backups', 'list', '--cluster', 'a');
    assert.match(list.stdout, /a\s+definitions\s+\d{8}T\d{6}Z-[0-9a-f]{8}\s+complete/);

    const show = JSON.parse((await rv('backups', 'show', 'latest', '--cluster', 'a', '--json')).stdout);
    assert.equal(show.manifest.artifacts[0].name, 'definitions.json');
    assert.match(show.manifest.workflow.workflowId, /^backup-definitions-a-/);

    const verify = await rv('backups', 'verify', 'latest', '--cluster', 'a', '--wait');
    assert.equal(verify.code, 0, verify.stderr);
    assert.match(verify.stdout, /every checksum matches/);

    const dry = await rv('restore', 'definitions', '--cluster', 'b', '--source-cluster', 'a', '--from', 'latest', '--dry-run');
    assert.equal(dry.code, 0, dry.stderr);
    assert.match(dry.stdout, /plan \(dry run, nothing changed\)/);
    assert.match(dry.stdout, /1 to create/);
    assert.equal((await liveDefinitions(nodeB)).queues?.length, 0);

    const restored = JSON.parse((await rv('restore', 'definitions', '--cluster', 'b', '--source-cluster', 'a', '--from', 'latest', '--wait', '--json')).stdout);
    assert.equal(restored.status, 'completed');
    assert.equal(restored.result.verification.ok, true);
    assert.deepEqual((await liveDefinitions(nodeB)).queues?.map((q) => (q as { name: string }).name), ['cli.queue']);
  });

  test('backups to S3 (MinIO) and restores from there', async () => {
    const backup = JSON.parse((await rv('backup', 'definitions', '--cluster', 'a', '--storage', 'minio', '--wait', '--json')).stdout);
    assert.equal(backup.status, 'completed');
    assert.ok(backup.result.location.startsWith(`s3://${testStack().lane.bucket}/a/definitions/`), backup.result.location);
    const list = await rv('backups', 'list', '--storage', 'minio', '--json');
    assert.ok(JSON.parse(list.stdout).some((s: { setId: string; complete: boolean }) => s.setId === backup.result.setId && s.complete));
    await nodeB.reset();
    const restored = await rv('restore', 'definitions', '--cluster', 'b', '--source-cluster', 'a', '--from', backup.result.setId, '--storage', 'minio', '--wait');
    assert.equal(restored.code, 0, restored.stderr);
    assert.match(restored.stdout, /verified: every backed-up entity is on b/);
  });

  test('bad flags and unknown sets give one clear message and a non-zero exit', async () => {
    const badCluster = await rv('backup', 'definitions', '--cluster', 'Bad Name!');
    assert.equal(badCluster.code, 2);
    assert.match(badCluster.stderr, /--cluster: must be 1-63 letters/);
    const unknown = await rv('backups', 'show', '20200101T000000Z-deadbeef', '--cluster', 'a');
    assert.equal(unknown.code, 1);
    assert.match(unknown.stderr, /no definitions backup set 20200101T000000Z-deadbeef of cluster "a"/);
    const failing = await rv('restore', 'definitions', '--cluster', 'b', '--source-cluster', 'zzz', '--from', 'latest', '--wait');
    assert.equal(failing.code, 1);
    assert.match(failing.stderr, /FAILED: .*no complete definitions backups of cluster "zzz"/);
    const empty = await rv('backups', 'list', '--cluster', 'nobody');
    assert.match(empty.stdout, /no backups in /);
  });
});

// Issue 15 on real RabbitMQ 3.10 nodes: vhost metadata that GET /api/definitions
// drops survives a backup and restore (compared by `rabbitmqctl
// export_definitions` on both sides), and a 3.x definitions file is planned
// against a 4.x target before anything is imported.
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { createHash } from 'node:crypto';
import { readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { promisify } from 'node:util';
import type { BackupDefinitionsResult, RestoreDefinitionsResult } from '../contracts/definitions';
import type { IsolatedRabbitNode } from '../scripts/devstack/rabbitmqNode';
import { clusterEntry, failureOf, startHarness, testConfig, workflowId, type Harness } from './support/harness';
import { importFixture, liveDefinitions, rabbitApi } from './support/rabbitHttp';
import { testNode } from './support/stack';

const source = testNode(0);
const target = testNode(1);
let h: Harness;

const backup = (cluster: string): Promise<BackupDefinitionsResult> =>
  h.client.workflow.execute('backupDefinitions', { taskQueue: h.config.temporal.taskQueue, workflowId: workflowId('migration-backup'), args: [{ cluster }] });
const restore = (input: Record<string, unknown>): Promise<RestoreDefinitionsResult> =>
  h.client.workflow.execute('restoreDefinitions', { taskQueue: h.config.temporal.taskQueue, workflowId: workflowId('migration-restore'), args: [input] });

// rabbitmqadmin 3.10 (the Debian package's) against an isolated node.
async function rabbitmqadmin(node: IsolatedRabbitNode, ...args: string[]): Promise<void> {
  await promisify(execFile)('rabbitmqadmin', ['-H', '127.0.0.1', '-P', String(node.options.managementPort), '-u', 'guest', '-p', 'guest', ...args]);
}

// What `rabbitmqctl export_definitions` (which keeps vhost metadata) says of one vhost.
async function exported(node: IsolatedRabbitNode, vhost: string) {
  const defs = JSON.parse(await node.ctl(['export_definitions', '-', '--format', 'json'])) as Record<string, Array<Record<string, unknown>>>;
  const strip = (list: Array<Record<string, unknown>> | undefined) => (list ?? []).filter((e) => e.vhost === vhost).map((e) => JSON.stringify(e)).sort();
  const v = (defs.vhosts ?? []).find((e) => e.name === vhost);
  return { vhost: v?.metadata, queues: strip(defs.queues), exchanges: strip(defs.exchanges), bindings: strip(defs.bindings), policies: strip(defs.policies) };
}

describe('definitions across versions: vhost metadata and a 4.x migration plan', () => {
  before(async () => {
    await Promise.all([source.reset(), target.reset()]);
    h = await startHarness(testConfig({ src: clusterEntry(source), dst: clusterEntry(target) }));
  });
  after(() => h.stop());

  test('a rabbitmqadmin-built topology with vhost description, tags and a quorum default queue type round-trips with its metadata', async () => {
    // rabbitmqadmin 3.10 cannot set vhost metadata ("description" is not recognised): that is rabbitmqctl's.
    await source.ctl(['add_vhost', 'sales', '--description', 'Sales orders, EU', '--tags', 'prod,eu', '--default-queue-type', 'quorum']);
    await source.ctl(['set_permissions', '-p', 'sales', 'guest', '.*', '.*', '.*']);
    await rabbitmqadmin(source, '-V', 'sales', 'declare', 'exchange', 'name=sales.events', 'type=topic', 'durable=true');
    await rabbitmqadmin(source, '-V', 'sales', 'declare', 'queue', 'name=sales.orders', 'durable=true', 'arguments={"x-queue-type":"quorum"}');
    await rabbitmqadmin(source, '-V', 'sales', 'declare', 'binding', 'source=sales.events', 'destination=sales.orders', 'routing_key=order.#');
    await rabbitmqadmin(source, '-V', 'sales', 'declare', 'policy', 'name=sales-limit', 'pattern=^sales\\.', 'definition={"max-length":100000}', 'apply-to=queues');

    // The HTTP export drops it, which is why the backup stores vhosts.json beside it.
    const http = (await liveDefinitions(source)).vhosts as Array<Record<string, unknown>>;
    assert.deepEqual(http.find((v) => v.name === 'sales'), { name: 'sales' });
    const result = await backup('src');
    assert.ok(result.vhostMetadata, 'vhosts.json is stored');
    const stored = JSON.parse(readFileSync(path.join(result.location, 'vhosts.json'), 'utf8')) as Array<Record<string, unknown>>;
    assert.deepEqual(stored.find((v) => v.name === 'sales'), { name: 'sales', description: 'Sales orders, EU', tags: ['prod', 'eu'], default_queue_type: 'quorum' });
    const manifest = JSON.parse(readFileSync(path.join(result.location, 'manifest.json'), 'utf8')) as { artifacts: Array<{ name: string }> };
    assert.deepEqual(manifest.artifacts.map((a) => a.name), ['definitions.json', 'vhosts.json']);

    const dry = await restore({ cluster: 'dst', sourceCluster: 'src', from: 'latest', dryRun: true });
    assert.ok(dry.plan.create.includes('vhost name=sales'));
    assert.equal(dry.plan.compatibility?.targetVersion, '3.10.8');
    assert.equal(dry.plan.compatibility?.declared, false);
    assert.equal(dry.plan.compatibility?.refusedCount, 0);

    const applied = await restore({ cluster: 'dst', sourceCluster: 'src', from: 'latest' });
    assert.equal(applied.verification?.ok, true, 'the re-read found every entity, vhost metadata included');
    const [was, now] = await Promise.all([exported(source, 'sales'), exported(target, 'sales')]);
    assert.deepEqual(now.vhost, { default_queue_type: 'quorum', description: 'Sales orders, EU', tags: ['prod', 'eu'] });
    assert.deepEqual(now, was, 'rabbitmqctl export_definitions says the same of both sides');
    // The default queue type works on the target: a queue declared without x-queue-type is a quorum queue.
    await rabbitApi(target, 'PUT', '/api/queues/sales/sales.untyped', { durable: true });
    assert.equal(((await rabbitApi(target, 'GET', '/api/queues/sales/sales.untyped')) as { type: string }).type, 'quorum');
  });

  test('a description changed on the target is put back; a different default queue type is reported as left as the target has it', async () => {
    await rabbitApi(target, 'PUT', '/api/vhosts/sales', { description: 'edited by hand', tags: 'prod' });
    const plan = await restore({ cluster: 'dst', sourceCluster: 'src', from: 'latest', dryRun: true });
    assert.deepEqual(plan.plan.update.find((u) => u.entity === 'vhost name=sales')?.fields, ['metadata.description', 'metadata.tags']);
    const applied = await restore({ cluster: 'dst', sourceCluster: 'src', from: 'latest' });
    assert.equal(applied.verification?.ok, true);
    assert.deepEqual((await exported(target, 'sales')).vhost, { default_queue_type: 'quorum', description: 'Sales orders, EU', tags: ['prod', 'eu'] });

    await target.ctl(['add_vhost', 'classic-only', '--default-queue-type', 'classic']);
    await source.ctl(['add_vhost', 'classic-only', '--default-queue-type', 'quorum']);
    await backup('src');
    const conflicting = await restore({ cluster: 'dst', sourceCluster: 'src', from: 'latest', onConflict: 'keep-target' });
    assert.deepEqual(conflicting.plan.conflicts.find((c) => c.entity === 'vhost name=classic-only')?.fields, ['metadata.default_queue_type']);
    assert.equal(conflicting.verification?.conflictsLeftAsTarget, 1);
  });

  test('a 3.x file planned against 4.3: each refusal with its rule; refused before anything is imported; with the transformations it imports, listing every change, and the stored artifact is unchanged', async () => {
    await importFixture(source, path.join(__dirname, 'fixtures', 'definitions', 'rabbitmq-3-legacy.json'));
    const result = await backup('src');
    const artifactFile = path.join(result.location, 'definitions.json');
    const storedBefore = readFileSync(artifactFile);

    const dry = await restore({ cluster: 'dst', sourceCluster: 'src', from: result.setId, dryRun: true, targetVersion: '4.3.0' });
    const c = dry.plan.compatibility!;
    assert.equal(c.targetVersion, '4.3.0');
    assert.equal(c.declared, true);
    const found = c.refusals.map((f) => `${f.rule} ${f.entity}: ${f.detail}`).sort();
    assert.deepEqual(found, [
      'classic-mirroring-policy-keys policy vhost=legacy name=ha-all: ha-mode, ha-sync-mode',
      'classic-mirroring-policy-keys policy vhost=legacy name=lazy-ttl: ha-mode, ha-params',
      'classic-mirroring-queue-arguments queue vhost=legacy name=ha.orders: x-ha-policy',
      'classic-queue-version-1 queue vhost=legacy name=lazy.audit: x-queue-version: 1',
      'queue-mode policy vhost=legacy name=lazy-ttl: queue-mode',
      'queue-mode queue vhost=legacy name=lazy.audit: x-queue-mode',
      'transient-non-exclusive-queue queue vhost=legacy name=scratch: durable: false',
    ]);
    assert.ok(c.refusals.every((f) => /release notes/.test(f.source) && /^4\.[03]\.0$/.test(f.since)));
    // Against 4.0 the 4.3 rules do not apply.
    const to40 = await restore({ cluster: 'dst', sourceCluster: 'src', from: result.setId, dryRun: true, targetVersion: '4.0' });
    assert.deepEqual([...new Set(to40.plan.compatibility!.refusals.map((f) => f.rule))].sort(), ['classic-mirroring-policy-keys', 'classic-mirroring-queue-arguments']);

    const untouched = await liveDefinitions(target);
    const refused = await failureOf(restore({ cluster: 'dst', sourceCluster: 'src', from: result.setId, targetVersion: '4.3.0' }));
    assert.equal(refused.type, 'DefinitionsIncompatible');
    assert.match(refused.message, /RabbitMQ 4\.3\.0 would refuse 7 part\(s\) of what would be imported: .*rule classic-mirroring-policy-keys, RabbitMQ 4\.0\.0\+; fix: --transform strip-classic-mirroring/);
    assert.match(refused.message, /The target was not touched/);
    assert.deepEqual(await liveDefinitions(target), untouched, 'nothing was imported');

    // Stripping the mirroring keys alone leaves ha-all empty, which RabbitMQ (3.10 included) refuses.
    const half = await restore({ cluster: 'dst', sourceCluster: 'src', from: result.setId, dryRun: true, targetVersion: '4.3.0', transforms: ['strip-classic-mirroring', 'drop-queue-mode', 'drop-queue-version-1', 'make-queues-durable'] });
    assert.deepEqual(half.plan.compatibility!.refusals.map((f) => `${f.rule} ${f.entity}`), ['empty-policy policy vhost=legacy name=ha-all']);

    const transforms = ['strip-classic-mirroring', 'drop-empty-policies', 'drop-queue-mode', 'drop-queue-version-1', 'make-queues-durable'];
    // keep-target: the classic-only vhost of the test before stays a conflict.
    const applied = await restore({ cluster: 'dst', sourceCluster: 'src', from: result.setId, targetVersion: '4.3.0', transforms, onConflict: 'keep-target' });
    assert.equal(applied.verification?.ok, true);
    const changes = applied.plan.compatibility!.changes.map((ch) => `${ch.transform}: ${ch.entity}: ${ch.change}`).sort();
    assert.deepEqual(changes, [
      'drop-empty-policies: policy vhost=legacy name=ha-all: dropped: its definition is empty',
      'drop-queue-mode: policy vhost=legacy name=lazy-ttl: removed queue-mode from its definition',
      'drop-queue-mode: queue vhost=legacy name=lazy.audit: removed argument x-queue-mode',
      'drop-queue-version-1: queue vhost=legacy name=lazy.audit: removed argument x-queue-version',
      'make-queues-durable: queue vhost=legacy name=scratch: made durable (was transient and non-exclusive)',
      'strip-classic-mirroring: policy vhost=legacy name=ha-all: removed ha-mode, ha-sync-mode from its definition',
      'strip-classic-mirroring: policy vhost=legacy name=lazy-ttl: removed ha-mode, ha-params from its definition',
      'strip-classic-mirroring: queue vhost=legacy name=ha.orders: removed argument x-ha-policy',
    ]);
    assert.equal(applied.plan.compatibility!.refusedCount, 0);

    const live = await exported(target, 'legacy');
    assert.deepEqual(live.policies.map((p) => JSON.parse(p) as { name: string; definition: unknown }).map((p) => [p.name, p.definition]), [['lazy-ttl', { 'message-ttl': 60000 }]]);
    const queues = new Map(live.queues.map((q) => JSON.parse(q) as { name: string; durable: boolean; arguments: object }).map((q) => [q.name, q]));
    assert.deepEqual(queues.get('lazy.audit')?.arguments, {});
    assert.deepEqual(queues.get('ha.orders')?.arguments, {});
    assert.equal(queues.get('scratch')?.durable, true);
    assert.deepEqual(queues.get('modern')?.arguments, { 'x-queue-type': 'quorum' });

    const storedAfter = readFileSync(artifactFile);
    assert.ok(storedAfter.equals(storedBefore), 'the stored artifact is unchanged');
    assert.equal(createHash('sha256').update(storedAfter).digest('hex'), result.artifact.sha256);
  });

  test('a vhosts.json rewritten together with its manifest checksum is refused by its schema, target untouched', async () => {
    const result = await backup('src');
    const file = path.join(result.location, 'vhosts.json');
    const manifestFile = path.join(result.location, 'manifest.json');
    const forged = Buffer.from(JSON.stringify([{ name: 'sales', description: 'x', tags: [], default_queue_type: 'quorum', permissions: '.*' }]));
    const manifest = JSON.parse(readFileSync(manifestFile, 'utf8')) as { artifacts: Array<{ name: string; size: number; sha256: string }> };
    const entry = manifest.artifacts.find((a) => a.name === 'vhosts.json')!;
    entry.size = forged.length;
    entry.sha256 = createHash('sha256').update(forged).digest('hex');
    writeFileSync(file, forged);
    writeFileSync(manifestFile, JSON.stringify(manifest));
    const before = await liveDefinitions(target);
    const failure = await failureOf(restore({ cluster: 'dst', sourceCluster: 'src', from: result.setId }));
    assert.equal(failure.type, 'InvalidDefinitions');
    assert.match(failure.message, /vhosts\.json: 0: Unrecognized key/);
    assert.deepEqual(await liveDefinitions(target), before);
  });

  test('a target that fails its health checks is refused before its definitions are read or anything is imported', async () => {
    // A disk alarm: free disk limit far above what the machine has.
    await target.ctl(['set_disk_free_limit', '100000GB']);
    try {
      const deadline = Date.now() + 30_000;
      while (Date.now() < deadline && !(((await rabbitApi(target, 'GET', '/api/nodes')) as Array<{ disk_free_alarm: boolean }>)[0]?.disk_free_alarm ?? false)) await new Promise((r) => setTimeout(r, 500));
      const failure = await failureOf(restore({ cluster: 'dst', sourceCluster: 'src', from: 'latest', dryRun: true }));
      assert.equal(failure.type, 'TargetUnhealthy');
      assert.match(failure.message, /cluster dst fails its health checks \(alarms: .*\): the target was not touched/);
    } finally {
      await target.ctl(['set_disk_free_limit', '50MB']);
    }
  });
});

import assert from 'node:assert/strict';
import type { ChildProcess } from 'node:child_process';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { Client, Connection } from '@temporalio/client';
import { ClusterAttribute, ComponentAttribute } from '../common/searchAttributes';
import { RabbitvaultConfig } from '../config/schema';
import { freePort } from '../scripts/devstack/ports';
import type { BackupDefinitionsResult } from '../contracts/definitions';
import { clusterEntry, testConfig, workflowId } from './support/harness';
import { scratchDir, testNode } from './support/stack';
import { killHard, spawnWorker, writeConfigFile } from './support/workerProcess';

const node = testNode(0);

function parseExposition(text: string): Map<string, number> {
  const samples = new Map<string, number>();
  for (const line of text.split('\n')) {
    if (!line || line.startsWith('#')) continue;
    const at = line.lastIndexOf(' ');
    samples.set(line.slice(0, at), Number(line.slice(at + 1)));
  }
  return samples;
}

async function scrape(url: string, ready: (m: Map<string, number>) => boolean): Promise<Map<string, number>> {
  const deadline = Date.now() + 30_000;
  let last = '';
  for (;;) {
    try {
      const response = await fetch(url);
      last = await response.text();
      if (response.ok) {
        assert.match(response.headers.get('content-type') ?? '', /^text\/plain; version=0\.0\.4/);
        const samples = parseExposition(last);
        if (ready(samples)) return samples;
      }
    } catch (error) {
      last = (error as Error).message;
    }
    if (Date.now() > deadline) throw new Error(`metrics never ready at ${url}: ${last}`);
    await new Promise((r) => setTimeout(r, 500));
  }
}

describe('Prometheus metrics served by the worker', () => {
  let config: RabbitvaultConfig;
  let configFile: string;
  let client: Client;
  let worker: ChildProcess | undefined;
  let url: string;

  before(async () => {
    await node.reset();
    const port = await freePort();
    url = `http://127.0.0.1:${port}/metrics`;
    const base = testConfig({ a: clusterEntry(node), broken: clusterEntry(node, 'value:wrong-password') });
    config = RabbitvaultConfig.parse({ ...base, storage: { default: 'local', targets: { local: base.storage.targets.local! } }, metrics: { listen: `127.0.0.1:${port}`, cacheSeconds: 0 } });
    configFile = writeConfigFile(config, path.join(scratchDir('metrics'), 'rabbitvault.yaml'));
    client = new Client({ connection: await Connection.connect({ address: config.temporal.address }), namespace: config.temporal.namespace });
  });
  after(async () => {
    if (worker) await killHard(worker);
    await client.connection.close();
  });

  function start(cluster: string) {
    return client.workflow.start('backupDefinitions', {
      taskQueue: config.temporal.taskQueue,
      workflowId: workflowId(`metrics-${cluster}`),
      args: [{ cluster, retry: { maximumAttempts: 1 } }],
      typedSearchAttributes: [
        { key: ClusterAttribute, value: cluster },
        { key: ComponentAttribute, value: 'definitions' },
      ],
    });
  }

  test('after a backup, and again after the worker is killed and restarted, the figures come from storage and Temporal', async () => {
    worker = await spawnWorker(configFile);
    // workers/worker.sh exec'd node itself (signals reach it) with the worker's memory settings.
    const cmdline = readFileSync(`/proc/${worker.pid}/cmdline`, 'utf8').split('\0');
    assert.equal(cmdline[0], process.execPath);
    assert.ok(cmdline.includes('--max-semi-space-size=4'), cmdline.join(' '));
    assert.ok(readFileSync(`/proc/${worker.pid}/environ`, 'utf8').split('\0').includes('MALLOC_ARENA_MAX=2'));
    const ok = await start('a');
    const result = (await ok.result()) as BackupDefinitionsResult;
    const failed = await start('broken');
    await assert.rejects(failed.result());

    const a = '{cluster="a",component="definitions"}';
    const broken = '{cluster="broken",component="definitions"}';
    const expected = (m: Map<string, number>) => m.get(`rabbitmq_backup_failed_runs${broken}`) === 1 && m.has(`rabbitmq_backup_last_success_timestamp_seconds${a}`);
    const first = await scrape(url, expected);
    assert.equal(first.get(`rabbitmq_backup_last_success_timestamp_seconds${a}`), Date.parse(result.finishedAt) / 1000);
    assert.equal(first.get(`rabbitmq_backup_duration_seconds${a}`), (Date.parse(result.finishedAt) - Date.parse(result.startedAt)) / 1000);
    // The set's artifacts: definitions.json and, on 3.x, vhosts.json.
    assert.equal(first.get(`rabbitmq_backup_size_bytes${a}`), result.artifact.size + (result.vhostMetadata?.size ?? 0));
    assert.equal(first.get(`rabbitmq_backup_sets{cluster="a",component="definitions",storage="local"}`), 1);
    assert.equal(first.get(`rabbitmq_backup_failed_runs${a}`), 0);
    assert.ok(first.get(`rabbitmq_backup_last_failure_timestamp_seconds${broken}`)! > 0);

    // Validation and drill figures appear once their reports exist.
    await client.workflow.execute('validateBackups', { taskQueue: config.temporal.taskQueue, workflowId: workflowId('metrics-validate'), args: [{ clusters: ['a'], restoreInto: null }] });
    const validated = await scrape(url, (m) => m.has(`rabbitmq_backup_last_verified_timestamp_seconds${a}`));
    assert.equal(validated.get(`rabbitmq_backup_last_validation_success${a}`), 1);

    await killHard(worker);
    worker = await spawnWorker(configFile);
    const again = await scrape(url, expected);
    for (const [name, value] of validated) assert.equal(again.get(name), value, `${name} after a worker restart`);
  });
});

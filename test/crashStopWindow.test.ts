// The production path of a crash while a node is stopped. crashEveryStep fails
// a killed worker's attempt at once, to cover every step within its budget;
// here nothing helps: the server finds the dead worker by itself, at the
// heartbeat timeout of a step that heartbeats, or only at the attempt timeout
// of one that does not. Every step between a node's stop and its start must
// heartbeat, or the node stays stopped for a whole attempt timeout (600 s by
// default). Here the attempt timeout is 120 s and the heartbeat timeout 2 s: a
// step that does not heartbeat shows as minutes where a kill should cost seconds.
import assert from 'node:assert/strict';
import { readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { after, before, describe, test, type TestContext } from 'node:test';
import { Client, Connection, type WorkflowHandle } from '@temporalio/client';
import type { RabbitvaultConfig } from '../config/schema';
import type { BackupDataDirectoryResult, RestoreDataDirectoryResult } from '../contracts/dataDirectory';
import type { RestoreConfigurationResult } from '../contracts/configuration';
import { numbered, openAmqp, publishAll } from '../bench/messages/amqpFixtures';
import { dataConfig, localTaskQueue, nodeQueues, waitForCounts } from './dataDirectory.support';
import { configurationRestoreRuns, ensureRunning, lockReleased } from './support/crashRuns';
import { runCrashLoop, spawnBuiltWorker, summary, type Boundary, type CrashLoopReport, type KillPoint, type RunOutcome } from './support/killPoints';
import { scratchDir, testNode, testStack } from './support/stack';
import { writeConfigFile } from './support/workerProcess';

const a = testNode(0);
const b = testNode(1);
const HEARTBEAT_S = 2;
const ATTEMPT_S = 120;
// What one kill may add to a run: the heartbeat timeout, a retry interval, a
// new worker process (about 1 s), and the step run again (a stop_app again):
// 8 to 14 s here, 40 s for 3 kills once under load 11 (a cold machine).
const PER_KILL_S = 20;
// A step that does not heartbeat costs a whole attempt timeout: the kills of
// a run together are never allowed that much, so the bound catches it however
// many kills the run has.
const MOST_FOR_ALL_KILLS_S = ATTEMPT_S * 0.9;
const retry = { initialIntervalSeconds: 0.2, maximumIntervalSeconds: 1, maximumAttempts: 20, attemptTimeoutSeconds: ATTEMPT_S };
const ddTiming = { heartbeatTimeoutSeconds: HEARTBEAT_S, downtimeLimitSeconds: 90, nodeStartTimeoutSeconds: 60, retry };
const QUEUE = 'stop-window';
const MESSAGES = 20;

// From the first step that stops a node to the start that follows it: every
// kill after such a step starts, and after each completes but the start's (the
// node runs again then).
function stopWindowPoint(point: KillPoint, boundaries: Boundary[]): boolean {
  const stop = boundaries.find((x) => /^stopNode/.test(x.activityType));
  const start = boundaries.find((x) => x.activityType === 'startNodeApp' && stop && x.ordinal > stop.ordinal);
  if (!stop || !start) return false;
  const o = point.boundary.ordinal;
  return o >= stop.ordinal && o <= start.ordinal && !(o === start.ordinal && point.phase === 'completed');
}

async function workflowSeconds(handle: WorkflowHandle): Promise<number> {
  const d = await handle.describe();
  assert.ok(d.closeTime, 'the run has ended');
  return (d.closeTime.getTime() - d.startTime.getTime()) / 1000;
}

function progress(t: TestContext, line: string): void {
  t.diagnostic(line);
  process.stderr.write(`[stop-window ${new Date().toISOString().slice(11, 19)}] ${t.name}: ${line}\n`);
}

// The time a run may take: the clean run's, plus PER_KILL_S for each point of the window.
function budget(clean: number | undefined, points: number): number {
  assert.ok(clean !== undefined, 'the clean run was measured first');
  return clean + Math.min(points * PER_KILL_S, MOST_FOR_ALL_KILLS_S);
}

function assertHeld<R>(r: CrashLoopReport<R>, t: TestContext): void {
  t.diagnostic(summary(r));
  assert.deepEqual(r.clean.problems, [], 'the clean run held every invariant');
  assert.ok(r.points.length >= 3, `the stop window has kill points (${r.points.map((p) => p.point.label).join(', ')})`);
  assert.ok(r.points.some((p) => p.hit), 'at least one kill landed');
  const broken = r.points.filter((p) => p.problems.length).map((p) => `${p.point.label}: ${p.problems.join(' | ')}`);
  assert.deepEqual(broken, [], 'every kill in the stop window cost seconds, not an attempt timeout');
}

describe('the production path: a worker SIGKILLed while a node is stopped, its attempt left to the server', { concurrency: 2 }, () => {
  let connection: Connection;
  let client: Client;
  before(async () => {
    connection = await Connection.connect({ address: testStack().temporalAddress });
    client = new Client({ connection, namespace: testStack().lane.temporalNamespace });
  });
  after(() => connection.close());

  test('node a: backupDataDirectory (pre-copy) and restoreDataDirectory', async (t) => {
    await a.reset();
    const config = dataConfig([a]);
    const file = writeConfigFile(config, path.join(scratchDir('stop-window-a'), 'rabbitvault.yaml'));
    const common = {
      client,
      taskQueue: config.temporal.taskQueue,
      spawnWorker: () => spawnBuiltWorker(file, { RABBITVAULT_NODE_QUEUES: nodeQueues(config).join(',') }),
      beforeStart: () => lockReleased(client, 'c'),
      pointsPerRun: 1000,
      failOrphanedAttempts: false,
      only: stopWindowPoint,
    };
    const amqp = await openAmqp(a.amqpUrl);
    const ch = await amqp.createChannel();
    await ch.assertQueue(QUEUE, { durable: true });
    await ch.close();
    await publishAll(amqp, QUEUE, numbered(MESSAGES, 1024));
    await amqp.close();
    try {
      let setId = '';
      const clean: { seconds?: number; stop?: number } = {};
      const timed = async (run: { label: string; outcome: RunOutcome<BackupDataDirectoryResult | RestoreDataDirectoryResult>; handle: WorkflowHandle }, points: number) => {
        assert.ok(await ensureRunning(a), 'RabbitMQ runs after the run');
        assert.ok(run.outcome.ok, `kills alone never fail a run: ${run.outcome.failure?.message}`);
        const seconds = await workflowSeconds(run.handle);
        const stop = run.outcome.result!.nodes[0]!.stopWindow.seconds;
        if (run.label === 'clean') Object.assign(clean, { seconds, stop });
        else {
          assert.ok(stop <= budget(clean.stop, points), `the node was stopped ${stop.toFixed(1)} s (clean run ${clean.stop!.toFixed(1)} s, ${points} kills allowed ${(budget(clean.stop, points) - clean.stop!).toFixed(0)} s in all)`);
          assert.ok(seconds <= budget(clean.seconds, points), `the run took ${seconds.toFixed(1)} s (clean run ${clean.seconds!.toFixed(1)} s)`);
        }
        assert.deepEqual(await waitForCounts(a, { [QUEUE]: MESSAGES }, 30_000), { [QUEUE]: MESSAGES }, 'the node keeps its messages');
        return stop;
      };
      const windowPoints = 5; // stop: started, completed; copy or extract: started, completed; start: started

      await t.test('backupDataDirectory (pre-copy)', async (tt) => {
        const r = await runCrashLoop<object, BackupDataDirectoryResult>({
          ...common,
          workflowType: 'backupDataDirectory',
          onPoint: (line) => progress(tt, line),
          prepare: async () => ({}),
          input: () => ({ cluster: 'c', ...ddTiming }),
          check: async (run) => {
            const stop = await timed(run, windowPoints);
            setId ||= run.outcome.result!.setId;
            tt.diagnostic(`${run.label}: stopped ${stop.toFixed(1)} s`);
          },
        });
        assertHeld(r, tt);
      });

      await t.test('restoreDataDirectory', async (tt) => {
        assert.ok(setId, 'a set from the backup runs');
        Object.assign(clean, { seconds: undefined, stop: undefined });
        const r = await runCrashLoop<object, RestoreDataDirectoryResult>({
          ...common,
          workflowType: 'restoreDataDirectory',
          onPoint: (line) => progress(tt, line),
          prepare: async () => {
            await ensureRunning(a);
            return {};
          },
          input: () => ({ cluster: 'c', from: setId, ...ddTiming }),
          check: async (run) => {
            const stop = await timed(run, windowPoints);
            tt.diagnostic(`${run.label}: stopped ${stop.toFixed(1)} s`);
          },
        });
        assertHeld(r, tt);
      });
    } finally {
      await ensureRunning(a);
    }
  });

  test('node b: restoreConfiguration with restart', async (t) => {
    await b.reset();
    const fromData = dataConfig([b]);
    const config = { ...fromData, clusters: { cb: fromData.clusters.c! } } as RabbitvaultConfig;
    const file = writeConfigFile(config, path.join(scratchDir('stop-window-b'), 'rabbitvault.yaml'));
    const conf = path.join(b.dir, 'rabbitmq.conf');
    const original = readFileSync(conf);
    const runs = configurationRestoreRuns({ client, taskQueue: config.temporal.taskQueue, cluster: 'cb', node: b, conf, original, workflowIdPrefix: 'stop-window-config' });
    let cleanSeconds: number | undefined;
    const windowPoints = 3; // stop: started, completed; start: started
    try {
      const r = await runCrashLoop<{ before: Buffer }, RestoreConfigurationResult>({
        client,
        taskQueue: config.temporal.taskQueue,
        spawnWorker: () => spawnBuiltWorker(file, { RABBITVAULT_NODE_QUEUES: config.clusters.cb!.nodes.map(localTaskQueue).join(',') }),
        beforeStart: () => lockReleased(client, 'cb'),
        pointsPerRun: 1000,
        failOrphanedAttempts: false,
        only: stopWindowPoint,
        workflowType: 'restoreConfiguration',
        onPoint: (line) => progress(t, line),
        prepare: runs.prepare,
        input: () => ({ cluster: 'cb', from: runs.setId(), restart: true, nodeStartTimeoutSeconds: 60, heartbeatTimeoutSeconds: HEARTBEAT_S, retry }),
        check: async (run) => {
          assert.ok(await ensureRunning(b), 'RabbitMQ runs after the run');
          assert.ok(run.outcome.ok, `kills alone never fail a run: ${run.outcome.failure?.message}`);
          assert.ok(readFileSync(conf).equals(original), "rabbitmq.conf holds the set's bytes");
          const seconds = await workflowSeconds(run.handle);
          if (run.label === 'clean') cleanSeconds = seconds;
          else assert.ok(seconds <= budget(cleanSeconds, windowPoints), `the run took ${seconds.toFixed(1)} s (clean run ${cleanSeconds!.toFixed(1)} s, ${windowPoints} kills allowed ${(budget(cleanSeconds, windowPoints) - cleanSeconds!).toFixed(0)} s in all)`);
          t.diagnostic(`${run.label}: ${seconds.toFixed(1)} s`);
        },
      });
      assertHeld(r, t);
    } finally {
      writeFileSync(conf, original);
      await ensureRunning(b);
    }
  });
});

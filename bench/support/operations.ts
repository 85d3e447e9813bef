import { writeFile } from 'node:fs/promises';
import type { Client } from '@temporalio/client';
import { countDefinitions, parseDefinitions, type DefinitionsCounts } from '../../lib/definitions/model';
import { backupDefinitionsWorkflowId, restoreDefinitionsWorkflowId } from '../../common/workflowIds';
import type { RabbitvaultConfig } from '../../config/schema';
import type { BackupDefinitionsResult, RestoreDefinitionsResult } from '../../contracts/definitions';
import { getDefinitions, postDefinitions } from './bareHttp';
import { runCli } from './cliProcess';
import type { BenchStack } from './stack';

export const SIDES = ['reference', 'inProcess', 'cli'] as const;
export type Side = (typeof SIDES)[number];
export type TimedCall = () => Promise<void>;

export interface BenchContext {
  stack: BenchStack;
  config: RabbitvaultConfig;
  configFile: string;
  client: Client;
  referenceFile: string;
  // Bytes the reference restore posts: the source's export, as the reference backup wrote it.
  referenceBytes: Buffer;
  expected: DefinitionsCounts;
  // Every workflow our sides ran, to read their step timings afterwards.
  workflowRuns: Record<'backup' | 'restore', Record<OurSide, WorkflowRun[]>>;
}

export type OurSide = Exclude<Side, 'reference'>;
export interface WorkflowRun {
  workflowId: string;
  runId: string;
}

function checkCounts(what: string, counts: DefinitionsCounts, expected: DefinitionsCounts): void {
  if (counts.queues !== expected.queues || counts.bindings !== expected.bindings || counts.vhosts !== expected.vhosts) {
    throw new Error(`${what}: ${counts.queues} queues, ${counts.bindings} bindings, ${counts.vhosts} vhosts; expected ${expected.queues}, ${expected.bindings}, ${expected.vhosts}`);
  }
}

function completedResult<T>(stdout: string, command: string, runs: WorkflowRun[]): T {
  const out = JSON.parse(stdout) as WorkflowRun & { status: string; result?: T; error?: string };
  runs.push({ workflowId: out.workflowId, runId: out.runId });
  if (out.status !== 'completed' || !out.result) throw new Error(`${command}: status ${out.status} ${out.error ?? ''}`);
  return out.result;
}

// client.workflow.execute, split so the run id is kept for its history.
async function executeInProcess<T>(ctx: BenchContext, workflowType: string, workflowId: string, input: object, runs: WorkflowRun[]): Promise<T> {
  const handle = await ctx.client.workflow.start(workflowType, { taskQueue: ctx.config.temporal.taskQueue, workflowId, args: [input] });
  runs.push({ workflowId, runId: handle.firstExecutionRunId });
  return (await handle.result()) as T;
}

export function backupOperations(ctx: BenchContext): Record<Side, TimedCall> {
  const { configFile, expected } = ctx;
  const ids = ctx.workflowRuns.backup;
  return {
    reference: async () => writeFile(ctx.referenceFile, await getDefinitions(ctx.stack.source)),
    inProcess: async () => {
      const workflowId = backupDefinitionsWorkflowId('source', new Date());
      const result = await executeInProcess<BackupDefinitionsResult>(ctx, 'backupDefinitions', workflowId, { cluster: 'source' }, ids.inProcess);
      checkCounts('in-process backup', result.counts, expected);
    },
    cli: async () => {
      const { stdout } = await runCli(['backup', 'definitions', '--cluster', 'source', '--wait', '--json', '--config', configFile]);
      checkCounts('CLI backup', completedResult<BackupDefinitionsResult>(stdout, 'backup definitions', ids.cli).counts, expected);
    },
  };
}

function checkRestored(what: string, result: RestoreDefinitionsResult, expected: DefinitionsCounts): void {
  if (!result.verification?.ok) throw new Error(`${what}: finished without verification`);
  if (result.plan.counts.queues.create !== expected.queues) {
    throw new Error(`${what}: planned ${result.plan.counts.queues.create} queues to create, expected ${expected.queues} (was the target reset?)`);
  }
}

export function restoreOperations(ctx: BenchContext): Record<Side, TimedCall> {
  const { configFile, expected } = ctx;
  const ids = ctx.workflowRuns.restore;
  return {
    reference: () => postDefinitions(ctx.stack.target, ctx.referenceBytes),
    inProcess: async () => {
      const workflowId = restoreDefinitionsWorkflowId('target', new Date());
      const input = { cluster: 'target', sourceCluster: 'source', from: 'latest' };
      const result = await executeInProcess<RestoreDefinitionsResult>(ctx, 'restoreDefinitions', workflowId, input, ids.inProcess);
      checkRestored('in-process restore', result, expected);
    },
    cli: async () => {
      const args = ['restore', 'definitions', '--cluster', 'target', '--source-cluster', 'source', '--from', 'latest', '--wait', '--json', '--config', configFile];
      checkRestored('CLI restore', completedResult<RestoreDefinitionsResult>((await runCli(args)).stdout, 'restore definitions', ids.cli), expected);
    },
  };
}

// Outside the timing: whatever side restored, the target must now hold everything.
export async function checkTargetRestored(ctx: BenchContext, side: Side): Promise<void> {
  const live = parseDefinitions(await getDefinitions(ctx.stack.target), 'target after restore', true);
  checkCounts(`target after the ${side} restore`, countDefinitions(live), ctx.expected);
}

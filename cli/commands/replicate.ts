import { compactUtc } from '../../common/names';
import { FailoverInput, ReplicationStatusInput, ReplicationWorkflow, SetupReplicationInput, StopReplicationInput } from '../../contracts/replication';
import { checkInput, parseFlags, UsageError } from '../args';
import type { CliContext } from '../context';
import { runWorkflowCommand } from '../runWorkflowCommand';

const usage = [
  'usage: rabbitvault replicate start --cluster SOURCE --to DESTINATION [--method shovel|federation] [--queue Q|PATTERN]... [--exchange X|PATTERN]... [--vhost V]... [--wait] [--json]',
  '       rabbitvault replicate stop|status --cluster SOURCE --to DESTINATION [--wait] [--json]',
].join('\n');

// Continuous replication (the guide's Option B, Option D, Method 4) between two clusters of the config.
export async function replicateCommand(ctx: CliContext, argv: string[]): Promise<number> {
  const { values, positionals } = parseFlags(
    argv,
    {
      cluster: { type: 'string' },
      to: { type: 'string' },
      method: { type: 'string' },
      queue: { type: 'string', multiple: true },
      exchange: { type: 'string', multiple: true },
      vhost: { type: 'string', multiple: true },
      wait: { type: 'boolean', default: false },
    },
    usage,
  );
  const action = positionals[0];
  const flags = { source: '--cluster', destination: '--to', method: '--method', queues: '--queue', exchanges: '--exchange', vhosts: '--vhost' };
  const pair = { source: values.cluster, destination: values.to };
  const id = (what: string) => `replicate-${what}-${values.cluster}-${values.to}-${compactUtc(new Date())}`;
  const options = { wait: values.wait, json: values.json };
  if (action === 'start') {
    const { retry: _r, ...input } = checkInput(SetupReplicationInput, { ...pair, method: values.method, queues: values.queue, exchanges: values.exchange, vhosts: values.vhost }, flags);
    return runWorkflowCommand(ctx, { workflowType: ReplicationWorkflow.setup, workflowId: id('start'), input, cluster: input.source, component: 'replication' }, options, (r) => [
      r.created.length + r.updated.length === 0 ? `${r.method} replication ${r.source} -> ${r.destination}: already configured, nothing changed` : `${r.method} replication ${r.source} -> ${r.destination}: ${r.created.length} created, ${r.updated.length} updated, ${r.unchanged.length} unchanged`,
      ...r.declaredOnDestination.map((d) => `  declared on ${r.destination}: ${d}`),
      ...r.created.map((c) => `  created: ${c}`),
      ...r.updated.map((c) => `  updated: ${c}`),
    ]);
  }
  if (action === 'stop') {
    const { retry: _r, ...input } = checkInput(StopReplicationInput, pair, flags);
    return runWorkflowCommand(ctx, { workflowType: ReplicationWorkflow.stop, workflowId: id('stop'), input, cluster: input.source, component: 'replication' }, options, (r) => [
      r.removed.length ? `removed ${r.removed.length}:` : `nothing of rabbitvault's replicates ${r.source} to ${r.destination}`,
      ...r.removed.map((x) => `  ${x}`),
    ]);
  }
  if (action === 'status') {
    const { retry: _r, ...input } = checkInput(ReplicationStatusInput, pair, flags);
    return runWorkflowCommand(ctx, { workflowType: ReplicationWorkflow.status, workflowId: id('status'), input, cluster: input.source, component: 'replication' }, { ...options, wait: true }, (r) => [
      `replication ${r.source} -> ${r.destination}: ${r.links.length === 0 ? 'none configured' : r.up ? 'up' : 'DOWN'}`,
      ...r.unreachable.map((u) => `  unreachable: ${u}`),
      ...r.links.map((l) => `  ${l.kind} ${l.queue ?? l.exchange ?? l.name} (vhost ${l.vhost}): ${l.state}${l.lagMessages !== undefined ? `, lag ${l.lagMessages} message(s)` : ''}${l.reason ? `: ${l.reason}` : ''}`),
    ]);
  }
  throw new UsageError(usage);
}

const failoverUsage = 'usage: rabbitvault failover --cluster SOURCE --to DESTINATION [--drain-timeout SECONDS] [--wait] [--json]';

// The DR switch: drain, stop replication, report what the destination holds.
export async function failoverCommand(ctx: CliContext, argv: string[]): Promise<number> {
  const { values } = parseFlags(argv, { cluster: { type: 'string' }, to: { type: 'string' }, 'drain-timeout': { type: 'string' }, wait: { type: 'boolean', default: false } }, failoverUsage);
  const timeout = values['drain-timeout'];
  const { retry: _r, ...input } = checkInput(
    FailoverInput,
    { source: values.cluster, destination: values.to, drainTimeoutSeconds: timeout === undefined ? undefined : Number(timeout) },
    { source: '--cluster', destination: '--to', drainTimeoutSeconds: '--drain-timeout' },
  );
  return runWorkflowCommand(
    ctx,
    { workflowType: ReplicationWorkflow.failover, workflowId: `failover-${input.source}-${input.destination}-${compactUtc(new Date())}`, input, cluster: input.source, component: 'replication' },
    { wait: values.wait, json: values.json },
    (r) => [
      `failover ${r.source} -> ${r.destination}: ${r.drained ? 'drained' : r.lagAtStop === null ? `${r.source} did not answer: not drained` : `NOT drained: ${r.lagAtStop} message(s) left on ${r.source}`} after ${r.waitedSeconds.toFixed(1)} s; replication stopped (${r.removed.length} removed)`,
      ...(r.destinationUnreachable ? [`  ${r.destination} did not answer: ${r.destinationUnreachable}`] : []),
      ...r.notRemoved.map((n) => `  ${n}: run \`rabbitvault replicate stop\` once it is back`),
      ...r.destinationQueues.map((q) => `  ${r.destination}: queue "${q.queue}" (vhost ${q.vhost}): ${q.messages ?? 'missing'} message(s)`),
    ],
  );
}

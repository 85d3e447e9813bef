import { Context } from '@temporalio/activity';
import { rabbitNode, type NodeRef } from '../lib/nodeAccess/hosts';
import type { RabbitvaultConfig } from '../config/schema';
import type { RabbitNode } from '../lib/nodeAccess/rabbitNode';

// The node a step works on, its commands bound to the step's attempt: when
// the step is cancelled (the workflow's downtime limit, an operator) or the
// attempt's start-to-close timeout passes, the rabbitmqctl, du or rm it runs
// is stopped. Without this a timed-out attempt ran on beside its retry: on a
// loaded host each preflight starts several Erlang VMs, the pile grew with
// every retry and every later attempt timed out too (the crash suite saw 20
// attempts of a 12 s preflight all time out). The worker's own cancellation
// of a timed-out attempt comes about 5 s late, after the retry has started,
// so the deadline is kept here too (counted from now, the attempt's start or
// later: never before the server's timeout).
export function stepNode(config: RabbitvaultConfig, ref: NodeRef): RabbitNode {
  const context = Context.current();
  const timeoutMs = context.info.startToCloseTimeoutMs;
  const signal = timeoutMs > 0 ? AbortSignal.any([context.cancellationSignal, AbortSignal.timeout(timeoutMs)]) : context.cancellationSignal;
  return rabbitNode(config, ref.cluster, ref.node, signal);
}

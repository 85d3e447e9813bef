import { ApplicationFailure } from '@temporalio/common';
import { Readable } from 'node:stream';
import { FailureType } from '../../common/failures';
import { HostCommandFailed, type NodeHost } from './access';

export interface QueueFacts {
  vhost: string;
  name: string;
  type: string;
  messages: number;
}

export interface NodeFacts {
  nodeName: string;
  dataDirectory: string;
  rabbitmqVersion: string;
  erlangVersion: string;
  featureFlags: string[];
  queueTypes: string[];
  queues: QueueFacts[];
  dataBytes: number;
  // Every member of the node's cluster (itself included; just itself when not clustered), and those running.
  clusterNodes?: string[];
  runningNodes?: string[];
}

// How long a start waits for a new VM to answer at all (it then has await_startup's own 120 s to boot).
const VM_ANSWER_MS = 60_000;

// One RabbitMQ node, learned from the node itself (never hard-coded paths).
export class RabbitNode {
  constructor(
    readonly host: NodeHost,
    readonly nodeName: string,
    // The running step's cancellation: every command stops when it aborts.
    private readonly signal?: AbortSignal,
  ) {}

  // Every command of this node object stops when the step's signal aborts.
  private run(argv: string[], timeoutMs?: number): Promise<string> {
    return this.host.run(argv, { timeoutMs, signal: this.signal });
  }

  async ctl(args: string[], timeoutMs = 120_000): Promise<string> {
    return this.wrap(`rabbitmqctl ${args[0]}`, this.run([this.host.rabbitmqctl, '-n', this.nodeName, '-q', ...args], timeoutMs));
  }

  async diagnostics(args: string[], timeoutMs = 60_000): Promise<string> {
    return this.wrap(`rabbitmq-diagnostics ${args[0]}`, this.run([this.host.rabbitmqDiagnostics, '-n', this.nodeName, '-q', ...args], timeoutMs));
  }

  async facts(): Promise<NodeFacts> {
    const status = JSON.parse(await this.ctl(['status', '--formatter', 'json'])) as Record<string, unknown>;
    const nodeName = (await this.ctl(['eval', 'node().'])).trim().replace(/^'|'$/g, '');
    const dataDirectory = String(status.data_directory ?? '');
    if (!dataDirectory.startsWith('/')) throw this.failure(`rabbitmqctl status reported no data directory`, FailureType.NodeCommandFailed);
    const flags = JSON.parse(await this.ctl(['list_feature_flags', 'name', 'state', '--formatter', 'json'])) as Array<{ name: string; state: string }>;
    const queues = await this.settledQueues();
    const membership = await this.clusterMembership();
    return {
      nodeName,
      dataDirectory,
      rabbitmqVersion: String(status.rabbitmq_version ?? ''),
      erlangVersion: String(status.erlang_version ?? '').split(' [')[0] ?? '',
      featureFlags: flags.filter((f) => f.state === 'enabled').map((f) => f.name).sort(),
      queueTypes: [...new Set(queues.map((q) => q.type))].sort(),
      queues,
      dataBytes: await this.bytesUnder(dataDirectory),
      ...membership,
    };
  }

  // From cluster_status: a node not clustered lists only itself.
  async clusterMembership(): Promise<{ clusterNodes: string[]; runningNodes: string[] }> {
    const status = JSON.parse(await this.ctl(['cluster_status', '--formatter', 'json'])) as { disk_nodes?: unknown; ram_nodes?: unknown; running_nodes?: unknown };
    const names = (v: unknown) => (Array.isArray(v) ? v.filter((n): n is string => typeof n === 'string') : []);
    return { clusterNodes: [...new Set([...names(status.disk_nodes), ...names(status.ram_nodes)])].sort(), runningNodes: names(status.running_nodes).sort() };
  }

  // Quorum queue counts come from metrics refreshed every few seconds and read 0
  // just after a start: while a quorum queue reads 0, re-read until two readings agree.
  async settledQueues(): Promise<QueueFacts[]> {
    let queues = await this.queues();
    for (let i = 0; i < 4 && queues.some((q) => q.type === 'quorum' && q.messages === 0); i += 1) {
      await new Promise((r) => setTimeout(r, 6000));
      const again = await this.queues();
      if (JSON.stringify(again) === JSON.stringify(queues)) break;
      queues = again;
    }
    return queues;
  }

  async queues(): Promise<QueueFacts[]> {
    const vhosts = JSON.parse(await this.ctl(['list_vhosts', 'name', '--formatter', 'json'])) as Array<{ name: string }>;
    const all: QueueFacts[] = [];
    for (const { name: vhost } of vhosts) {
      const rows = JSON.parse(await this.ctl(['list_queues', '-p', vhost, 'name', 'type', 'messages', '--formatter', 'json'])) as Array<{
        name: string;
        type: string;
        messages: number | string;
      }>;
      for (const row of rows) all.push({ vhost, name: row.name, type: String(row.type), messages: Number(row.messages) || 0 });
    }
    return all.sort((a, b) => `${a.vhost}\0${a.name}`.localeCompare(`${b.vhost}\0${b.name}`));
  }

  // Each quorum queue's leader, members and the members online (list_queues, every vhost).
  async quorumReplicas(): Promise<Array<{ vhost: string; name: string; leader: string; members: string[]; online: string[] }>> {
    const vhosts = JSON.parse(await this.ctl(['list_vhosts', 'name', '--formatter', 'json'])) as Array<{ name: string }>;
    const all: Array<{ vhost: string; name: string; leader: string; members: string[]; online: string[] }> = [];
    const names = (v: unknown) => (Array.isArray(v) ? v.map(String) : []);
    for (const { name: vhost } of vhosts) {
      const rows = JSON.parse(await this.ctl(['list_queues', '-p', vhost, 'name', 'type', 'leader', 'members', 'online', '--formatter', 'json'])) as Array<Record<string, unknown>>;
      for (const row of rows) {
        if (String(row.type) !== 'quorum') continue;
        all.push({ vhost, name: String(row.name), leader: typeof row.leader === 'string' ? row.leader : '', members: names(row.members), online: names(row.online) });
      }
    }
    return all;
  }

  async bytesUnder(dir: string): Promise<number> {
    const out = await this.run(['du', '-sb', dir]).catch((error: unknown) => {
      throw this.failure(`cannot measure ${dir}: ${(error as Error).message}`, FailureType.NodeCommandFailed);
    });
    return Number(out.split(/\s/)[0]) || 0;
  }

  // True when the RabbitMQ application runs (not just the Erlang VM).
  appRunning(): Promise<boolean> {
    return this.diagnosticsPass(['check_running']);
  }

  vmRunning(): Promise<boolean> {
    return this.diagnosticsPass(['ping']);
  }

  private async diagnosticsPass(args: string[]): Promise<boolean> {
    try {
      await this.diagnostics(args, 30_000);
      return true;
    } catch (error) {
      refusedAccess(error);
      // A command stopped because the step was cancelled answers nothing about the node.
      if (this.signal?.aborted) throw error;
      return false;
    }
  }

  stopApp(): Promise<string> {
    return this.ctl(['stop_app'], 300_000);
  }

  // Stops the Erlang VM too (configuration files are read only when it starts); startApp starts it again.
  async stopVm(): Promise<void> {
    if (!(await this.vmRunning())) return;
    await this.ctl(['stop'], 300_000);
    for (let i = 0; i < 60 && (await this.vmRunning()); i += 1) await new Promise((r) => setTimeout(r, 1000));
    if (await this.vmRunning()) throw this.failure(`${this.nodeName} still answers 60 s after rabbitmqctl stop`, FailureType.NodeCommandFailed);
  }

  // start_app is a no-op on a running app, so this is idempotent; each CLI call costs a second or more of the stop window.
  async startApp(): Promise<void> {
    try {
      await this.ctl(['start_app'], 300_000);
    } catch (error) {
      if (await this.vmRunning()) throw error;
      // The VM itself is down (crash, host reboot): start it with the node's own environment.
      await this.wrap('rabbitmq-server -detached', this.host.run([this.host.rabbitmqServer, '-detached']));
    }
    await this.awaitStartup();
  }

  // A VM started by -detached registers its node name a moment after the
  // script returns, and seconds later on a loaded host: until then
  // await_startup fails as unreachable. The start that retried a killed
  // worker's lost an attempt to that in every local rerun, and in CI one ran
  // past its node start deadline. A VM that never answers (a bad rabbitmq.conf) fails here
  // after VM_ANSWER_MS; the step's own deadline bounds the whole start.
  private async awaitStartup(): Promise<void> {
    const deadline = Date.now() + VM_ANSWER_MS;
    for (;;) {
      try {
        await this.ctl(['await_startup', '--timeout', '120'], 150_000);
        return;
      } catch (error) {
        if (!(error instanceof ApplicationFailure && error.type === FailureType.NodeUnreachable) || Date.now() > deadline) throw error;
      }
      await new Promise((r) => setTimeout(r, 1000));
    }
  }

  // Every listener (AMQP included) accepts TCP connections again.
  async acceptsConnections(): Promise<void> {
    await this.diagnostics(['check_port_connectivity'], 60_000);
  }

  // A tar of dir's contents (paths relative to dir, sorted for stable restic chunking).
  tarOut(dir: string): Readable {
    return this.host.streamOut(['tar', '-C', dir, '--sort=name', '-cf', '-', '.']);
  }

  tarIn(dir: string, tar: Readable): Promise<void> {
    return this.wrap(`extracting into ${dir}`, this.host.streamIn(['tar', '-C', dir, '-xf', '-', '--no-same-owner', '--no-overwrite-dir'], Readable.from(paddedToRecord(tar))));
  }

  async exists(file: string): Promise<boolean> {
    try {
      await this.run(['test', '-e', file]);
      return true;
    } catch (error) {
      refusedAccess(error);
      // A command stopped because the step was cancelled answers nothing about the node.
      if (this.signal?.aborted) throw error;
      return false;
    }
  }

  async fs(argv: string[]): Promise<string> {
    return this.wrap(argv[0]!, this.run(argv));
  }

  private async wrap<T>(what: string, promise: Promise<T>): Promise<T> {
    try {
      return await promise;
    } catch (error) {
      if (!(error instanceof HostCommandFailed)) throw error;
      const down = /nodedown|unable to perform an operation on node|not running|unreachable|noconnection/i.test(error.output);
      throw this.failure(`${what} on ${this.nodeName} failed: ${error.message}`, down ? FailureType.NodeUnreachable : FailureType.NodeCommandFailed, error.notFound);
    }
  }

  failure(message: string, type: FailureType, nonRetryable = false): ApplicationFailure {
    return ApplicationFailure.create({ message, type, nonRetryable });
  }
}

// A node whose host the worker may not reach (pod exec refused: 401/403) is
// not a node that is down or a file that is missing: that failure goes on.
function refusedAccess(error: unknown): void {
  if (error instanceof ApplicationFailure && error.type === FailureType.AuthenticationFailed) throw error;
}

// GNU tar reads its input in 10 KiB records and waits for a record to fill
// before it looks at the end-of-archive blocks inside it: a tar that does not
// end on a record boundary (the guarded stream a restore sends is rebuilt
// entry by entry) is only finished when stdin closes. Zero padding to the
// boundary, as tar -c writes itself, lets it finish at the end marker, also
// where the end of stdin is not passed on (some exec implementations).
const TAR_RECORD = 10240;
async function* paddedToRecord(tar: Readable): AsyncGenerator<Buffer> {
  let bytes = 0;
  for await (const chunk of tar) {
    const data = typeof chunk === 'string' ? Buffer.from(chunk) : (chunk as Buffer);
    bytes += data.length;
    yield data;
  }
  if (bytes % TAR_RECORD !== 0) yield Buffer.alloc(TAR_RECORD - (bytes % TAR_RECORD));
}

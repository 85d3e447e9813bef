import type { Readable } from 'node:stream';

// How rabbitvault touches a node's host. Three primitives, so that a
// Kubernetes implementation (pod exec) can come later beside the local one:
// run a command, stream a command's output out (a file tree as tar), stream
// input into a command (a tar extracted on the host).
export interface NodeHost {
  // For messages: "local host of rabbit@host1".
  describe(): string;
  // Runs argv on the node's host with the node's environment; resolves stdout, rejects with HostCommandFailed.
  run(argv: string[], options?: RunOptions): Promise<string>;
  // argv's stdout as a stream; the stream errors if the command exits non-zero.
  streamOut(argv: string[]): Readable;
  // Feeds input to argv's stdin; resolves when the command exited 0.
  streamIn(argv: string[], input: Readable): Promise<void>;
  // Where a backup stages a copy of dataDirectory while the node runs (the
  // two-phase pre-copy), or null when this access cannot stage: staged copies
  // are made with the worker's own file-system calls, so only an access whose
  // files are the worker's files (local) can.
  stagingDirectory(dataDirectory: string): string | null;
  // Paths of the node's own CLI tools on that host.
  readonly rabbitmqctl: string;
  readonly rabbitmqDiagnostics: string;
  readonly rabbitmqServer: string;
}

export interface RunOptions {
  timeoutMs?: number;
  // Aborted when the step that runs the command is cancelled or its attempt
  // times out: the command is stopped, so a retry never runs beside the
  // attempt it replaces (a pile of rabbitmqctl VMs on a loaded host makes
  // every later attempt slower still).
  signal?: AbortSignal;
}

export class HostCommandFailed extends Error {
  constructor(
    readonly argv: string[],
    readonly exitCode: number | null,
    readonly output: string,
    readonly notFound = false,
  ) {
    super(`${argv.slice(0, 4).join(' ')}${argv.length > 4 ? ' …' : ''} ${notFound ? 'not found' : `exited ${exitCode ?? 'on a signal'}`}${output.trim() ? `: ${lastLines(output)}` : ''}`);
    this.name = 'HostCommandFailed';
  }
}

function lastLines(text: string): string {
  return text
    .trim()
    .split('\n')
    .map((l) => l.trim())
    .filter(Boolean)
    .slice(0, 4)
    .join(' | ')
    .slice(0, 600);
}

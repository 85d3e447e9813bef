import { execFile } from 'node:child_process';
import path from 'node:path';
import type { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import type { NodeAccess } from '../../config/nodeSchema';
import { processDuplex, processOutput, ProcessFailed } from '../archive/processStream';
import { HostCommandFailed, type NodeHost } from './access';

type LocalAccess = Extract<NodeAccess, { type: 'local' }>;

// The node runs on the worker's own host: commands are child processes with
// the node's environment (HOME holds the Erlang cookie).
export class LocalNodeHost implements NodeHost {
  readonly rabbitmqctl: string;
  readonly rabbitmqDiagnostics: string;
  readonly rabbitmqServer: string;
  private readonly env: NodeJS.ProcessEnv;

  constructor(
    readonly nodeName: string,
    access: LocalAccess,
  ) {
    this.rabbitmqctl = access.rabbitmqctl;
    this.rabbitmqDiagnostics = path.join(path.dirname(access.rabbitmqctl), 'rabbitmq-diagnostics');
    this.rabbitmqServer = access.rabbitmqServer;
    this.env = { ...process.env, ...access.env };
  }

  describe(): string {
    return `local host of ${this.nodeName}`;
  }

  run(argv: string[], options: { timeoutMs?: number } = {}): Promise<string> {
    return new Promise((resolve, reject) => {
      execFile(argv[0]!, argv.slice(1), { env: this.env, timeout: options.timeoutMs ?? 120_000, maxBuffer: 64 * 1024 * 1024 }, (error, stdout, stderr) => {
        if (!error) return resolve(stdout);
        const code = (error as NodeJS.ErrnoException).code;
        reject(new HostCommandFailed(argv, typeof code === 'number' ? code : null, `${stderr}\n${stdout}`, code === 'ENOENT'));
      });
    });
  }

  streamOut(argv: string[]): Readable {
    return processOutput(argv[0]!, argv.slice(1), { env: this.env });
  }

  async streamIn(argv: string[], input: Readable): Promise<void> {
    const child = processDuplex(argv[0]!, argv.slice(1), { env: this.env });
    try {
      await pipeline(input, child, async (source: AsyncIterable<Buffer>) => {
        for await (const _chunk of source) {
          // tar -x prints nothing on stdout; drain anyway.
        }
      });
    } catch (error) {
      if (error instanceof ProcessFailed) throw new HostCommandFailed(argv, error.exitCode, error.stderr);
      throw error;
    }
  }
}

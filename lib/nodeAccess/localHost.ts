import { execFile, spawn } from 'node:child_process';
import path from 'node:path';
import type { Readable } from 'node:stream';
import type { NodeAccess } from '../../config/nodeSchema';
import { processOutput } from '../archive/processStream';
import { HostCommandFailed, type NodeHost } from './access';

type LocalAccess = Extract<NodeAccess, { type: 'local' }>;

// The node runs on the worker's own host: commands are child processes with
// the node's environment (HOME holds the Erlang cookie).
export class LocalNodeHost implements NodeHost {
  readonly rabbitmqctl: string;
  readonly rabbitmqDiagnostics: string;
  readonly rabbitmqServer: string;
  private readonly env: NodeJS.ProcessEnv;
  private readonly staging: string | undefined;

  constructor(
    readonly nodeName: string,
    access: LocalAccess,
  ) {
    this.rabbitmqctl = access.rabbitmqctl;
    this.rabbitmqDiagnostics = path.join(path.dirname(access.rabbitmqctl), 'rabbitmq-diagnostics');
    this.rabbitmqServer = access.rabbitmqServer;
    this.env = { ...process.env, ...access.env };
    this.staging = access.stagingDirectory;
  }

  stagingDirectory(dataDirectory: string): string {
    return this.staging ?? `${dataDirectory.replace(/\/+$/, '')}.rabbitvault-staging`;
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

  // Feeds every byte of input, even after the command stopped reading (tar -x
  // stops at its end-of-archive marker): callers hash the whole input upstream.
  async streamIn(argv: string[], input: Readable): Promise<void> {
    const child = spawn(argv[0]!, argv.slice(1), { env: this.env, stdio: ['pipe', 'ignore', 'pipe'] });
    let stderr = '';
    child.stderr.on('data', (chunk: Buffer) => (stderr = (stderr + chunk.toString('utf8')).slice(-4000)));
    const exited = new Promise<number | null>((resolve) => {
      child.on('error', () => resolve(null));
      child.on('close', (code) => resolve(code));
    });
    let stdinOpen = true;
    child.stdin.on('error', () => (stdinOpen = false));
    child.stdin.on('close', () => (stdinOpen = false));
    try {
      for await (const chunk of input) {
        if (stdinOpen && !child.stdin.write(chunk)) {
          await new Promise<void>((resolve) => {
            const done = () => {
              child.stdin.off('drain', done).off('close', done);
              resolve();
            };
            child.stdin.on('drain', done).on('close', done);
          });
        }
      }
    } catch (error) {
      child.kill('SIGKILL');
      await exited;
      throw error;
    }
    child.stdin.end();
    const code = await exited;
    if (code !== 0) throw new HostCommandFailed(argv, code, stderr);
  }
}

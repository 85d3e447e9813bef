import { spawn } from 'node:child_process';
import path from 'node:path';
import type { Readable } from 'node:stream';
import type { NodeAccess } from '../../config/nodeSchema';
import { processOutput } from '../archive/processStream';
import { HostCommandFailed, type NodeHost, type RunOptions } from './access';

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

  // The command runs in a process group of its own: a timeout or a cancelled
  // step stops it and whatever it started (rabbitmqctl is a script that runs
  // an Erlang VM).
  run(argv: string[], options: RunOptions = {}): Promise<string> {
    const timeoutMs = options.timeoutMs ?? 120_000;
    return new Promise((resolve, reject) => {
      if (options.signal?.aborted) return reject(new HostCommandFailed(argv, null, 'not started: the step was cancelled'));
      const child = spawn(argv[0]!, argv.slice(1), { env: this.env, stdio: ['ignore', 'pipe', 'pipe'], detached: true });
      const out = { stdout: '', stderr: '', bytes: 0, stoppedBecause: '' };
      const stop = (why: string) => {
        out.stoppedBecause ||= why;
        try {
          if (child.pid) process.kill(-child.pid, 'SIGKILL');
        } catch {
          // Already gone.
        }
      };
      const collect = (stream: 'stdout' | 'stderr') => (text: string) => {
        out.bytes += Buffer.byteLength(text);
        // A command's answer, never bulk data (streamOut is for that).
        if (out.bytes > 64 * 1024 * 1024) return stop('stopped: output over 64 MiB');
        out[stream] += text;
      };
      // Decoded by the stream: a character split between two pipe reads (a
      // queue name in list_queues) is joined, not turned into U+FFFD.
      child.stdout.setEncoding('utf8').on('data', collect('stdout'));
      child.stderr.setEncoding('utf8').on('data', collect('stderr'));
      const cancelled = () => stop('stopped: the step was cancelled or its attempt timed out');
      const timer = setTimeout(() => stop(`stopped: no exit within ${Math.round(timeoutMs / 1000)} s`), timeoutMs);
      options.signal?.addEventListener('abort', cancelled, { once: true });
      const settle = (error: HostCommandFailed | undefined) => {
        clearTimeout(timer);
        options.signal?.removeEventListener('abort', cancelled);
        if (error) reject(error);
        else resolve(out.stdout);
      };
      child.once('error', (error: NodeJS.ErrnoException) => settle(new HostCommandFailed(argv, null, error.message, error.code === 'ENOENT')));
      child.once('close', (code) => {
        if (code === 0 && !out.stoppedBecause) return settle(undefined);
        settle(new HostCommandFailed(argv, code, `${out.stderr}\n${out.stdout}${out.stoppedBecause ? `\n${out.stoppedBecause}` : ''}`));
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

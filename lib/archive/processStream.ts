import { spawn } from 'node:child_process';
import { Duplex, PassThrough, type Readable, type Writable } from 'node:stream';

export class ProcessFailed extends Error {
  constructor(
    readonly command: string,
    readonly exitCode: number | null,
    readonly stderr: string,
  ) {
    super(`${command} exited ${exitCode ?? 'on a signal'}${stderr.trim() ? `: ${stderr.trim().split('\n').slice(-3).join(' | ')}` : ''}`);
    this.name = 'ProcessFailed';
  }
}

export interface ProcessOptions {
  env?: NodeJS.ProcessEnv;
  cwd?: string;
}

// A child process as a Duplex (stdin → stdout): its output ends only after the
// process exited 0, otherwise the stream errors with its stderr. Destroying the
// stream kills the process, so a failed pipeline never leaves it behind.
export function processDuplex(command: string, args: string[], options: ProcessOptions = {}): Duplex {
  const child = spawn(command, args, { env: options.env, cwd: options.cwd, stdio: ['pipe', 'pipe', 'pipe'] });
  const output = new PassThrough({ highWaterMark: 1024 * 1024 });
  let stderr = '';
  child.stderr.on('data', (chunk: Buffer) => (stderr = (stderr + chunk.toString('utf8')).slice(-4000)));
  child.stdout.pipe(output, { end: false });
  child.on('error', (error) => output.destroy(new ProcessFailed(command, null, error.message)));
  child.on('close', (code) => {
    if (code === 0) output.end();
    else output.destroy(new ProcessFailed(`${command} ${args.join(' ')}`.slice(0, 200), code, stderr));
  });
  // EPIPE on stdin is reported through the exit code instead.
  child.stdin.on('error', () => undefined);
  const duplex = Duplex.from({ writable: child.stdin as Writable, readable: output as Readable });
  duplex.on('close', () => {
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
  });
  return duplex;
}

// A child process's stdout as a Readable (no input).
export function processOutput(command: string, args: string[], options: ProcessOptions = {}): Readable {
  const duplex = processDuplex(command, args, options);
  duplex.end();
  return duplex;
}

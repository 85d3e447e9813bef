import { spawn } from 'node:child_process';
import path from 'node:path';

const cli = path.resolve(__dirname, '..', '..', 'cli', 'rabbitvault.sh');

export interface CliRun {
  code: number;
  stdout: string;
  stderr: string;
}

// The operator CLI as an operator runs it: its own process, from another cwd.
export function runCli(args: string[], cwd: string): Promise<CliRun> {
  return new Promise((resolve) => {
    const child = spawn(cli, args, { cwd, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (c: Buffer) => (stdout += c.toString()));
    child.stderr.on('data', (c: Buffer) => (stderr += c.toString()));
    child.on('exit', (code) => resolve({ code: code ?? 1, stdout, stderr }));
  });
}

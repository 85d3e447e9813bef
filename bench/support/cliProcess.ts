import { spawn } from 'node:child_process';
import path from 'node:path';

const CLI = path.resolve(__dirname, '../../cli/rabbitvault.sh');

export interface CliRun {
  stdout: string;
  stderr: string;
}

// The operator's path: a fresh CLI process per command; success means exit 0.
export function runCli(args: string[]): Promise<CliRun> {
  return new Promise((resolve, reject) => {
    const child = spawn(CLI, args, { stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (c: string) => (stdout += c));
    child.stderr.setEncoding('utf8').on('data', (c: string) => (stderr += c));
    child.on('error', reject);
    child.on('close', (code, signal) => {
      if (code === 0) resolve({ stdout, stderr });
      else reject(new Error(`rabbitvault ${args.join(' ')} exited ${code ?? signal}: ${(stderr || stdout).trim().slice(-2000)}`));
    });
  });
}

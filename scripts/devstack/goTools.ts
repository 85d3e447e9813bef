import { spawn } from 'node:child_process';
import { existsSync, mkdirSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { SetupError, step } from './progress';

export interface GoTool {
  name: string;
  module: string;
  version: string;
}

export const TEMPORAL_CLI: GoTool = { name: 'temporal', module: 'github.com/temporalio/cli/cmd/temporal', version: 'v1.5.1' };
export const MINIO: GoTool = { name: 'minio', module: 'github.com/minio/minio', version: 'v0.0.0-20260212201848-7aac2a2c5b7c' };

// Outside the clone and keyed by version, so fresh clones and CI reuse builds.
export function toolCacheDir(): string {
  return process.env.RABBITVAULT_TOOL_CACHE ?? path.join(os.homedir(), '.cache', 'rabbitvault', 'bin');
}

export function toolPath(tool: GoTool): string {
  return path.join(toolCacheDir(), `${tool.name}-${tool.version}`, tool.name);
}

export function findGo(): string {
  const candidates = [process.env.GO_BINARY, '/usr/local/go/bin/go', ...(process.env.PATH ?? '').split(':').map((d) => path.join(d, 'go'))];
  const found = candidates.find((c): c is string => !!c && existsSync(c));
  if (!found) throw new SetupError('Go is needed to build the Temporal CLI, MinIO and the Kubernetes API server for tests: install Go >= 1.24 (or set GO_BINARY)');
  return found;
}

// Returns the cached binary, building it with `go install` on first use.
export async function ensureGoTool(tool: GoTool): Promise<string> {
  const binary = toolPath(tool);
  if (existsSync(binary)) return binary;
  const dir = path.dirname(binary);
  mkdirSync(dir, { recursive: true });
  step(`building ${tool.name} ${tool.version} with go install (first run only; several minutes on 2 cores)`);
  const started = Date.now();
  await runGo(tool.name, ['install', '-v', `${tool.module}@${tool.version}`], { env: { GOBIN: dir, GOFLAGS: '-mod=mod' } });
  if (!existsSync(binary)) throw new SetupError(`go install ${tool.module}@${tool.version} wrote no ${binary}`);
  step(`built ${tool.name} in ${Math.round((Date.now() - started) / 1000)} s: ${binary}`);
  return binary;
}

// Runs the go command with the machine's own toolchain, printing how many
// packages it compiled every 20 s (a cold build takes minutes).
export function runGo(label: string, args: string[], options: { env?: NodeJS.ProcessEnv; cwd?: string } = {}): Promise<void> {
  const go = findGo();
  const started = Date.now();
  return new Promise<void>((resolve, reject) => {
    const child = spawn(go, args, { cwd: options.cwd, env: { ...process.env, GOTOOLCHAIN: 'local', ...options.env }, stdio: ['ignore', 'ignore', 'pipe'] });
    let packages = 0;
    let last = '';
    let tail = '';
    child.stderr.setEncoding('utf8');
    child.stderr.on('data', (chunk: string) => {
      tail = (tail + chunk).slice(-4000);
      for (const line of chunk.split('\n')) {
        if (line && !line.startsWith('go: ')) {
          packages += 1;
          last = line;
        }
      }
    });
    const ticker = setInterval(() => {
      step(`  ${label}: ${packages} packages compiled (${Math.round((Date.now() - started) / 1000)} s), last ${last}`);
    }, 20_000);
    child.on('error', (error) => {
      clearInterval(ticker);
      reject(new SetupError(`could not run ${go}: ${error.message}`));
    });
    child.on('exit', (code) => {
      clearInterval(ticker);
      if (code === 0) resolve();
      else reject(new SetupError(`go ${args.slice(0, 3).join(' ')} (${label}) failed (exit ${code}): ${tail.trim().split('\n').slice(-3).join(' | ')}`));
    });
  });
}

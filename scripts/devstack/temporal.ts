import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { existsSync, openSync, statSync } from 'node:fs';
import { promisify } from 'node:util';
import { searchAttributeNames } from '../../common/searchAttributes';
import { ensureGoTool, TEMPORAL_CLI } from './goTools';
import { assertPortFree, freePort, waitFor } from './ports';
import { logTail } from './logTail';
import { SetupError, step } from './progress';

const run = promisify(execFile);

export interface TemporalDevServerOptions {
  port: number;
  // Omit for a headless server (tests).
  uiPort?: number;
  // Omit to keep state in memory.
  dbFile?: string;
  logFile: string;
  // Namespaces to create (each with our search attributes). Default: ['default'].
  namespaces?: string[];
}

export interface RunningTemporal {
  address: string;
  uiUrl?: string;
  process: ChildProcess;
  stop(): Promise<void>;
}

export async function isTemporalHealthy(address: string): Promise<boolean> {
  const cli = await ensureGoTool(TEMPORAL_CLI);
  try {
    await run(cli, ['operator', 'cluster', 'health', '--address', address], { timeout: 5_000 });
    return true;
  } catch {
    return false;
  }
}

export async function startTemporalDevServer(options: TemporalDevServerOptions): Promise<RunningTemporal> {
  const cli = await ensureGoTool(TEMPORAL_CLI);
  const address = `127.0.0.1:${options.port}`;
  await assertPortFree(options.port, 'Temporal frontend', 'stop what listens there or choose another port');
  if (options.uiPort) await assertPortFree(options.uiPort, 'Temporal Web UI', 'stop what listens there or choose another port');
  const args = ['server', 'start-dev', '--ip', '127.0.0.1', '--port', String(options.port), '--log-level', 'warn'];
  for (const namespace of options.namespaces ?? ['default']) args.push('--namespace', namespace);
  // Its HTTP API and metrics would take fixed ports next to ours: give them free ones.
  args.push('--http-port', String(await freePort()), '--metrics-port', String(await freePort()));
  args.push(...(options.uiPort ? ['--ui-port', String(options.uiPort)] : ['--headless']));
  if (options.dbFile) args.push('--db-filename', options.dbFile);
  for (const name of searchAttributeNames) args.push('--search-attribute', `${name}=Keyword`);
  step(`starting Temporal dev server on ${address}${options.uiPort ? ` (Web UI http://127.0.0.1:${options.uiPort})` : ''}`);
  const logStart = existsSync(options.logFile) ? statSync(options.logFile).size : 0;
  const log = openSync(options.logFile, 'a');
  const child = spawn(cli, args, { stdio: ['ignore', log, log] });
  let exited = false;
  child.on('exit', () => {
    exited = true;
  });
  await waitFor(
    `Temporal dev server on ${address} (log: ${options.logFile})`,
    async () => {
      if (exited) throw new SetupError(`the Temporal dev server exited before it was ready: ${lastLogLine(options.logFile, logStart)} (log: ${options.logFile})`);
      return isTemporalHealthy(address);
    },
    90_000,
    500,
  );
  return {
    address,
    uiUrl: options.uiPort ? `http://127.0.0.1:${options.uiPort}` : undefined,
    process: child,
    stop: () => stopChild(child),
  };
}

// What the server said last in this run, so the one line names the cause
// (a port taken, a locked database file) without opening the log.
function lastLogLine(logFile: string, from: number): string {
  const line = logTail(logFile, 1, from)[0]?.trim() || 'it printed nothing';
  return line.length > 300 ? `${line.slice(0, 300)}…` : line;
}

export function stopChild(child: ChildProcess, graceMs = 10_000): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve();
  return new Promise((resolve) => {
    const timer = setTimeout(() => child.kill('SIGKILL'), graceMs);
    child.once('exit', () => {
      clearTimeout(timer);
      resolve();
    });
    child.kill('SIGTERM');
  });
}

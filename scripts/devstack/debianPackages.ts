import { spawn } from 'node:child_process';
import { accessSync, constants, statSync } from 'node:fs';
import path from 'node:path';
import { SetupError, step } from './progress';

// Root's tools live in sbin, which a non-login PATH may leave out.
const SYSTEM_DIRS = ['/usr/bin', '/usr/sbin'];

function isExecutableFile(candidate: string): boolean {
  try {
    accessSync(candidate, constants.X_OK);
    return statSync(candidate).isFile();
  } catch {
    return false;
  }
}

export function findBinary(binary: string): string | undefined {
  const dirs = [...(process.env.PATH ?? '').split(path.delimiter).filter(Boolean), ...SYSTEM_DIRS];
  return dirs.map((dir) => path.join(dir, binary)).find(isExecutableFile);
}

// Output goes to stderr, with the progress lines, so a command's stdout stays clean.
function runAptGet(args: string[]): Promise<void> {
  return new Promise((resolve, reject) => {
    const child = spawn('apt-get', ['-o', 'DPkg::Lock::Timeout=120', ...args], {
      env: { ...process.env, DEBIAN_FRONTEND: 'noninteractive' },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let tail = '';
    const relay = (chunk: Buffer) => {
      process.stderr.write(chunk);
      tail = (tail + chunk.toString('utf8')).slice(-2000);
    };
    child.stdout.on('data', relay);
    child.stderr.on('data', relay);
    child.on('error', (error) => reject(new Error(error.message)));
    child.on('exit', (code, signal) => {
      if (code === 0) return resolve();
      const lastLine = tail.trim().split('\n').filter(Boolean).pop() ?? '';
      reject(new Error(`apt-get ${args.join(' ')} exited ${code ?? signal}${lastLine ? `: ${lastLine.trim()}` : ''}`));
    });
  });
}

let packageListsUpdated: Promise<void> | undefined;
// One apt-get at a time: concurrent callers would fight over dpkg's lock.
let aptQueue: Promise<unknown> = Promise.resolve();

async function installPackage(pkg: string): Promise<void> {
  packageListsUpdated ??= runAptGet(['update', '-q']).catch((error: Error) => {
    // Stale lists may still hold the package: let the install decide.
    step(`apt-get update failed (${error.message}); trying the install anyway`);
  });
  await packageListsUpdated;
  await runAptGet(['install', '-y', '-q', pkg]);
}

// The binary's path; installs the Debian package that ships it when running as root.
export async function ensureDebianPackage(binary: string, pkg: string): Promise<string> {
  const found = findBinary(binary);
  if (found) return found;
  const hint = `${binary} is missing: install it with "apt-get install ${pkg}"`;
  if (process.getuid?.() !== 0) throw new SetupError(hint);

  step(`${binary} not found: installing Debian package ${pkg} with apt-get`);
  // Re-checked in the queue: an earlier caller may have installed it meanwhile.
  const install = aptQueue.then(() => (findBinary(binary) ? undefined : installPackage(pkg)));
  aptQueue = install.catch(() => undefined);
  try {
    await install;
  } catch (error) {
    throw new SetupError(`${hint} (${(error as Error).message})`);
  }
  const installed = findBinary(binary);
  if (!installed) throw new SetupError(`${hint} (package ${pkg} installed, but no ${binary} on PATH, /usr/bin or /usr/sbin)`);
  step(`installed ${pkg}: ${installed}`);
  return installed;
}

// A test run killed before its teardown (a CI timeout, kill -9, a closed
// terminal) leaves its stack behind: RabbitMQ nodes, MinIO, etcd and the API
// server keep their ports, memory and temporary directory. Each run writes its
// pid into its directory; the next run stops what a dead run left and removes
// its directory. A directory without that file, or whose run is alive, is
// never touched.
import { existsSync, readdirSync, readFileSync, readlinkSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { step } from './progress';

export const RUN_DIR_PREFIX = 'rabbitvault-test-';
const OWNER_FILE = 'owner.pid';

export function claimRunDir(runDir: string): void {
  writeFileSync(path.join(runDir, OWNER_FILE), `${process.pid}\n`);
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
}

// Processes whose command line, working directory or open files are under dir.
function processesUnder(dir: string): number[] {
  const inside = (p: string) => p === dir || p.startsWith(`${dir}/`);
  const found: number[] = [];
  for (const entry of readdirSync('/proc')) {
    const pid = Number(entry);
    if (!Number.isInteger(pid) || pid === process.pid) continue;
    try {
      const cmdline = readFileSync(`/proc/${pid}/cmdline`, 'utf8');
      if (cmdline.includes(dir) || inside(readlinkSync(`/proc/${pid}/cwd`))) {
        found.push(pid);
        continue;
      }
      if (readdirSync(`/proc/${pid}/fd`).some((fd) => inside(readlinkSyncSafe(`/proc/${pid}/fd/${fd}`)))) found.push(pid);
    } catch {
      // Gone meanwhile, or not ours to read.
    }
  }
  return found;
}

function readlinkSyncSafe(p: string): string {
  try {
    return readlinkSync(p);
  } catch {
    return '';
  }
}

export function sweepStaleTestRuns(tmp = os.tmpdir()): void {
  for (const name of readdirSync(tmp).filter((n) => n.startsWith(RUN_DIR_PREFIX))) {
    const dir = path.join(tmp, name);
    const ownerFile = path.join(dir, OWNER_FILE);
    if (!existsSync(ownerFile)) continue;
    const owner = Number(readFileSync(ownerFile, 'utf8').trim());
    if (!Number.isInteger(owner) || owner <= 0 || alive(owner)) continue;
    const pids = processesUnder(dir);
    for (const pid of pids) {
      try {
        process.kill(pid, 'SIGKILL');
      } catch {
        // Already gone.
      }
    }
    rmSync(dir, { recursive: true, force: true });
    step(`removed what an earlier test run (pid ${owner}, killed before its teardown) left: ${pids.length} process(es) and ${dir}`);
  }
}

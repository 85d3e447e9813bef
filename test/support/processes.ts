import { readFileSync } from 'node:fs';

// Running, not a zombie: a killed process's orphans may wait a moment to be reaped.
export function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return !readFileSync(`/proc/${pid}/stat`, 'utf8').includes(') Z ');
  } catch {
    return false;
  }
}

import { readFileSync } from 'node:fs';

// The last lines a server wrote to its log, for an error that must say why
// without a second look; from: the byte where this run's part of an appended
// log begins. Throws when the log cannot be read.
export function logTail(file: string, lines: number, from = 0): string[] {
  return readFileSync(file).subarray(from).toString('utf8').trimEnd().split('\n').slice(-lines);
}

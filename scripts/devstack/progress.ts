// One place for the dev stack's progress lines, so they read alike.
export function step(message: string): void {
  process.stderr.write(`[rabbitvault] ${message}\n`);
}

// The single clear line for something that cannot be had, then exit.
export class SetupError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'SetupError';
  }
}

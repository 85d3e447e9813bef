import { parseArgs, type ParseArgsConfig } from 'node:util';
import type { z } from 'zod';

export class UsageError extends Error {}

export const commonOptions = {
  config: { type: 'string' },
  json: { type: 'boolean', default: false },
  help: { type: 'boolean', short: 'h', default: false },
} as const satisfies ParseArgsConfig['options'];

export function parseFlags<O extends ParseArgsConfig['options']>(argv: string[], options: O, usage: string) {
  try {
    return parseArgs({ args: argv, options: { ...commonOptions, ...options }, allowPositionals: true, strict: true });
  } catch (error) {
    throw new UsageError(`${(error as Error).message}\n${usage}`);
  }
}

// Workflow input checked with the workflow's own schema before anything starts,
// with problems named by the flag an operator typed.
export function checkInput<S extends z.ZodType>(schema: S, input: unknown, flagNames: Record<string, string>): z.output<S> {
  const parsed = schema.safeParse(input);
  if (!parsed.success) {
    const problems = parsed.error.issues.map((i) => {
      const field = i.path.join('.');
      return `${flagNames[field] ?? field}: ${i.message}`;
    });
    throw new UsageError(problems.join('\n'));
  }
  return parsed.data;
}

import { readFileSync } from 'node:fs';
import { ApplicationFailure } from '@temporalio/common';
import { FailureType } from '../../common/failures';
import type { SecretRef } from '../../config/schema';

// Resolved inside activities only, so a secret never reaches workflow inputs,
// results or history. Errors name the reference and the config field, never the value.
export function resolveSecret(ref: SecretRef, field: string): string {
  const colon = ref.indexOf(':');
  const scheme = ref.slice(0, colon);
  const rest = ref.slice(colon + 1);
  if (scheme === 'value') return rest;
  if (scheme === 'env') {
    const value = process.env[rest];
    if (value === undefined) throw unresolved(`${field}: environment variable ${rest} is not set on the worker`);
    return value;
  }
  if (scheme === 'file') {
    try {
      return readFileSync(rest, 'utf8').replace(/\r?\n$/, '');
    } catch (error) {
      throw unresolved(`${field}: cannot read ${rest} (${(error as NodeJS.ErrnoException).code ?? 'error'})`);
    }
  }
  throw unresolved(`${field}: unknown secret reference scheme "${scheme}"`);
}

function unresolved(message: string): ApplicationFailure {
  return ApplicationFailure.create({ message, type: FailureType.SecretUnresolved, nonRetryable: true });
}

import { ApplicationFailure } from '@temporalio/common';
import type { z } from 'zod';
import { FailureType } from './failures';

// Everything read back from backup storage is untrusted: whoever can write the
// bucket can rewrite a manifest and its checksums. Each such read goes through
// a schema here and fails non-retryably, naming the set, the artifact and the
// reason, before anything on a broker or node changes.
export interface UntrustedSource {
  // The set (its id or its location) and the artifact inside it the value came from.
  set: string;
  artifact: string;
}

export function refuseUntrusted(source: UntrustedSource, reason: string, type: FailureType = FailureType.ManifestInvalid): ApplicationFailure {
  return ApplicationFailure.create({
    message: `backup set ${source.set}, ${source.artifact}: ${reason}; refused before anything was changed`,
    type,
    nonRetryable: true,
  });
}

export function parseUntrusted<S extends z.ZodType>(schema: S, value: unknown, source: UntrustedSource, type: FailureType = FailureType.ManifestInvalid): z.output<S> {
  const parsed = schema.safeParse(value);
  if (parsed.success) return parsed.data;
  const issues = parsed.error.issues.slice(0, 5).map((i) => `${i.path.length ? i.path.join('.') : '(root)'}: ${i.message}`);
  const more = parsed.error.issues.length > 5 ? ` (+${parsed.error.issues.length - 5} more)` : '';
  throw refuseUntrusted(source, `${issues.join('; ')}${more}`, type);
}

// JSON text of at most maxBytes, then the schema.
export function parseUntrustedJson<S extends z.ZodType>(schema: S, bytes: Buffer, maxBytes: number, source: UntrustedSource): z.output<S> {
  if (bytes.length > maxBytes) throw refuseUntrusted(source, `${bytes.length} bytes, more than the ${maxBytes} such a file may have`);
  let value: unknown;
  try {
    value = JSON.parse(bytes.toString('utf8'));
  } catch (error) {
    throw refuseUntrusted(source, `not valid JSON (${(error as Error).message.slice(0, 200)})`);
  }
  return parseUntrusted(schema, value, source);
}

// An artifact the manifest's details name must be one the set verification
// hashed (same name, and same size and checksum where the details record
// them): forged details must not steer a restore to a file nobody checked.
export function verifiedArtifactOrRefuse<A extends { name: string; size: number; sha256: string }>(
  manifest: { artifacts: A[] },
  named: { name: string; size?: number; sha256?: string },
  namedBy: string,
  details: UntrustedSource,
): A {
  const listed = manifest.artifacts.find((a) => a.name === named.name && (named.size === undefined || a.size === named.size) && (named.sha256 === undefined || a.sha256 === named.sha256));
  if (!listed) {
    throw refuseUntrusted(details, `${named.name}: named in the details but not an artifact of the manifest (${namedBy}), so not among the set's verified artifacts`);
  }
  return listed;
}

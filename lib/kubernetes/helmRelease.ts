import { gunzipSync } from 'node:zlib';
import { z } from 'zod';

// What `helm get values` and `helm list -o json` read: Helm 3 keeps each
// revision of a release in a Secret sh.helm.release.v1.<name>.v<revision>
// (labels owner=helm, name, version, status) whose data.release is
// base64(gzip(JSON)); Kubernetes base64-encodes Secret data once more.
const StoredRelease = z.object({
  name: z.string(),
  namespace: z.string(),
  version: z.number().int(),
  info: z.object({ status: z.string(), last_deployed: z.string().optional() }).passthrough(),
  chart: z.object({ metadata: z.object({ name: z.string(), version: z.string(), appVersion: z.string().optional() }).passthrough() }).passthrough(),
  // The user-supplied values (`helm get values`).
  config: z.record(z.string(), z.unknown()).nullable().optional(),
});

export interface HelmRelease {
  name: string;
  namespace: string;
  revision: number;
  status: string;
  updated: string | null;
  chart: string;
  chartName: string;
  chartVersion: string;
  appVersion: string | null;
  values: Record<string, unknown>;
}

export class HelmReleaseUnreadable extends Error {}

// A Secret holds at most 1 MiB (etcd's limit), so its base64 text cannot be longer
// than that encoded twice; anything longer is not a Secret the API served.
const MAX_SECRET_DATA_CHARS = 2 * 1024 * 1024;
// Real release JSON (chart templates included) is a few MiB at most: 16 MiB is
// ample, and a gzip bomb stops there instead of filling the worker's memory.
export const MAX_RELEASE_JSON_BYTES = 16 * 1024 * 1024;

// secretData: the Secret's data.release as the Kubernetes API returns it (base64).
export function decodeHelmRelease(secretName: string, secretData: string): HelmRelease {
  if (secretData.length > MAX_SECRET_DATA_CHARS) {
    throw new HelmReleaseUnreadable(`Secret ${secretName} holds ${secretData.length} characters of release data, more than a Secret can (${MAX_SECRET_DATA_CHARS}): not read`);
  }
  const helmEncoded = Buffer.from(secretData, 'base64').toString('utf8');
  let bytes: Buffer = Buffer.from(helmEncoded, 'base64');
  // Helm gzips the JSON (magic 1f 8b); very old releases stored it plain.
  if (bytes[0] === 0x1f && bytes[1] === 0x8b) bytes = gunzipBounded(secretName, bytes);
  let parsed: z.infer<typeof StoredRelease>;
  try {
    parsed = StoredRelease.parse(JSON.parse(bytes.toString('utf8')));
  } catch (error) {
    throw new HelmReleaseUnreadable(`Secret ${secretName} does not hold a Helm 3 release: ${(error as Error).message.slice(0, 200)}`);
  }
  const meta = parsed.chart.metadata;
  return {
    name: parsed.name,
    namespace: parsed.namespace,
    revision: parsed.version,
    status: parsed.info.status,
    updated: parsed.info.last_deployed ?? null,
    chart: `${meta.name}-${meta.version}`,
    chartName: meta.name,
    chartVersion: meta.version,
    appVersion: meta.appVersion ?? null,
    values: parsed.config ?? {},
  };
}

function gunzipBounded(secretName: string, gzipped: Buffer): Buffer {
  try {
    return gunzipSync(gzipped, { maxOutputLength: MAX_RELEASE_JSON_BYTES });
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    if (code === 'ERR_BUFFER_TOO_LARGE') {
      throw new HelmReleaseUnreadable(`Secret ${secretName} inflates to more than ${MAX_RELEASE_JSON_BYTES} bytes, more than any Helm release: refused as a decompression bomb`);
    }
    throw new HelmReleaseUnreadable(`Secret ${secretName} does not hold a Helm 3 release: its gzip data is damaged (${(error as Error).message.slice(0, 200)})`);
  }
}

// The highest revision among a release's Secrets (what `helm get values` shows).
export function newestRevision<T extends { metadata?: { name?: string; labels?: Record<string, string> } }>(secrets: T[]): T | undefined {
  const revision = (s: T) => Number(s.metadata?.labels?.version ?? /\.v(\d+)$/.exec(s.metadata?.name ?? '')?.[1] ?? 0);
  return [...secrets].sort((a, b) => revision(b) - revision(a))[0];
}

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

// secretData: the Secret's data.release as the Kubernetes API returns it (base64).
export function decodeHelmRelease(secretName: string, secretData: string): HelmRelease {
  const helmEncoded = Buffer.from(secretData, 'base64').toString('utf8');
  let bytes = Buffer.from(helmEncoded, 'base64');
  // Helm gzips the JSON (magic 1f 8b); very old releases stored it plain.
  if (bytes[0] === 0x1f && bytes[1] === 0x8b) bytes = gunzipSync(bytes);
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

// The highest revision among a release's Secrets (what `helm get values` shows).
export function newestRevision<T extends { metadata?: { name?: string; labels?: Record<string, string> } }>(secrets: T[]): T | undefined {
  const revision = (s: T) => Number(s.metadata?.labels?.version ?? /\.v(\d+)$/.exec(s.metadata?.name ?? '')?.[1] ?? 0);
  return [...secrets].sort((a, b) => revision(b) - revision(a))[0];
}

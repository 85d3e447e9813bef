import { compactUtc, Component, ResourceName, SetId } from './names';

// Every key of a storage target, in one place (as velero's object_store_layout.go):
//
//   <cluster>/<component>/<set id>/manifest.json   the set's manifest, written last: without it the set is incomplete
//   <cluster>/<component>/<set id>/<artifact>      the set's artifacts, named below per component
//   <cluster>/drills/<UTC>/report.json, report.md  restore drill reports
//   <cluster>/validations/<UTC>/report.json        validation reports
//   restic/                                        the target's restic repository (data-directory sets taken with restic)
//
// An off-site copy of a set has the same keys on the other target. Existing
// backups are found by these keys: they stay byte for byte
// (test/backupSetLayout.test.ts pins them). Workflow-safe: no Node imports.

export const MANIFEST_FILE = 'manifest.json';
// A detached OpenPGP signature of manifest.json, written just before it (targets with a signing key).
export const MANIFEST_SIGNATURE_FILE = 'manifest.json.sig';

export function setPrefix(cluster: string, component: Component, setId: string): string {
  return prefixOf(cluster, component, setId);
}

const prefixOf = (cluster: string, component: string, setId: string) => `${cluster}/${component}/${setId}`;

export function manifestKey(prefix: string): string {
  return artifactKey(prefix, MANIFEST_FILE);
}

export function manifestSignatureKey(prefix: string): string {
  return artifactKey(prefix, MANIFEST_SIGNATURE_FILE);
}

// A manifest's artifact names carry no slash (common/manifest.ts), so every key stays inside its set.
export function artifactKey(prefix: string, name: string): string {
  return `${prefix}/${name}`;
}

// Listing prefix of every object of one set.
export function setFolder(prefix: string): string {
  return `${prefix}/`;
}

// Listing prefix of the sets of a cluster, of one component of it, or of the whole target.
export function setsFolder(filter: { cluster?: string; component?: string } = {}): string {
  if (!filter.cluster) return '';
  return filter.component ? `${filter.cluster}/${filter.component}/` : `${filter.cluster}/`;
}

// What a listed key says about its set, as storage wrote it (untrusted, unchecked):
// undefined above the set folders. `inside`: the path below the set folder
// (empty for a file lying where set folders belong).
export interface SetKeyParts {
  cluster: string;
  component: string;
  setId: string;
  prefix: string;
  inside: string[];
}

export function setKeyParts(key: string): SetKeyParts | undefined {
  const [cluster, component, setId, ...inside] = key.split('/');
  if (cluster === undefined || component === undefined || setId === undefined) return undefined;
  return { cluster, component, setId, prefix: prefixOf(cluster, component, setId), inside };
}

export function isManifestKey(parts: SetKeyParts): boolean {
  return parts.inside.length === 1 && parts.inside[0] === MANIFEST_FILE;
}

// The keys an encrypting target seals: a set's artifacts, not its manifest (it
// names the keys a set needs, readable without them), its signature nor the empty ack marks.
export function isSealedArtifactKey(key: string): boolean {
  const parts = setKeyParts(key);
  if (!parts || parts.inside.length !== 1 || !isSetPrefix(parts.prefix)) return false;
  const name = parts.inside[0]!;
  return name !== MANIFEST_FILE && name !== MANIFEST_SIGNATURE_FILE && !Object.values(ACK_MARKS).some((mark) => name.endsWith(mark));
}

// Only <cluster name>/<component>/<set id> is a set prefix: anything else is never restored or deleted.
export function isSetPrefix(prefix: string): boolean {
  const parts = prefix.split('/');
  return parts.length === 3 && ResourceName.safeParse(parts[0]).success && Component.safeParse(parts[1]).success && SetId.safeParse(parts[2]).success;
}

// Artifact names, per component.

export const DEFINITIONS_ARTIFACT = 'definitions.json';
// Beside it when the source's HTTP export drops vhost metadata (RabbitMQ 3.x before rabbitmq-server #10515).
export const VHOSTS_ARTIFACT = 'vhosts.json';

// Messages: the queue index, and per queue its segments q<queue>-<segment>.rvseg.gz.
export const QUEUES_ARTIFACT = 'queues.json';
export const SEGMENT_EXTENSION = '.rvseg.gz';

export function segmentName(queueIndex: number, segmentIndex: number): string {
  return `${queueSegmentsStart(queueIndex)}${String(segmentIndex).padStart(6, '0')}${SEGMENT_EXTENSION}`;
}

const queueSegmentsStart = (queueIndex: number) => `q${String(queueIndex).padStart(4, '0')}-`;

// Listing prefix of one queue's segments.
export function queueSegmentsFolder(prefix: string, queueIndex: number): string {
  return artifactKey(prefix, queueSegmentsStart(queueIndex));
}

// The artifact name of a key listed below a set's prefix.
export function artifactNameOf(prefix: string, key: string): string {
  return key.slice(prefix.length + 1);
}

// Drain: empty objects beside a segment, written just before its ack is sent
// and once the broker has processed it.
export const ACK_MARKS = { sending: '.ack-sending', done: '.ack-done' } as const;

export function ackMarkKey(prefix: string, segment: string, phase: keyof typeof ACK_MARKS): string {
  return artifactKey(prefix, `${segment}${ACK_MARKS[phase]}`);
}

// Configuration: one artifact per node and file, <node><path with "/" as "--">.
export function nodeConfigurationArtifact(node: string, path: string): string {
  return `${node}${path.replace(/\//g, '--')}`;
}

// Configuration on Kubernetes: the objects as the API returned them.
export const KUBERNETES_ARTIFACTS = {
  configMap: 'configmap.json',
  secret: 'secret.json',
  helmValues: 'helm-values.yaml',
  chartInfo: 'chart-info.json',
} as const;

// The guide's extracted files: these ConfigMap keys are also stored on their own, under their key.
export const EXTRACTED_CONFIG_MAP_KEYS = ['rabbitmq.conf', 'enabled_plugins', 'advanced.config'] as const;

export function persistentVolumeClaimArtifact(claim: string): string {
  return `pvc-${claim}.json`;
}

// Data directory: one artifact per node, the archive (<node>.tar.zst) or, with
// restic, a pointer to the node's snapshot (<node>.restic.json).
export const ARCHIVE_EXTENSION = '.tar.zst';
export const RESTIC_POINTER_SUFFIX = '.restic.json';

export function dataDirectoryArtifact(node: string, method: 'archive' | 'restic'): string {
  return `${node}${method === 'archive' ? ARCHIVE_EXTENSION : RESTIC_POINTER_SUFFIX}`;
}

// The restic repository beside the sets: <target>/restic. Each node's tar is
// one file of its snapshot, named RESTIC_SNAPSHOT_FILE (the pointer's "file" is "/" and that name).
export const RESTIC_REPOSITORY_FOLDER = 'restic';
export const RESTIC_SNAPSHOT_FILE = 'data-directory.tar';

// A data-directory set's snapshots carry these tags: retention finds and forgets them by them.
export function resticSetTags(cluster: string, setId: string): string[] {
  return [`cluster=${cluster}`, `set=${setId}`];
}

// The cluster and set id a snapshot's tags name (either may be missing).
export function resticSetOfTags(tags: string[] | undefined): { cluster?: string; setId?: string } {
  const tag = (key: string) => tags?.find((t) => t.startsWith(`${key}=`))?.slice(key.length + 1);
  return { cluster: tag('cluster'), setId: tag('set') };
}

// Reports stored beside a cluster's sets (never sets: their folder is no component).
export const REPORT_FOLDERS = { validations: 'validations', drills: 'drills' } as const;
export type ReportKind = keyof typeof REPORT_FOLDERS;

// Listing prefix of a cluster's reports of one kind.
export function reportsFolder(cluster: string, kind: ReportKind): string {
  return `${cluster}/${REPORT_FOLDERS[kind]}/`;
}

// The folder of one report: <cluster>/<kind>/<UTC of the run>.
export function reportFolder(cluster: string, kind: ReportKind, at: Date): string {
  return `${reportsFolder(cluster, kind)}${compactUtc(at)}`;
}

export const REPORT_FILES = { json: 'report.json', markdown: 'report.md' } as const;

// The newest replication check of a pair, overwritten by each scheduled check
// (the history of checks is in Temporal): <source>/replication/<destination>.json.
export function replicationStatusKey(source: string, destination: string): string {
  return `${source}/replication/${destination}.json`;
}

export function reportKey(folder: string, file: string): string {
  return `${folder}/${file}`;
}

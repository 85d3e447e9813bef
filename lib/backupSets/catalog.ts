import { ApplicationFailure } from '@temporalio/common';
import { FailureType } from '../../common/failures';
import { isManifestKey, manifestKey, MANIFEST_FILE, setFolder, setKeyParts, setPrefix, setsFolder } from '../../common/backupSetLayout';
import { Manifest, MANIFEST_SCHEMA_VERSION } from '../../common/manifest';
import { Component, ResourceName, SetId } from '../../common/names';
import type { StorageBackend } from '../storage/backend';
import { readSmallObject } from './artifacts';

// Where a set lives and what its keys say, without reading its manifest.
export interface SetLocation {
  cluster: string;
  component: string;
  setId: string;
  prefix: string;
  // A manifest.json exists (listSets also checks that it parses).
  complete: boolean;
  bytes: number;
}

export interface CatalogEntry extends SetLocation {
  manifest?: Manifest;
  problem?: string;
}

// A folder under <cluster>/<component>/ whose name is not a set id (or a file
// lying there): never a set, never restored, never deleted by retention.
export interface NotASet {
  prefix: string;
  bytes: number;
  reason: string;
}

// Sets by their keys alone, newest first: one listing, no read per set.
export async function listSetLocations(backend: StorageBackend, filter: { cluster?: string; component?: Component } = {}): Promise<SetLocation[]> {
  return (await listSetFolders(backend, filter)).sets;
}

// Sets and what only looks like one. Folder names come from storage, so they
// are untrusted: only <cluster name>/<component>/<set id>/ is a set (a stray
// "zzzz" folder would otherwise sort newest and pass for the latest set).
export async function listSetFolders(
  backend: StorageBackend,
  filter: { cluster?: string; component?: Component } = {},
): Promise<{ sets: SetLocation[]; notSets: NotASet[] }> {
  const sets = new Map<string, SetLocation>();
  const notSets = new Map<string, NotASet>();
  for (const object of await backend.list(setsFolder(filter))) {
    const parts = setKeyParts(object.key);
    if (!parts) continue;
    const { cluster, component, setId, prefix: key } = parts;
    if (filter.component && component !== filter.component) continue;
    // Reports stored beside the sets (<cluster>/drills/, <cluster>/validations/) are not sets.
    if (!Component.safeParse(component).success) continue;
    const why = notASetReason(cluster, setId, parts.inside.length);
    if (why) {
      const stray = notSets.get(key) ?? { prefix: key, bytes: 0, reason: why };
      stray.bytes += object.size;
      notSets.set(key, stray);
      continue;
    }
    const entry = sets.get(key) ?? { cluster, component, setId, prefix: key, complete: false, bytes: 0 };
    entry.bytes += object.size;
    if (isManifestKey(parts)) entry.complete = true;
    sets.set(key, entry);
  }
  const newestFirst = [...sets.values()].sort((a, b) => (a.setId < b.setId ? 1 : a.setId > b.setId ? -1 : a.prefix.localeCompare(b.prefix)));
  return { sets: newestFirst, notSets: [...notSets.values()].sort((a, b) => a.prefix.localeCompare(b.prefix)) };
}

// inside: how deep below the set folder the object lies (0: a file in place of a set folder).
function notASetReason(cluster: string, name: string, inside: number): string | undefined {
  if (inside === 0) return 'a file where set folders belong';
  if (!ResourceName.safeParse(cluster).success) return 'the cluster folder is not a cluster name';
  if (!SetId.safeParse(name).success) return 'the folder name is not a set id (like 20261125T063000Z-3f9a1c2e)';
  return undefined;
}

// Every set under <cluster>/<component>/<setId>/, newest first. A set whose
// manifest is missing or unreadable is listed as incomplete, never restorable.
export async function listSets(backend: StorageBackend, filter: { cluster?: string; component?: Component } = {}): Promise<CatalogEntry[]> {
  const entries: CatalogEntry[] = await listSetLocations(backend, filter);
  for (const entry of entries.filter((e) => e.complete)) {
    try {
      entry.manifest = await readManifest(backend, entry.prefix);
    } catch (error) {
      entry.complete = false;
      entry.problem = (error as Error).message;
    }
  }
  return entries;
}

export async function readManifest(backend: StorageBackend, prefix: string): Promise<Manifest> {
  const key = manifestKey(prefix);
  const location = backend.locate(key);
  let raw: unknown;
  try {
    raw = JSON.parse((await readSmallObject(backend, key, 16 * 1024 * 1024)).toString('utf8'));
  } catch (error) {
    throw manifestInvalid(`${location}: not valid JSON (${(error as Error).message})`);
  }
  // Another format version is named as such, not as a list of fields that happen not to match.
  const version = raw !== null && typeof raw === 'object' ? (raw as { schemaVersion?: unknown }).schemaVersion : undefined;
  if (version !== undefined && version !== MANIFEST_SCHEMA_VERSION) {
    const newer = typeof version === 'number' && Number.isInteger(version) && version > MANIFEST_SCHEMA_VERSION;
    throw manifestInvalid(
      `${location}: schemaVersion ${JSON.stringify(version).slice(0, 40)} is not a manifest format this rabbitvault reads (it reads ${MANIFEST_SCHEMA_VERSION})${newer ? ': the set was written by a newer rabbitvault, restore it with that version' : ''}`,
    );
  }
  const parsed = Manifest.safeParse(raw);
  if (!parsed.success) {
    throw manifestInvalid(`${location}: ${parsed.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`).join('; ')}`);
  }
  return parsed.data;
}

function manifestInvalid(message: string): ApplicationFailure {
  return ApplicationFailure.create({ message, type: FailureType.ManifestInvalid, nonRetryable: true });
}

// "latest" means the newest complete set; an unknown id or an empty storage is a clear error.
export async function resolveSet(
  backend: StorageBackend,
  cluster: string,
  component: Component,
  ref: string,
): Promise<{ prefix: string; manifest: Manifest }> {
  if (ref === 'latest') {
    const newest = (await listSets(backend, { cluster, component })).find((e) => e.complete && e.manifest);
    if (!newest?.manifest) {
      throw notFound(`no complete ${component} backups of cluster "${cluster}" in ${backend.locate(setsFolder({ cluster, component }))}`);
    }
    return { prefix: newest.prefix, manifest: newest.manifest };
  }
  const prefix = setPrefix(cluster, component, ref);
  if (!(await backend.stat(manifestKey(prefix)))) {
    const anyObject = (await backend.list(setFolder(prefix))).length > 0;
    throw notFound(
      anyObject
        ? `backup set ${ref} of cluster "${cluster}" is incomplete (no ${MANIFEST_FILE}) at ${backend.locate(prefix)}: it cannot be restored`
        : `no ${component} backup set ${ref} of cluster "${cluster}" at ${backend.locate(prefix)}`,
    );
  }
  return { prefix, manifest: await readManifest(backend, prefix) };
}

function notFound(message: string): ApplicationFailure {
  return ApplicationFailure.create({ message, type: FailureType.BackupSetNotFound, nonRetryable: true });
}

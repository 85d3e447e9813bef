import { manifestKey, resticSetOfTags, setPrefix } from '../../common/backupSetLayout';
import { ResourceName, SetId } from '../../common/names';
import type { SetLocation } from '../backupSets/catalog';
import { resticRepository } from '../restic/repository';
import { Restic } from '../restic/restic';
import { storageTarget, type StorageDeps } from '../storage/openStorage';

// The storage target's restic repository, when it has one to clean (a restic password set and the repository created).
export async function resticOf(config: StorageDeps['config'], storage: string): Promise<Restic | undefined> {
  if (!storageTarget(config, storage).target.resticPassword) return undefined;
  const restic = new Restic(resticRepository(config, storage));
  return (await restic.exists()) ? restic : undefined;
}

// Snapshots of our data-directory backups (tags cluster=,set=) whose set has
// no object in storage: a backup that died after restic stored its snapshot and
// before it wrote the set. They join the plan as incomplete sets with nothing
// in storage, so the grace period applies and deleting one forgets its snapshots.
export async function resticOrphans(config: StorageDeps['config'], storage: string, sets: SetLocation[], wanted: (cluster: string, component: string) => boolean): Promise<SetLocation[]> {
  const restic = await resticOf(config, storage);
  if (!restic) return [];
  const known = new Set(sets.map((s) => s.prefix));
  const orphans: SetLocation[] = [];
  for (const snapshot of await restic.snapshots()) {
    const { cluster, setId } = resticSetOfTags(snapshot.tags);
    // Only what our own backups tag; anything else in the repository is not ours to judge.
    if (!cluster || !setId || !ResourceName.safeParse(cluster).success || !SetId.safeParse(setId).success || !wanted(cluster, 'data-directory')) continue;
    const prefix = setPrefix(cluster, 'data-directory', setId);
    if (known.has(prefix)) continue;
    known.add(prefix);
    orphans.push({ cluster, component: 'data-directory', setId, prefix, complete: false, bytes: 0 });
  }
  return orphans;
}

// An off-site copy of a restic set holds only its pointers, which name this
// target's repository: while any other target has the set's manifest, or
// cannot be asked, its snapshots stay (nothing restorable is lost).
export async function copiedElsewhere(deps: StorageDeps, storage: string, prefix: string): Promise<boolean> {
  for (const other of Object.keys(deps.config.storage.targets).filter((n) => n !== storage)) {
    try {
      if (await deps.openStorage(other).backend.stat(manifestKey(prefix))) return true;
    } catch {
      return true;
    }
  }
  return false;
}

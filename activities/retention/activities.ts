import { activityInfo, heartbeat } from '@temporalio/activity';
import { MANIFEST_FILE } from '../../common/manifest';
import { Component, ResourceName, SetId, setPrefix } from '../../common/names';
import { listSetLocations, readManifest, type SetLocation } from '../backupSets/catalog';
import { RESTIC_POINTER_SUFFIX, resticRepository } from '../restic/repository';
import { Restic } from '../restic/restic';
import type { StorageBackend } from '../storage/backend';
import { storageTarget } from '../storage/openStorage';
import type { ActivityDeps } from '../deps';
import { temporalClient } from '../schedules/temporalClient';
import { decideRetention, type Protection, type RetentionDecision } from './policy';
import { findRestoresInUse, type RestoreInUse } from './restoresInUse';

export interface PrunePlan {
  storage: string;
  location: string;
  decisions: RetentionDecision[];
}

export function createRetentionActivities(deps: ActivityDeps) {
  return {
    async listStorageTargets(): Promise<string[]> {
      return Object.keys(deps.config.storage.targets);
    },

    async findRestoresInUse(): Promise<RestoreInUse[]> {
      return findRestoresInUse(await temporalClient(deps.config), deps.config);
    },

    // Decisions for every set of one storage target, by each component's policy.
    async planPrune(input: { storage: string; clusters?: string[]; components?: string[]; inUse: RestoreInUse[]; now: string }): Promise<PrunePlan> {
      const { name, backend } = deps.openStorage(input.storage);
      const wanted = (cluster: string, component: string) => (!input.clusters || input.clusters.includes(cluster)) && (!input.components || input.components.includes(component));
      const sets = (await listSetLocations(backend)).filter((s) => wanted(s.cluster, s.component));
      const orphans = !input.components || input.components.includes('data-directory') ? await resticOrphans(deps, input.storage, sets, wanted) : [];
      sets.push(...orphans);
      const groups = new Map<string, typeof sets>();
      for (const s of sets) groups.set(`${s.cluster}/${s.component}`, [...(groups.get(`${s.cluster}/${s.component}`) ?? []), s]);
      const { retention } = deps.config;
      const decisions: RetentionDecision[] = [];
      for (const group of groups.values()) {
        const { cluster, component } = group[0]!;
        const users = input.inUse.filter((r) => r.cluster === cluster && (r.component === undefined || r.component === component));
        const protection: Protection = {
          sets: new Map(users.filter((r) => r.set !== 'latest').map((r) => [r.set, r.workflowId])),
          everything: users.find((r) => r.set === 'latest')?.workflowId,
        };
        const policy = { ...retention.default, ...retention.components[Component.parse(component)] };
        await confirmNewestComplete(backend, group);
        const candidates = group.map(({ cluster: c, component: k, setId, prefix, complete, bytes }) => ({ cluster: c, component: k, setId, prefix, complete, bytes }));
        decisions.push(...decideRetention(candidates, policy, new Date(input.now), retention.incompleteGraceHours, protection));
      }
      const orphanPrefixes = new Set(orphans.map((o) => o.prefix));
      for (const d of decisions) if (orphanPrefixes.has(d.prefix)) d.reason = `restic snapshot with no set in storage (its backup died before writing the set); ${d.reason}`;
      return { storage: name, location: backend.locate(''), decisions };
    },

    // The manifest goes first, so a half-deleted set is incomplete and never offered for restore.
    // A data-directory set taken with restic also has its snapshots in the
    // target's restic repository (tagged cluster=<cluster>,set=<set id>): they
    // are forgotten after the manifest is gone and before the set's other
    // objects, so a retry still finds the set; pruneResticRepository then frees their data.
    // resticSets: restic data-directory sets among them (snapshots found, or a pointer object left by an earlier attempt).
    // resticSetsKeptForCopies: sets whose snapshots stay because another storage target holds a copy of the set (its pointer names this repository).
    async deleteBackupSets(input: {
      storage: string;
      prefixes: string[];
    }): Promise<{ deleted: string[]; objects: number; resticSets: number; resticSnapshotsForgotten: number; resticSetsKeptForCopies: string[] }> {
      const { name, backend } = deps.openStorage(input.storage);
      const resticSetsKeptForCopies: string[] = [];
      const restic = await resticOf(deps, input.storage);
      // An earlier attempt's count comes back with its heartbeat.
      let resticSnapshotsForgotten = (activityInfo().heartbeatDetails as { resticSnapshotsForgotten?: number } | undefined)?.resticSnapshotsForgotten ?? 0;
      let resticSets = 0;
      // One listing per <cluster>/<component>/, not one per set: listings cost the whole folder.
      const byParent = new Map<string, string[]>();
      for (const prefix of input.prefixes) {
        const parent = prefix.slice(0, prefix.lastIndexOf('/') + 1);
        byParent.set(parent, [...(byParent.get(parent) ?? []), prefix]);
      }
      let objects = 0;
      const deleted: string[] = [];
      for (const [parent, prefixes] of byParent) {
        const keys = new Map<string, string[]>();
        for (const object of await backend.list(parent)) {
          const setPrefix = object.key.split('/').slice(0, 3).join('/');
          keys.set(setPrefix, [...(keys.get(setPrefix) ?? []), object.key]);
        }
        for (const prefix of prefixes) {
          if (deleted.length % 50 === 0) heartbeat({ prefix, setsDeleted: deleted.length, resticSnapshotsForgotten });
          const manifest = `${prefix}/${MANIFEST_FILE}`;
          await backend.delete(manifest);
          const [cluster, component, setId] = prefix.split('/');
          const setKeys = keys.get(prefix) ?? [];
          // Pointer objects (<node>.restic.json) go last: a retry after the forget still sees a restic set, and prunes.
          const pointers = setKeys.filter((key) => key.endsWith(RESTIC_POINTER_SUFFIX));
          if (restic && component === 'data-directory') {
            if (await copiedElsewhere(deps, name, prefix)) resticSetsKeptForCopies.push(prefix);
            else {
              const snapshots = await restic.snapshots({ tags: [`cluster=${cluster}`, `set=${setId}`] });
              await restic.forget(snapshots.map((snapshot) => snapshot.id));
              if (snapshots.length || pointers.length) resticSets += 1;
              resticSnapshotsForgotten += snapshots.length;
              if (snapshots.length) heartbeat({ prefix, setsDeleted: deleted.length, resticSnapshotsForgotten });
            }
          }
          for (const key of [...setKeys.filter((k) => !pointers.includes(k)), ...pointers]) {
            if (key !== manifest) await backend.delete(key);
            objects += 1;
          }
          deleted.push(prefix);
        }
      }
      return { deleted, objects, resticSets, resticSnapshotsForgotten, resticSetsKeptForCopies };
    },

    // `restic prune` after snapshots were forgotten: it can take long on a large
    // repository, so it heartbeats and has its own timeout.
    async pruneResticRepository(input: { storage: string; timeoutSeconds: number }): Promise<{ repository: string; seconds: number }> {
      const restic = await resticOf(deps, input.storage);
      if (!restic) return { repository: 'none', seconds: 0 };
      const started = Date.now();
      const beat = setInterval(() => heartbeat({ pruningSeconds: Math.round((Date.now() - started) / 1000) }), 5_000);
      try {
        await restic.prune(input.timeoutSeconds * 1000);
      } finally {
        clearInterval(beat);
      }
      return { repository: restic.repository.location, seconds: (Date.now() - started) / 1000 };
    },
  };
}

// Snapshots of our data-directory backups (tags cluster=,set=) whose set has
// no object in storage: a backup that died after restic stored its snapshot and
// before it wrote the set. They join the plan as incomplete sets with nothing
// in storage, so the grace period applies and deleting one forgets its snapshots.
async function resticOrphans(deps: ActivityDeps, storage: string, sets: SetLocation[], wanted: (cluster: string, component: string) => boolean): Promise<SetLocation[]> {
  const restic = await resticOf(deps, storage);
  if (!restic) return [];
  const known = new Set(sets.map((s) => s.prefix));
  const orphans: SetLocation[] = [];
  for (const snapshot of await restic.snapshots()) {
    const tag = (key: string) => snapshot.tags?.find((t) => t.startsWith(`${key}=`))?.slice(key.length + 1);
    const cluster = tag('cluster');
    const setId = tag('set');
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
async function copiedElsewhere(deps: ActivityDeps, storage: string, prefix: string): Promise<boolean> {
  for (const other of Object.keys(deps.config.storage.targets).filter((n) => n !== storage)) {
    try {
      if (await deps.openStorage(other).backend.stat(`${prefix}/${MANIFEST_FILE}`)) return true;
    } catch {
      return true;
    }
  }
  return false;
}

// The storage target's restic repository, when it has one to clean (a restic password set and the repository created).
async function resticOf(deps: ActivityDeps, storage: string): Promise<Restic | undefined> {
  if (!storageTarget(deps.config, storage).target.resticPassword) return undefined;
  const restic = new Restic(resticRepository(deps.config, storage));
  return (await restic.exists()) ? restic : undefined;
}

// The set kept as "newest complete" must really be restorable: newest first,
// a set whose manifest does not parse counts as incomplete.
async function confirmNewestComplete(backend: StorageBackend, group: SetLocation[]): Promise<void> {
  const complete = group.filter((s) => s.complete).sort((a, b) => (a.setId < b.setId ? 1 : -1));
  for (const s of complete) {
    try {
      await readManifest(backend, s.prefix);
      return;
    } catch {
      s.complete = false;
    }
  }
}

import { activityInfo, heartbeat } from '@temporalio/activity';
import { isSetPrefix, manifestKey, RESTIC_POINTER_SUFFIX, resticSetTags, setKeyParts, setsFolder } from '../../common/backupSetLayout';
import { Component } from '../../common/names';
import { listSetFolders, type NotASet } from '../../lib/backupSets/catalog';
import type { ActivityDeps } from '../deps';
import { temporalClient } from '../../lib/temporal/client';
import type { Protection, RetentionCandidate, RetentionDecision } from '../../lib/retention/policy';
import { verifyForRetention } from '../../lib/retention/restorable';
import { copiedElsewhere, resticOf, resticOrphans } from '../../lib/retention/resticSets';
import { decideVerified } from '../../lib/retention/verifiedPlan';
import { findRestoresInUse, RestoreWatch, type RestoreInUse } from '../../lib/retention/restoresInUse';
import { openVerificationCache } from '../../lib/retention/verificationCache';
import { deleteSetSnapshots, snapshotApis } from '../../lib/kubernetes/volumeSnapshots';
import { kubernetesAccess } from '../../lib/kubernetes/client';

export interface PrunePlan {
  storage: string;
  location: string;
  decisions: RetentionDecision[];
  // Folders under <cluster>/<component>/ that are not sets: never deleted, reported.
  notSets?: NotASet[];
  // Sets whose artifacts were read this time, and verdicts taken from the cache.
  setsVerified?: number;
  verdictsCached?: number;
}

// Right before each delete, running restores are asked again, at most once a second.
export const RESTORE_RECHECK_INTERVAL_MS = 1_000;

export interface RetentionOptions {
  // Where verification verdicts are cached (default: the worker's cache directory); null: memory only.
  cacheDir?: string | null;
  // Running restores (default: Temporal visibility through the worker's client).
  restoresInUse?: () => Promise<RestoreInUse[]>;
  restoreRecheckIntervalMs?: number;
}

export function createRetentionActivities(deps: ActivityDeps, options: RetentionOptions = {}) {
  const restoresInUse = options.restoresInUse ?? (async () => findRestoresInUse(await temporalClient(deps.config), deps.config));
  return {
    async listStorageTargets(): Promise<string[]> {
      return Object.keys(deps.config.storage.targets);
    },

    async findRestoresInUse(): Promise<RestoreInUse[]> {
      return restoresInUse();
    },

    // Decisions for every set of one storage target, by each component's policy.
    // Sets whose decision depends on it are verified first (newest first, verdicts cached).
    async planPrune(input: { storage: string; clusters?: string[]; components?: string[]; inUse: RestoreInUse[]; now: string }): Promise<PrunePlan> {
      const { name, backend } = deps.openStorage(input.storage);
      const now = new Date(input.now);
      const wanted = (cluster: string, component: string) => (!input.clusters || input.clusters.includes(cluster)) && (!input.components || input.components.includes(component));
      const folders = await listSetFolders(backend);
      const sets: RetentionCandidate[] = folders.sets.filter((s) => wanted(s.cluster, s.component));
      const notSets = folders.notSets.filter((n) => {
        const parts = setKeyParts(n.prefix);
        return parts !== undefined && wanted(parts.cluster, parts.component);
      });
      const orphans = !input.components || input.components.includes('data-directory') ? await resticOrphans(deps.config, input.storage, sets, wanted) : [];
      sets.push(...orphans);
      const groups = new Map<string, typeof sets>();
      for (const s of sets) groups.set(`${s.cluster}/${s.component}`, [...(groups.get(`${s.cluster}/${s.component}`) ?? []), s]);
      const { retention } = deps.config;
      const cache = openVerificationCache(deps.config, options.cacheDir);
      const decisions: RetentionDecision[] = [];
      let setsVerified = 0;
      let verdictsCached = 0;
      try {
        for (const group of groups.values()) {
          const { cluster, component } = group[0]!;
          const users = input.inUse.filter((r) => r.cluster === cluster && (r.component === undefined || r.component === component));
          const protection: Protection = {
            sets: new Map(users.filter((r) => r.set !== 'latest').map((r) => [r.set, r.workflowId])),
            everything: users.find((r) => r.set === 'latest')?.workflowId,
          };
          const policy = { ...retention.default, ...retention.components[Component.parse(component)] };
          const verify = async (set: RetentionCandidate, fresh: boolean) => {
            const verdict = await verifyForRetention(backend, name, set, cache, now, fresh, heartbeat);
            if (verdict.cached) verdictsCached += 1;
            else setsVerified += 1;
            return verdict;
          };
          decisions.push(...(await decideVerified(group, policy, now, retention.incompleteGraceHours, protection, verify)));
        }
      } finally {
        cache.save(now);
      }
      const orphanPrefixes = new Set(orphans.map((o) => o.prefix));
      for (const d of decisions) if (orphanPrefixes.has(d.prefix)) d.reason = `restic snapshot with no set in storage (its backup died before writing the set); ${d.reason}`;
      return { storage: name, location: backend.locate(''), decisions, notSets, setsVerified, verdictsCached };
    },

    // The manifest goes first, so a half-deleted set is incomplete and never offered for restore.
    // A data-directory set taken with restic also has its snapshots in the
    // target's restic repository (tagged cluster=<cluster>,set=<set id>): they
    // are forgotten after the manifest is gone and before the set's other
    // objects, so a retry still finds the set; pruneResticRepository then frees their data.
    // resticSets: restic data-directory sets among them (snapshots found, or a pointer object left by an earlier attempt).
    // resticSetsKeptForCopies: sets whose snapshots stay because another storage target holds a copy of the set (its pointer names this repository).
    // skippedInUse: sets a restore started reading after the plan (asked again right before each delete).
    // refused: prefixes that are not <cluster>/<component>/<set id> (never deleted).
    async deleteBackupSets(input: { storage: string; prefixes: string[] }): Promise<{
      deleted: string[];
      objects: number;
      resticSets: number;
      resticSnapshotsForgotten: number;
      resticSetsKeptForCopies: string[];
      skippedInUse?: Array<{ prefix: string; workflowId: string }>;
      refused?: string[];
      restoreChecks?: number;
      volumeSnapshotsDeleted?: number;
    }> {
      const { name, backend } = deps.openStorage(input.storage);
      const watch = new RestoreWatch(restoresInUse, options.restoreRecheckIntervalMs ?? RESTORE_RECHECK_INTERVAL_MS);
      const skippedInUse: Array<{ prefix: string; workflowId: string }> = [];
      const refused = input.prefixes.filter((prefix) => !isSetPrefix(prefix));
      const resticSetsKeptForCopies: string[] = [];
      const restic = await resticOf(deps.config, input.storage);
      // An earlier attempt's count comes back with its heartbeat.
      let resticSnapshotsForgotten = (activityInfo().heartbeatDetails as { resticSnapshotsForgotten?: number } | undefined)?.resticSnapshotsForgotten ?? 0;
      let resticSets = 0;
      let volumeSnapshotsDeleted = 0;
      // One listing per <cluster>/<component>/, not one per set: listings cost the whole folder.
      const byParent = new Map<string, string[]>();
      for (const prefix of input.prefixes.filter(isSetPrefix)) {
        const parent = setsFolder(setKeyParts(prefix));
        byParent.set(parent, [...(byParent.get(parent) ?? []), prefix]);
      }
      let objects = 0;
      const deleted: string[] = [];
      for (const [parent, prefixes] of byParent) {
        const keys = new Map<string, string[]>();
        for (const object of await backend.list(parent)) {
          const set = setKeyParts(object.key)?.prefix ?? object.key;
          keys.set(set, [...(keys.get(set) ?? []), object.key]);
        }
        for (const prefix of prefixes) {
          if (deleted.length % 50 === 0) heartbeat({ prefix, setsDeleted: deleted.length, resticSnapshotsForgotten });
          const reader = await watch.reading(prefix);
          if (reader) {
            skippedInUse.push({ prefix, workflowId: reader.workflowId });
            continue;
          }
          const manifest = manifestKey(prefix);
          const { cluster, component, setId } = setKeyParts(prefix)!;
          // A snapshot set's VolumeSnapshots go first (found by their labels): a failure leaves the set whole.
          if (component === 'volume-snapshot') volumeSnapshotsDeleted += (await deleteSetSnapshots(await snapshotApis(kubernetesAccess(deps.config, cluster)), cluster, setId)).length;
          await backend.delete(manifest);
          const setKeys = keys.get(prefix) ?? [];
          // Pointer objects (<node>.restic.json) go last: a retry after the forget still sees a restic set, and prunes.
          const pointers = setKeys.filter((key) => key.endsWith(RESTIC_POINTER_SUFFIX));
          if (restic && component === 'data-directory') {
            if (await copiedElsewhere(deps, name, prefix)) resticSetsKeptForCopies.push(prefix);
            else {
              const snapshots = await restic.snapshots({ tags: resticSetTags(cluster, setId) });
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
      return { deleted, objects, resticSets, resticSnapshotsForgotten, resticSetsKeptForCopies, skippedInUse, refused, restoreChecks: watch.queries, ...(volumeSnapshotsDeleted ? { volumeSnapshotsDeleted } : {}) };
    },

    // `restic prune` after snapshots were forgotten: it can take long on a large
    // repository, so it heartbeats and has its own timeout.
    async pruneResticRepository(input: { storage: string; timeoutSeconds: number }): Promise<{ repository: string; seconds: number }> {
      const restic = await resticOf(deps.config, input.storage);
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

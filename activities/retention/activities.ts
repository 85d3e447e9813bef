import { heartbeat } from '@temporalio/activity';
import { MANIFEST_FILE } from '../../common/manifest';
import { Component } from '../../common/names';
import { listSetLocations, readManifest, type SetLocation } from '../backupSets/catalog';
import type { StorageBackend } from '../storage/backend';
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
      const sets = (await listSetLocations(backend)).filter(
        (s) => (!input.clusters || input.clusters.includes(s.cluster)) && (!input.components || input.components.includes(s.component)),
      );
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
      return { storage: name, location: backend.locate(''), decisions };
    },

    // The manifest goes first, so a half-deleted set is incomplete and never offered for restore.
    async deleteBackupSets(input: { storage: string; prefixes: string[] }): Promise<{ deleted: string[]; objects: number }> {
      const { backend } = deps.openStorage(input.storage);
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
          if (deleted.length % 50 === 0) heartbeat({ prefix, setsDeleted: deleted.length });
          const manifest = `${prefix}/${MANIFEST_FILE}`;
          await backend.delete(manifest);
          for (const key of keys.get(prefix) ?? []) {
            if (key !== manifest) await backend.delete(key);
            objects += 1;
          }
          deleted.push(prefix);
        }
      }
      return { deleted, objects };
    },
  };
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

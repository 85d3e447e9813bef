import { heartbeat } from '@temporalio/activity';
import { MANIFEST_FILE } from '../../common/manifest';
import { Component } from '../../common/names';
import { listSets } from '../backupSets/catalog';
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
      const sets = (await listSets(backend)).filter(
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
        const candidates = group.map(({ cluster: c, component: k, setId, prefix, complete, bytes }) => ({ cluster: c, component: k, setId, prefix, complete, bytes }));
        decisions.push(...decideRetention(candidates, policy, new Date(input.now), retention.incompleteGraceHours, protection));
      }
      return { storage: name, location: backend.locate(''), decisions };
    },

    // The manifest goes first, so a half-deleted set is incomplete and never offered for restore.
    async deleteBackupSets(input: { storage: string; prefixes: string[] }): Promise<{ deleted: string[]; objects: number }> {
      const { backend } = deps.openStorage(input.storage);
      let objects = 0;
      const deleted: string[] = [];
      for (const prefix of input.prefixes) {
        heartbeat({ prefix, setsDeleted: deleted.length });
        await backend.delete(`${prefix}/${MANIFEST_FILE}`);
        for (const object of await backend.list(`${prefix}/`)) {
          await backend.delete(object.key);
          objects += 1;
        }
        deleted.push(prefix);
      }
      return { deleted, objects };
    },
  };
}

import { listSets } from '../../lib/backupSets/catalog';
import { storageOpener } from '../../lib/storage/openStorage';
import type { Component } from '../../common/names';
import type { CliContext } from '../context';

// `backups list --all-storage`: every set on every storage target, with where it lives (3-2-1 at a glance).
export async function listEverywhere(ctx: CliContext, filter: { cluster?: string; component?: Component; json: boolean }): Promise<number> {
  const open = storageOpener(ctx.config);
  const sets = new Map<string, { cluster: string; component: string; setId: string; complete: string[]; incomplete: string[]; bytes: number }>();
  for (const storage of Object.keys(ctx.config.storage.targets)) {
    for (const s of await listSets(open(storage).backend, { cluster: filter.cluster, component: filter.component })) {
      const row = sets.get(s.prefix) ?? { cluster: s.cluster, component: s.component, setId: s.setId, complete: [], incomplete: [], bytes: s.bytes };
      (s.complete ? row.complete : row.incomplete).push(storage);
      sets.set(s.prefix, row);
    }
  }
  const rows = [...sets.values()].sort((a, b) => (a.setId < b.setId ? 1 : a.setId > b.setId ? -1 : 0));
  if (filter.json) {
    ctx.out(JSON.stringify(rows.map((r) => ({ ...r, storages: r.complete })), null, 2));
    return 0;
  }
  ctx.out(`backups on every storage target (${Object.keys(ctx.config.storage.targets).join(', ')}), newest first:`);
  for (const r of rows) {
    const where = [...r.complete, ...r.incomplete.map((s) => `${s} (INCOMPLETE)`)].join(', ');
    ctx.out(`  ${r.cluster.padEnd(12)} ${r.component.padEnd(15)} ${r.setId}  ${r.bytes} bytes  on ${where}`);
  }
  return 0;
}

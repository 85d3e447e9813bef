import type { ComponentValidation, ValidationReport } from '../../contracts/validation';
import { REPORT_FILES, reportFolder, reportKey } from '../../common/backupSetLayout';
import { Component } from '../../common/names';
import { listSets } from '../../lib/backupSets/catalog';
import type { ActivityDeps } from '../deps';
import { componentWorkflow } from '../../lib/schedules/componentWorkflows';
import { thresholdsFor, validateNewestSet, type Thresholds } from '../../lib/validation/checks';
import type { Manifest } from '../../common/manifest';
import { recordedSnapshotProblems } from '../../lib/kubernetes/volumeSnapshots';

export interface ValidationEntry {
  cluster: string;
  component: Component;
  thresholds: Thresholds;
  restoreWorkflow?: string;
  restoreInput: Record<string, unknown>;
}

export function createValidationActivities(deps: ActivityDeps) {
  return {
    // What to validate: each cluster's components that have sets, a schedule or a backup workflow.
    async planValidation(input: { clusters?: string[]; components?: Component[]; storage?: string; restoreInto?: string | null }) {
      const { name, backend } = deps.openStorage(input.storage);
      const clusters = input.clusters ?? Object.keys(deps.config.clusters);
      const sets = await listSets(backend);
      const entries: ValidationEntry[] = [];
      for (const cluster of clusters) {
        const components =
          input.components ??
          Component.options.filter(
            (c) =>
              sets.some((s) => s.cluster === cluster && s.component === c) ||
              deps.config.schedules.backups[cluster]?.[c] !== undefined ||
              // Definitions are the guide's primary backup: every cluster is expected to have them.
              (c === 'definitions' && deps.config.clusters[cluster] !== undefined),
          );
        for (const component of components) {
          const wf = componentWorkflow(deps.config, component);
          entries.push({ cluster, component, thresholds: thresholdsFor(deps.config, component), restoreWorkflow: wf.restore, restoreInput: wf.restoreInput });
        }
      }
      const restoreInto = input.restoreInto === null ? null : (input.restoreInto ?? deps.config.validation.restoreInto ?? null);
      return { storage: name, restoreInto, entries };
    },

    async validateNewestSet(input: { storage: string; cluster: string; component: Component; thresholds: Thresholds; now: string }): Promise<ComponentValidation> {
      const { backend } = deps.openStorage(input.storage);
      const live = deps.config.clusters[input.cluster] ? () => deps.managementApi(input.cluster) : undefined;
      const snapshotProblems = input.component === 'volume-snapshot' ? (manifest: Manifest) => recordedSnapshotProblems(deps.config, manifest) : undefined;
      return validateNewestSet(backend, { ...input, now: new Date(input.now), liveApi: live, snapshotProblems });
    },

    // One report per cluster beside its backups: <cluster>/validations/<UTC>/report.json.
    async storeValidationReport(input: { storage: string; report: Omit<ValidationReport, 'reportLocations'> }): Promise<string[]> {
      const { backend } = deps.openStorage(input.storage);
      const locations: string[] = [];
      for (const cluster of [...new Set(input.report.results.map((r) => r.cluster))]) {
        const results = input.report.results.filter((r) => r.cluster === cluster);
        const body = { checkedAt: input.report.checkedAt, cluster, ok: results.every((r) => r.status === 'ok'), results };
        const key = reportKey(reportFolder(cluster, 'validations', new Date(input.report.checkedAt)), REPORT_FILES.json);
        await backend.put(key, Buffer.from(`${JSON.stringify(body, null, 2)}\n`), { contentType: 'application/json' });
        locations.push(backend.locate(key));
      }
      return locations;
    },
  };
}

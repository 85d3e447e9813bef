import { ApplicationFailure } from '@temporalio/common';
import { DRILLS_FOLDER, GUIDE_TARGETS, type DrillReport } from '../../common/automationInputs';
import { FailureType } from '../../common/failures';
import { compactUtc, Component } from '../../common/names';
import { listSets } from '../../lib/backupSets/catalog';
import { clusterConfig } from '../../lib/clusterConfig';
import type { ActivityDeps } from '../deps';
import { componentWorkflow } from '../../lib/schedules/componentWorkflows';
import { thresholdsFor } from '../validation/validation';
import { drillMarkdown } from '../../lib/drills/report';

export function createDrillActivities(deps: ActivityDeps) {
  return {
    async planDrill(input: { cluster: string; target?: string; components?: Component[]; storage?: string }) {
      clusterConfig(deps.config, input.cluster);
      const target = input.target ?? deps.config.drills?.targetCluster;
      if (!target || target === input.cluster) {
        throw ApplicationFailure.create({
          message: target ? `drill target "${target}" is the source cluster itself` : 'no drill target: set drills.targetCluster in the config or pass "target"',
          type: FailureType.InvalidInput,
          nonRetryable: true,
        });
      }
      clusterConfig(deps.config, target);
      const { name, backend } = deps.openStorage(input.storage);
      const sets = await listSets(backend, { cluster: input.cluster });
      const components = input.components ?? deps.config.drills?.components ?? Component.options.filter((c) => sets.some((s) => s.component === c && s.complete));
      return {
        storage: name,
        target,
        fullRtoTargetSeconds: GUIDE_TARGETS.full.rtoSeconds,
        components: components.map((component) => {
          const wf = componentWorkflow(deps.config, component);
          return {
            component,
            restoreWorkflow: wf.restore,
            restoreInput: wf.restoreInput,
            rtoTargetSeconds: GUIDE_TARGETS[component].rtoSeconds,
            rpoTargetSeconds: thresholdsFor(deps, component).rpoHours * 3600,
          };
        }),
      };
    },

    // report.json and report.md beside the backups: <cluster>/drills/<UTC>/.
    async storeDrillReport(input: { storage: string; report: DrillReport }): Promise<{ json: string; markdown: string }> {
      const { backend } = deps.openStorage(input.storage);
      const base = `${input.report.cluster}/${DRILLS_FOLDER}/${compactUtc(new Date(input.report.startedAt))}`;
      await backend.put(`${base}/report.json`, Buffer.from(`${JSON.stringify(input.report, null, 2)}\n`), { contentType: 'application/json' });
      await backend.put(`${base}/report.md`, Buffer.from(drillMarkdown(input.report)), { contentType: 'text/markdown' });
      return { json: backend.locate(`${base}/report.json`), markdown: backend.locate(`${base}/report.md`) };
    },
  };
}

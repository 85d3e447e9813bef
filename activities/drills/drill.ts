import { ApplicationFailure } from '@temporalio/common';
import { GUIDE_TARGETS } from '../../common/guideTargets';
import type { DrillReport } from '../../contracts/drills';
import { REPORT_FILES, reportFolder, reportKey } from '../../common/backupSetLayout';
import { FailureType } from '../../common/failures';
import { Component } from '../../common/names';
import { listSets } from '../../lib/backupSets/catalog';
import { clusterConfig } from '../../lib/clusterConfig';
import type { ActivityDeps } from '../deps';
import { componentWorkflow } from '../../lib/schedules/componentWorkflows';
import { thresholdsFor } from '../../lib/validation/checks';
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
            rpoTargetSeconds: thresholdsFor(deps.config, component).rpoHours * 3600,
          };
        }),
      };
    },

    // report.json and report.md beside the backups: <cluster>/drills/<UTC>/.
    async storeDrillReport(input: { storage: string; report: DrillReport }): Promise<{ json: string; markdown: string }> {
      const { backend } = deps.openStorage(input.storage);
      const folder = reportFolder(input.report.cluster, 'drills', new Date(input.report.startedAt));
      const json = reportKey(folder, REPORT_FILES.json);
      const markdown = reportKey(folder, REPORT_FILES.markdown);
      await backend.put(json, Buffer.from(`${JSON.stringify(input.report, null, 2)}\n`), { contentType: 'application/json' });
      await backend.put(markdown, Buffer.from(drillMarkdown(input.report)), { contentType: 'text/markdown' });
      return { json: backend.locate(json), markdown: backend.locate(markdown) };
    },
  };
}

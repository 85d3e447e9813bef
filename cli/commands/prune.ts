import { compactUtc } from '../../common/names';
import { PruneBackupsInput, RetentionWorkflow } from '../../contracts/retention';
import { checkInput, parseFlags } from '../args';
import type { CliContext } from '../context';
import { runWorkflowCommand } from '../runWorkflowCommand';

const usage = 'usage: rabbitvault prune [--storage NAME]... [--cluster NAME]... [--component KIND]... [--apply] [--wait] [--json]   (dry run unless --apply)';

export async function pruneCommand(ctx: CliContext, argv: string[]): Promise<number> {
  const { values } = parseFlags(
    argv,
    {
      storage: { type: 'string', multiple: true },
      cluster: { type: 'string', multiple: true },
      component: { type: 'string', multiple: true },
      apply: { type: 'boolean', default: false },
      wait: { type: 'boolean', default: false },
    },
    usage,
  );
  const input = checkInput(
    PruneBackupsInput,
    { storages: values.storage, clusters: values.cluster, components: values.component, dryRun: !values.apply },
    { storages: '--storage', clusters: '--cluster', components: '--component' },
  );
  const { retry: _retry, ...workflowInput } = input;
  return runWorkflowCommand(
    ctx,
    { workflowType: RetentionWorkflow.prune, workflowId: `prune-backups-${compactUtc(new Date())}`, input: workflowInput, cluster: 'all', component: 'retention' },
    // A dry run is only useful with its answer.
    { wait: values.wait || input.dryRun, json: values.json },
    (r) => [
      ...r.storages.flatMap((s) => [
        `storage ${s.storage} (${s.location}): ${s.deleted.length} ${r.dryRun ? 'would be deleted' : 'deleted'}, ${s.kept.length} kept`,
        ...(s.setsVerified !== undefined ? [`  verified ${s.setsVerified} sets (every artifact read), ${s.verdictsCached ?? 0} verdicts from the worker's cache`] : []),
        ...s.deleted.map((d) => `  ${r.dryRun ? 'would delete' : 'deleted'} ${d.prefix}  ${d.bytes} bytes  (${d.reason})`),
        ...s.kept.map((d) => `  keep ${d.prefix}  (${d.reason})`),
        ...(s.notSets ?? []).map((n) => `  not a set, left alone: ${n.prefix}  ${n.bytes} bytes  (${n.reason})`),
        ...(s.resticSnapshotsForgotten !== undefined ? [`  restic: ${s.resticSnapshotsForgotten} snapshots forgotten, repository pruned in ${(s.resticPruneSeconds ?? 0).toFixed(1)} s`] : []),
        ...(s.resticSetsKeptForCopies ?? []).map((prefix) => `  restic: the snapshots of ${prefix} stay: another storage target holds a copy of the set`),
      ]),
      `${r.dryRun ? 'dry run: nothing deleted; rerun with --apply' : 'done'}: ${r.deletedSets} sets, ${r.deletedBytes} bytes`,
    ],
  );
}

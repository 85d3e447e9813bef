import { listSets, resolveSet } from '../../lib/backupSets/catalog';
import { storageOpener } from '../../lib/storage/openStorage';
import { Component } from '../../common/names';
import { verifyBackupWorkflowId } from '../../common/workflowIds';
import { BackupSetsWorkflow, VerifyBackupInput } from '../../contracts/backupSets';
import { checkInput, parseFlags, UsageError } from '../args';
import type { CliContext } from '../context';
import { runWorkflowCommand } from '../runWorkflowCommand';
import { listEverywhere } from './backupsEverywhere';

const usage = [
  'usage: rabbitvault backups list [--cluster NAME] [--component KIND] [--storage NAME | --all-storage] [--json]',
  '       rabbitvault backups show SET_ID|latest --cluster NAME [--component KIND] [--storage NAME] [--json]',
  '       rabbitvault backups verify SET_ID|latest --cluster NAME [--component KIND] [--storage NAME] [--wait] [--json]',
].join('\n');

export async function backupsCommand(ctx: CliContext, argv: string[]): Promise<number> {
  const { values, positionals } = parseFlags(
    argv,
    { cluster: { type: 'string' }, component: { type: 'string' }, storage: { type: 'string' }, wait: { type: 'boolean', default: false }, 'all-storage': { type: 'boolean', default: false } },
    usage,
  );
  const [action, set] = positionals;
  const component = values.component === undefined ? undefined : Component.safeParse(values.component);
  if (component && !component.success) throw new UsageError(`--component: must be one of ${Component.options.join(', ')}`);
  const { name: storageName, backend } = storageOpener(ctx.config)(values.storage);

  if (action === 'list' && values['all-storage']) {
    return listEverywhere(ctx, { cluster: values.cluster, component: component?.data, json: values.json });
  }
  if (action === 'list') {
    const sets = await listSets(backend, { cluster: values.cluster, component: component?.data });
    if (values.json) {
      ctx.out(JSON.stringify(sets.map(({ manifest, ...s }) => ({ ...s, storage: storageName, location: backend.locate(s.prefix), finishedAt: manifest?.finishedAt })), null, 2));
      return 0;
    }
    if (sets.length === 0) {
      ctx.out(`no backups in ${backend.locate('')} (storage "${storageName}")`);
      return 0;
    }
    ctx.out(`backups in ${backend.locate('')} (storage "${storageName}"), newest first:`);
    for (const s of sets) {
      ctx.out(`  ${s.cluster.padEnd(12)} ${s.component.padEnd(15)} ${s.setId}  ${s.complete ? 'complete  ' : 'INCOMPLETE'}  ${s.bytes} bytes${s.problem ? `  (${s.problem})` : ''}`);
    }
    return 0;
  }
  if (action !== 'show' && action !== 'verify') throw new UsageError(usage);
  const input = checkInput(
    VerifyBackupInput,
    { cluster: values.cluster, component: values.component ?? 'definitions', set, storage: values.storage },
    { cluster: '--cluster', component: '--component', set: 'SET_ID', storage: '--storage' },
  );
  if (action === 'show') {
    const { prefix, manifest } = await resolveSet(backend, input.cluster, input.component, input.set);
    if (values.json) ctx.out(JSON.stringify({ location: backend.locate(prefix), manifest }, null, 2));
    else {
      ctx.out(`set ${manifest.setId} of ${manifest.cluster} (${manifest.component}) at ${backend.locate(prefix)}`);
      ctx.out(`  RabbitMQ ${manifest.rabbitmqVersion ?? 'unknown'}; ${manifest.startedAt} .. ${manifest.finishedAt}; rabbitvault ${manifest.toolVersion}`);
      ctx.out(`  workflow ${manifest.workflow.workflowId} run ${manifest.workflow.runId}`);
      for (const a of manifest.artifacts) ctx.out(`  ${a.name}  ${a.size} bytes  sha256 ${a.sha256}`);
      if (Object.keys(manifest.details).length > 0) ctx.out(`  details: ${JSON.stringify(manifest.details)}`);
    }
    return 0;
  }
  const { retry: _retry, ...workflowInput } = input;
  return runWorkflowCommand(
    ctx,
    {
      workflowType: BackupSetsWorkflow.verify,
      workflowId: verifyBackupWorkflowId(input.cluster, input.component, input.set, new Date()),
      input: workflowInput,
      cluster: input.cluster,
      component: input.component,
    },
    { wait: values.wait, json: values.json },
    (r) => [`verified set ${r.setId}: ${r.artifactsChecked} artifacts, ${r.bytesChecked} bytes, every checksum matches (${r.location})`],
  );
}

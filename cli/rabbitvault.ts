// The operator CLI. Every backup and restore runs as a Temporal workflow; this
// starts them, follows them (--wait) and reads the backup catalog.
import { runCompiledWorker } from './compiledWorker';
import { ConfigError, loadConfig } from '../config/load';
import { UsageError } from './args';
import { backupsCommand } from './commands/backups';
import { configCheckCommand } from './commands/config';
import { drillCommand } from './commands/drill';
import { offsiteCommand } from './commands/offsite';
import { pruneCommand } from './commands/prune';
import { failoverCommand, replicateCommand } from './commands/replicate';
import { schedulesCommand } from './commands/schedules';
import { statusCommand } from './commands/status';
import { validateCommand } from './commands/validate';
import { backupKinds, dispatchKind, restoreKinds } from './commands/kinds';
import type { CliContext } from './context';

const HELP = `rabbitvault: backup and disaster recovery for RabbitMQ on Temporal

usage: rabbitvault <command> [--config FILE] [--json]

  worker                                   run a worker (activities + workflows)
  worker --node-queue Q                    also serve node task queue Q (data-directory steps of a node on this host)
  backup data --cluster C [--method archive|restic] [--all-together] [--copy pre-copy|while-stopped] [--downtime-limit S]   back up nodes' data directories (pre-copy, then stop_app saga)
  restore data --cluster C --from SET_ID|latest [--method archive|restic]   full recovery from a data-directory set
  backup snapshot --cluster C [--consistent] [--ready-timeout S]   one CSI VolumeSnapshot per PVC of the StatefulSet (Option A); --consistent stops the apps until each is cut
  restore snapshot --cluster C --from SET_ID|latest [--ready-timeout S]   Recovery 4: the StatefulSet's PVCs created again from the set's VolumeSnapshots (old volumes kept, Retain)
  backup configuration --cluster C [--node N]...   back up the configuration: Kubernetes ConfigMap, Secret, PVCs, Helm values; nodes' rabbitmq.conf, enabled_plugins, ...
  restore configuration --cluster C --from SET_ID|latest [--dry-run] [--restart] [--node N]... [--no-kubernetes]   put it back (kept copies of what it replaces)
  backup definitions --cluster C           back up definitions (GET /api/definitions)
  restore definitions --cluster C --from SET_ID|latest [--source-cluster S] [--dry-run] [--on-conflict abort|keep-target] [--transform T]... [--target-version V]
  backup messages --cluster C [--queue Q|PATTERN]... [--vhost V]... [--mode copy|drain]   back up queue contents (copy is non-destructive)
  restore messages --cluster C --from SET_ID|latest [--queue Q]... [--to-queue Q] [--to-vhost V] [--via-original-exchange]
  status [--cluster C]                     one screen: newest sets against their RPO, failures, schedules, drills (exit 1 if unhealthy)
  backups list [--cluster C] [--component K]
  backups show SET_ID|latest --cluster C [--component K]
  backups verify SET_ID|latest --cluster C [--component K]
  config check                             validate the config file and print every problem
  schedules apply|list|pause|unpause|trigger [ID]   Temporal Schedules from the config
  prune [--storage S] [--apply]            retention (dry run unless --apply)
  validate [--cluster C] [--restore-into T]   the validation checklist on the newest sets
  drill --cluster C [--target T]           restore drill with RTO/RPO report
  offsite copy --cluster C [--set ID]      copy a set to the off-site target and verify it
  replicate start --cluster SRC --to DST [--method shovel|federation] [--queue Q]... [--exchange X]... [--vhost V]...   continuous replication (shovel on SRC, or federation on DST)
  replicate stop|status --cluster SRC --to DST   remove exactly what start created; each link's state and lag
  failover --cluster SRC --to DST [--drain-timeout S]   wait for in-flight messages, stop replication, report the destination

Workflow commands take --wait (follow to the end, exit 1 on failure) and print
the workflow id and its Web UI link. Config: --config, $RABBITVAULT_CONFIG,
./rabbitvault.yaml, else the embedded default (local RabbitMQ, ./backups).`;

function configFlag(argv: string[]): string | undefined {
  const i = argv.findIndex((a) => a === '--config' || a.startsWith('--config='));
  if (i < 0) return undefined;
  return argv[i]!.includes('=') ? argv[i]!.slice('--config='.length) : argv[i + 1];
}

export async function main(argv: string[], out = (l: string) => console.log(l), err = (l: string) => console.error(l)): Promise<number> {
  const [command, ...rest] = argv;
  if (!command || command === 'help' || command === '--help' || command === '-h') {
    out(HELP);
    return command ? 0 : 2;
  }
  try {
    if (command === 'config') return configCheckCommand({ out, err }, rest);
    // --node-queue Q (repeatable): also serve a node's task queue (data-directory steps of a node on this host).
    if (command === 'worker') return await runCompiledWorker(rest);
    const { config, source } = loadConfig(configFlag(rest));
    const ctx: CliContext = { config, configSource: source, out, err };
    if (command === 'backup') return await dispatchKind('backup', backupKinds, ctx, rest);
    if (command === 'restore') return await dispatchKind('restore', restoreKinds, ctx, rest);
    if (command === 'status') return await statusCommand(ctx, rest);
    if (command === 'backups') return await backupsCommand(ctx, rest);
    if (command === 'schedules') return await schedulesCommand(ctx, rest);
    if (command === 'prune') return await pruneCommand(ctx, rest);
    if (command === 'validate') return await validateCommand(ctx, rest);
    if (command === 'drill') return await drillCommand(ctx, rest);
    if (command === 'offsite') return await offsiteCommand(ctx, rest);
    if (command === 'replicate') return await replicateCommand(ctx, rest);
    if (command === 'failover') return await failoverCommand(ctx, rest);
    throw new UsageError(`unknown command "${command}"\n\n${HELP}`);
  } catch (error) {
    if (error instanceof UsageError) {
      err(error.message);
      return 2;
    }
    err(`rabbitvault: ${error instanceof ConfigError ? error.message : (error as Error).message}`);
    return 1;
  }
}

if (require.main === module) {
  main(process.argv.slice(2)).then(
    (code) => process.exit(code),
    (error: unknown) => {
      console.error(`rabbitvault: ${(error as Error).message}`);
      process.exit(1);
    },
  );
}

import { UsageError } from '../args';
import type { CliContext } from '../context';
import { backupConfigurationCommand } from './backupConfiguration';
import { backupDataCommand } from './backupData';
import { backupDefinitionsCommand } from './backupDefinitions';
import { backupMessagesCommand } from './backupMessages';
import { backupSnapshotCommand } from './backupSnapshot';
import { restoreConfigurationCommand } from './restoreConfiguration';
import { restoreDataCommand } from './restoreData';
import { restoreDefinitionsCommand } from './restoreDefinitions';
import { restoreMessagesCommand } from './restoreMessages';
import { restoreSnapshotCommand } from './restoreSnapshot';

type KindCommand = (ctx: CliContext, argv: string[]) => Promise<number>;

// `backup <kind>` and `restore <kind>`: one module per kind of backup.
export const backupKinds: Record<string, KindCommand> = {
  configuration: backupConfigurationCommand,
  data: backupDataCommand,
  definitions: backupDefinitionsCommand,
  messages: backupMessagesCommand,
  snapshot: backupSnapshotCommand,
};

export const restoreKinds: Record<string, KindCommand> = {
  configuration: restoreConfigurationCommand,
  data: restoreDataCommand,
  definitions: restoreDefinitionsCommand,
  messages: restoreMessagesCommand,
  snapshot: restoreSnapshotCommand,
};

export function dispatchKind(verb: 'backup' | 'restore', kinds: Record<string, KindCommand>, ctx: CliContext, argv: string[]): Promise<number> {
  const [kind, ...rest] = argv;
  const command = kind ? kinds[kind] : undefined;
  if (!kind || !command) {
    throw new UsageError(`usage: rabbitvault ${verb} <${Object.keys(kinds).join('|')}> ... (unknown kind "${kind ?? ''}")`);
  }
  return command(ctx, rest);
}

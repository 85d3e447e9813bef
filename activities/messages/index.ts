import type { ActivityDeps } from '../deps';
import { createMessageBackupActivities } from './messagesBackup';
import { createMessageRestoreActivities } from './messagesRestore';

export function createMessageActivities(deps: ActivityDeps) {
  return { ...createMessageBackupActivities(deps), ...createMessageRestoreActivities(deps) };
}

import type { ActivityDeps } from '../deps';
import { createMessageBackupActivities } from './backupActivities';
import { createMessageRestoreActivities } from './restoreActivities';

export function createMessageActivities(deps: ActivityDeps) {
  return { ...createMessageBackupActivities(deps), ...createMessageRestoreActivities(deps) };
}

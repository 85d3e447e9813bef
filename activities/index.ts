import { createBackupSetActivities } from './backupSets/activities';
import { createDefinitionsBackupActivities } from './definitions/backupActivities';
import { createDefinitionsRestoreActivities } from './definitions/restoreActivities';
import type { ActivityDeps } from './deps';
import { createMessageActivities } from './messages';

export function createActivities(deps: ActivityDeps) {
  return {
    ...createBackupSetActivities(deps),
    ...createDefinitionsBackupActivities(deps),
    ...createDefinitionsRestoreActivities(deps),
    ...createMessageActivities(deps),
  };
}

export type Activities = ReturnType<typeof createActivities>;
export { defaultDeps, type ActivityDeps } from './deps';

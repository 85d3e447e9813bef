import { createBackupSetActivities } from './backupSets/activities';
import { createConfigurationActivities } from './configuration/activities';
import { createDefinitionsBackupActivities } from './definitions/backupActivities';
import { createDefinitionsRestoreActivities } from './definitions/restoreActivities';
import type { ActivityDeps } from './deps';
import { createDrillActivities } from './drills/activities';
import { createOffsiteActivities } from './offsite/activities';
import { createRetentionActivities } from './retention/activities';
import { createValidationActivities } from './validation/activities';
import { createKubernetesConfigurationActivities } from './kubernetes/configurationActivities';
import { createMessageActivities } from './messages';
import { createNodeActivities } from './node/activities';

export function createActivities(deps: ActivityDeps) {
  return {
    ...createBackupSetActivities(deps),
    ...createDefinitionsBackupActivities(deps),
    ...createDefinitionsRestoreActivities(deps),
    ...createMessageActivities(deps),
    ...createRetentionActivities(deps),
    ...createOffsiteActivities(deps),
    ...createValidationActivities(deps),
    ...createDrillActivities(deps),
    ...createNodeActivities(deps),
    ...createConfigurationActivities(deps),
    ...createKubernetesConfigurationActivities(deps),
  };
}

export type Activities = ReturnType<typeof createActivities>;
export { defaultDeps, type ActivityDeps } from './deps';

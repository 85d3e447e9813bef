import { createBackupSetActivities } from './backupSets/backupSets';
import { createConfigurationActivities, createKubernetesConfigurationActivities } from './configuration';
import { createDefinitionsBackupActivities } from './definitions/definitionsBackup';
import { createDefinitionsRestoreActivities } from './definitions/definitionsRestore';
import type { ActivityDeps } from './deps';
import { createDrillActivities } from './drills/drill';
import { createOffsiteActivities } from './offsite/offsiteCopy';
import { createRetentionActivities } from './retention/retentionPrune';
import { createValidationActivities } from './validation/validation';
import { createMessageActivities } from './messages';
import { createNodeActivities } from './dataDirectory/index';

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

import type { ActivityDeps } from '../deps';
import { createDataDirectoryBackupActivities } from './dataDirectoryBackup';
import { createDataDirectoryRestoreActivities } from './dataDirectoryRestore';
import { createStagingActivities } from './dataDirectoryStaging';
import { createDataDirectoryVerifyActivities } from './dataDirectoryVerify';

// Data-directory activities. All but planDataDirectoryNodes run on the node's
// own task queue, served only by a worker on a host that reaches the node.
export function createNodeActivities(deps: ActivityDeps) {
  return {
    ...createDataDirectoryBackupActivities(deps),
    ...createDataDirectoryVerifyActivities(deps),
    ...createDataDirectoryRestoreActivities(deps),
    ...createStagingActivities(deps),
  };
}

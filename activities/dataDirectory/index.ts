import type { ActivityDeps } from '../deps';
import { createDataDirectoryBackupActivities } from './dataDirectoryBackup';
import { createDataDirectoryRestoreActivities } from './dataDirectoryRestore';
import { createStagingActivities } from './dataDirectoryStaging';

// Data-directory activities. All but planDataDirectoryNodes run on the node's
// own task queue, served only by a worker on a host that reaches the node.
export function createNodeActivities(deps: ActivityDeps) {
  return {
    ...createDataDirectoryBackupActivities(deps),
    ...createDataDirectoryRestoreActivities(deps),
    ...createStagingActivities(deps),
  };
}

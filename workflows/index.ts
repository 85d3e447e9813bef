export { backupDefinitions } from './backupDefinitions';
export { restoreDefinitions } from './restoreDefinitions';
export { verifyBackup } from './verifyBackup';
export { backupMessages } from './backupMessages';
export { restoreMessages } from './restoreMessages';

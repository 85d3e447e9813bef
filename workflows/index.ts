export { backupDefinitions } from './backupDefinitions';
export { restoreDefinitions } from './restoreDefinitions';
export { verifyBackup } from './verifyBackup';

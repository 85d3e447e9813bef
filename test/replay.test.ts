import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { describe, test } from 'node:test';
import { temporal } from '@temporalio/proto';
import { Worker } from '@temporalio/worker';
import { testStack } from './support/stack';

const dir = path.join(__dirname, 'histories');
const recorded = readdirSync(dir).filter((f) => f.endsWith('.json')).sort();

// Recorded histories of every workflow replay against today's workflow code:
// a change that would break running workflows fails here (guard it with patched()).
describe('workflow histories replay deterministically', () => {
  test('there are recorded histories for every workflow', () => {
    const types = new Set(recorded.map((f) => JSON.parse(readFileSync(path.join(dir, f), 'utf8')).events[0].workflowExecutionStartedEventAttributes.workflowType.name));
    assert.deepEqual([...types].sort(), ['backupConfiguration', 'backupDataDirectory', 'backupDefinitions', 'backupMessages', 'copyBackupOffsite', 'dataDirectoryLock', 'pruneBackups', 'restoreConfiguration', 'restoreDataDirectory', 'restoreDefinitions', 'restoreDrill', 'restoreMessages', 'scheduledBackup', 'validateBackups', 'verifyBackup', 'backupVolumeSnapshot', 'restoreVolumeSnapshot'].sort());
  });

  for (const file of recorded) {
    test(file, async () => {
      const history = temporal.api.history.v1.History.fromObject(JSON.parse(readFileSync(path.join(dir, file), 'utf8')));
      await Worker.runReplayHistory({ workflowBundle: { codePath: testStack().workflowBundlePath } }, history, file);
    });
  }
});

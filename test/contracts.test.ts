import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { describeIssues } from '../common/describeIssues';
import { WORKFLOW_NAMES } from '../contracts';
import { BackupDefinitionsInput, RestoreDefinitionsInput } from '../contracts/definitions';
import { RestoreDrillInput } from '../contracts/drills';
import * as workflows from '../workflows';

// No stack needed: the contracts are plain schemas and a table of names.
describe('workflow contracts', () => {
  test('an input schema refuses a misspelled or out-of-range field, naming it', () => {
    const misspelled = BackupDefinitionsInput.safeParse({ cluster: 'prod', storge: 's3' });
    assert.equal(misspelled.success, false);
    assert.match(describeIssues(misspelled.error!), /storge/);
    const outOfRange = BackupDefinitionsInput.safeParse({ cluster: 'prod', retry: { maximumAttempts: 0 } });
    assert.equal(outOfRange.success, false);
    assert.match(describeIssues(outOfRange.error!), /^retry\.maximumAttempts: /);
    const drill = RestoreDrillInput.safeParse({ cluster: 'prod', target: 'prod' });
    assert.equal(drill.success, false);
    assert.equal(describeIssues(drill.error!), 'target: must differ from cluster');
  });

  test('absent fields take their defaults', () => {
    assert.deepEqual(RestoreDefinitionsInput.parse({ cluster: 'prod', from: 'latest' }), {
      cluster: 'prod',
      from: 'latest',
      dryRun: false,
      onConflict: 'abort',
      transforms: [],
      retry: { initialIntervalSeconds: 2, maximumIntervalSeconds: 60, maximumAttempts: 8, attemptTimeoutSeconds: 600 },
    });
  });

  test('the start table names exactly the workflows the worker registers', () => {
    assert.equal(new Set(WORKFLOW_NAMES).size, WORKFLOW_NAMES.length);
    assert.deepEqual([...WORKFLOW_NAMES].sort(), Object.keys(workflows).sort());
  });
});
